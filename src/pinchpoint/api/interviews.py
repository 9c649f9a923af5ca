"""Interview sessions over REST (``/api/v1/interviews``): start, current question, answer, back, result.

A thin translator over :class:`~pinchpoint.service.sessions.InterviewService`, which loads, checks,
answers and saves the session in an :class:`~pinchpoint.service.store.InterviewStore`, so any number
of server processes can serve one session: the web app passes its SQL store (the web pages and this
API then share the sessions), :func:`pinchpoint.api.app.create_api_app` a
:class:`~pinchpoint.service.store.MemoryInterviewStore`. JSON values are read by
:mod:`pinchpoint.service.values` (``3.0`` is the whole number 3).

Operations (every body uses the vocabulary's and the question bank's ids):

* ``POST /interviews`` ``{"mode": "self_check" | "clinician", "intake": {"age": 44, ...}}`` -> 201
  and the session view: its id, whether it is finished, the question to answer now (wording for
  the mode, kind, options or cells, range) and the progress. With ``"story": "..."`` (the person's
  own words) the interview starts story first: what the story states answers its questions, a red
  flag it states or denies is asked by its question (never taken as "no"), and the view's ``story``
  says what was answered, what is still asked and, if the red flags it states make it an
  emergency, what to do now.
* ``GET /interviews/{id}``: the session view.
* ``POST /interviews/{id}/answers`` ``{"question": id, "value": ...}``: answer the current
  question; ``null`` is "don't know" (for a form or grid, a finding left out or ``null`` is not known).
* ``POST /interviews/{id}/back``: take the last answer back.
* ``GET /interviews/{id}/result``: the assessment (the contract JSON with investigations and plan),
  once the interview is finished.

Errors are RFC 9457 problems naming the request field: a value of the wrong type or range, or an
unknown question id, is 422 (``field`` ``value``, ``value.<finding>`` or ``question``); an unknown
session is 404 (``field`` ``interview_id``); an answer to a question that exists but is not the
one asked now is **409 Conflict**, because the request itself is well formed and would be right in
another state of the session (a stale page or a repeated submit), and the problem names the question
asked now; asking for the result of an unfinished interview is 409 too, because a result before the
red-flag screen has been answered could understate the urgency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from pinchpoint.api.text import TEXT_PATTERN
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Mode, Question
from pinchpoint.errors import InvalidAnswerError, InvalidTextError
from pinchpoint.io.freetext import MAX_TEXT_CHARS, TextReading, emergency_in_text, is_warning_sign
from pinchpoint.service.contract import AssessmentContract, to_contract
from pinchpoint.service.sessions import InterviewService, Session, interview_lock
from pinchpoint.service.store import InterviewStore
from pinchpoint.service.values import json_answer, json_intake

__all__ = ["StoreFor", "add_interview_routes", "interview_view", "story_view"]

StoreFor = Callable[[Request], InterviewStore]
"""Returns where a request's sessions are kept: the web app's store as the request's user sees it
(another user's session is then unknown, 404), or one store for every request (the API alone)."""

_SESSION_ID = r"^[0-9a-f]{32}$"


@contextmanager
def _locked(session_id: str) -> Iterator[None]:
    lock = interview_lock(session_id)  # a strong reference while held, so the entry stays
    with lock:
        yield


# --- request and response models -------------------------------------------------------------------


def intake_schema(knowledge: Knowledge) -> dict[str, Any]:
    """Return the JSON Schema of the intake answers: each intake question's finding values, or null.

    The OpenAPI document then says exactly what :meth:`Interview.start` accepts.
    """
    vocabulary = knowledge.vocabulary
    bank = knowledge.questions
    properties: dict[str, Any] = {}
    for question_id in bank.intake:
        question = bank[question_id]
        spec = vocabulary.findings[question.finding]
        schema: dict[str, Any]
        if spec.type == "bool":
            schema = {"type": ["boolean", "null"]}
        elif spec.type == "enum":
            schema = {"enum": [*spec.values, None]}
        elif spec.type == "regions":
            items = {"type": "string", "enum": sorted(vocabulary.region_ids)}
            schema = {"type": ["array", "null"], "items": items, "uniqueItems": True}
        else:
            low = question.minimum if question.minimum is not None else spec.minimum
            high = question.maximum if question.maximum is not None else spec.maximum
            schema = {"type": ["integer" if spec.type == "int" else "number", "null"]}
            if low is not None:
                schema["minimum"] = int(low) if spec.type == "int" else low
            if high is not None:
                schema["maximum"] = int(high) if spec.type == "int" else high
        properties[question_id] = {**schema, "description": question.wording.clinician}
    return {"type": ["object", "null"], "properties": properties, "additionalProperties": False}


def _start_model(knowledge: Knowledge) -> type[BaseModel]:
    intake = Annotated[dict[str, Any] | None, WithJsonSchema(intake_schema(knowledge))]
    return create_model(
        "StartIn",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [{"mode": "self_check", "intake": {"age": 44, "sex": "male", "pain_regions": []}}]
            },
        ),
        __doc__="Start an interview: who answers, and the intake answers already known (null: don't know).",
        mode=(Mode, "self_check"),
        intake=(intake, None),
        story=(
            str | None,
            Field(
                None,
                min_length=1,
                max_length=MAX_TEXT_CHARS,
                json_schema_extra={"pattern": TEXT_PATTERN},  # what read_text reads (POST /api/v1/text)
                description="The person's own description: what it states "
                "answers its questions, a red flag it states is confirmed by its question, and one it "
                "denies or doubts is still asked",
            ),
        ),
        accepted=(
            list[Annotated[int, Field(ge=0, le=MAX_TEXT_CHARS)]] | None,
            Field(
                None,
                max_length=MAX_TEXT_CHARS,
                description="With story: the indexes of the proposals (as POST /api/v1/text lists them) "
                "that the person confirmed; omitted, every proposal that is not a red flag is taken",
            ),
        ),
    )


def _answer_model(knowledge: Knowledge) -> type[BaseModel]:
    ids = list(knowledge.questions.questions)
    question = Annotated[str, WithJsonSchema({"type": "string", "enum": ids})]
    return create_model(
        "AnswerIn",
        __config__=ConfigDict(
            extra="forbid", json_schema_extra={"examples": [{"question": "worsening", "value": False}]}
        ),
        __doc__="Answer the question asked now; value null is don't know.",
        question=(question, Field(description="The id of the question asked now")),
        value=(
            Any,
            Field(
                description="One value (yes/no, choice, number, body-map region list) or, for forms and "
                "grids, finding ids mapped to values; null is don't know"
            ),
        ),
    )


class OptionOut(BaseModel):
    """One answer the person can choose: the value to send (true/false for yes/no) and its wording."""

    value: bool | str
    text: str


class CellOut(BaseModel):
    """One finding of a form or grid: the key to send in the answer, its row, side and type."""

    finding: str
    text: str
    side: str | None = None
    type: Literal["bool", "int", "number", "enum", "regions"]
    minimum: float | None = None
    maximum: float | None = None
    values: list[str] | None = None


class QuestionOut(BaseModel):
    """The question to answer now, worded for the session's mode."""

    id: str
    kind: Literal["yes_no", "choice", "number", "body_map", "form", "grid"]
    group: str
    group_text: str
    text: str
    phase: Literal["intake", "screening", "diagnostic"]
    options: list[OptionOut] | None = None
    cells: list[CellOut] | None = None
    minimum: float | None = None
    maximum: float | None = None
    dont_know: str


class ProgressOut(BaseModel):
    """Questions answered (intake not counted), red-flag rules still open, and the current phase."""

    answered: int = Field(ge=0)
    open_red_flags: int = Field(ge=0)
    phase: Literal["intake", "screening", "diagnostic"] | None = None


class StoryFindingOut(BaseModel):
    """One finding read from the story: its id, the value proposed (none when left to ask), the words."""

    finding: str
    value: Any = None
    text: str


class StoryOut(BaseModel):
    """What the story of a story-first start answered, and what the interview still asks of it."""

    answered: list[StoryFindingOut] = Field(description="Findings the story answered before the interview")
    asked: list[StoryFindingOut] = Field(
        description="Red flags the story states, denies or doubts: asked by their questions, never as no",
    )
    emergency: list[str] = Field(
        description="What to do now if the red flags the story states are right and make it an emergency"
    )


class InterviewOut(BaseModel):
    """An interview session: its id, the question to answer now (none when finished), the progress."""

    id: str
    mode: Mode
    finished: bool
    knowledge_version: str
    question: QuestionOut | None = None
    progress: ProgressOut
    answers: int = Field(ge=0, description="Answers given so far, intake included")
    disclaimer: str
    emergency_advice: str
    story: StoryOut | None = None


# --- the view of a session -------------------------------------------------------------------------


def interview_view(session: Session) -> dict[str, Any]:
    """Return the JSON view of a session: the current question in its mode's wording, the progress."""
    interview = session.interview
    knowledge = interview.knowledge
    bank = knowledge.questions
    mode = interview.mode
    question = interview.next_question()
    progress = interview.progress()
    body: dict[str, Any] = {
        "id": session.id,
        "mode": mode,
        "finished": question is None,
        "knowledge_version": knowledge.version,
        "progress": {
            "answered": progress.answered,
            "open_red_flags": progress.open_red_flags,
            "phase": progress.phase,
        },
        "answers": len(interview.answers),
        "disclaimer": bank.label("disclaimer", mode),
        "emergency_advice": bank.label("emergency_advice", mode),
    }
    if question is not None and progress.phase is not None:
        body["question"] = _question_out(question, progress.phase, interview)
    return body


def story_view(reading: TextReading, interview: Interview) -> dict[str, Any]:
    """Return what a story answered and what its red flags leave to the interview's questions."""
    known = interview.findings

    def row(finding: str, value: object, text: str) -> dict[str, Any]:
        return {"finding": finding, "value": list(value) if isinstance(value, tuple) else value, "text": text}

    answered = [
        row(m.finding, m.value, m.text) for m in reading.proposals if _holds(m.value, known.get(m.finding))
    ]
    knowledge = interview.knowledge
    asked = [
        row(m.finding, None, m.text)
        for m in reading.mentions
        if m.finding not in known
        and (is_warning_sign(m.finding, knowledge) or m in reading.left_for_interview)
    ]
    return {
        "answered": answered,
        "asked": asked,
        "emergency": emergency_in_text(reading, knowledge, interview.mode),
    }


def _holds(proposed: object, known: object) -> bool:
    """Whether the interview holds a proposed value (one region of a region list is held in the list)."""
    if isinstance(proposed, tuple):
        return isinstance(known, tuple) and set(proposed) <= set(known)
    return known is not None and known == proposed


def _question_out(question: Question, phase: str, interview: Interview) -> dict[str, Any]:
    knowledge = interview.knowledge
    bank = knowledge.questions
    mode = interview.mode
    group = bank.groups.get(question.group)
    out: dict[str, Any] = {
        "id": question.id,
        "kind": question.kind,
        "group": question.group,
        "group_text": group.text(mode) if group is not None else question.group,
        "text": question.wording.text(mode),
        "phase": phase,
        "dont_know": bank.label("dont_know", mode),
    }
    if question.kind == "yes_no":
        out["options"] = [
            {"value": True, "text": bank.label("yes", mode)},
            {"value": False, "text": bank.label("no", mode)},
        ]
    elif question.kind == "choice":
        out["options"] = [{"value": o.value, "text": o.wording.text(mode)} for o in question.options]
    elif question.kind == "body_map":
        vocabulary = knowledge.vocabulary
        out["options"] = [
            {"value": region, "text": _region_text(region, vocabulary.regions)}
            for region in sorted(vocabulary.region_ids)
        ]
    elif question.kind == "number":
        out["minimum"], out["maximum"] = question.minimum, question.maximum
    else:
        out["cells"] = [
            {
                "finding": cell.finding,
                "text": cell.wording.text(mode),
                "side": cell.side,
                "type": cell.type,
                "minimum": cell.minimum,
                "maximum": cell.maximum,
                "values": list(cell.values) or None,
            }
            for cell in question.cells
        ]
    return out


def _region_text(region_id: str, regions: Mapping[str, Any]) -> str:
    name, _, side = region_id.partition(".")
    description = str(regions[name].description)
    return f"{description} ({side})" if side else description


# --- routes ------------------------------------------------------------------------------------------


_InterviewId = Annotated[str, Path(pattern=_SESSION_ID, description="The interview session id")]


def add_interview_routes(
    router: APIRouter,
    knowledge: Knowledge,
    store_for: StoreFor,
    assessment_model: Any,
    problems: Mapping[int | str, dict[str, Any]],
) -> None:
    """Add the interview operations to ``router`` (whose prefix is ``/api/v1``).

    Each operation reads its request, calls :class:`~pinchpoint.service.sessions.InterviewService`
    and shapes the session with :func:`interview_view`; the service's errors are the problems.

    Args:
        router: The API router.
        knowledge: The knowledge base of every session.
        store_for: Where a request's sessions are kept between requests.
        assessment_model: The response model of an assessment: the wire contract's
            :class:`~pinchpoint.service.contract.AssessmentContract`.
        problems: The OpenAPI responses of problem details, by status.
    """

    def service_for(request: Request) -> InterviewService:
        return InterviewService(knowledge, store_for(request))

    bank, vocabulary = knowledge.questions, knowledge.vocabulary
    session_errors: dict[int | str, dict[str, Any]] = {
        status: problems[status] for status in (404, 422) if status in problems
    }
    conflict_errors: dict[int | str, dict[str, Any]] = {
        status: problems[status] for status in (404, 409, 422) if status in problems
    }

    def start_interview(request: Request, body: BaseModel) -> dict[str, Any]:
        mode, intake = getattr(body, "mode"), getattr(body, "intake")  # noqa: B009 (a run-time model)
        story, accepted = getattr(body, "story"), getattr(body, "accepted")  # noqa: B009
        if story is None and accepted is not None:
            raise InvalidAnswerError(
                "accepted proposals need a story", location="accepted", expected="a story beside them"
            )
        try:
            answers = json_intake(intake, bank, vocabulary)
            service = service_for(request)
            if story is None:
                return interview_view(service.start(mode=mode, intake=answers))
            session, reading = service.start_from_story(story, mode=mode, intake=answers, accepted=accepted)
        except InvalidTextError as exc:
            raise InvalidTextError(
                exc.problem, location="story", expected=exc.expected, got=exc.got
            ) from None
        except InvalidAnswerError as exc:
            raise _in_field(exc, "accepted" if exc.location == "accepted proposals" else "intake") from None
        return {**interview_view(session), "story": story_view(reading, session.interview)}

    # The request models are built from the knowledge at run time, so the annotation is set here,
    # where FastAPI reads it, instead of in the signature (which names their base class).
    start_interview.__annotations__["body"] = _start_model(knowledge)
    router.post(
        "/interviews",
        status_code=201,
        response_model=InterviewOut,
        response_model_exclude_none=True,
        tags=["interview"],
        summary="Start an interview session (self-check or clinician), optionally with the intake",
    )(start_interview)

    @router.get(
        "/interviews/{interview_id}",
        response_model=InterviewOut,
        response_model_exclude_none=True,
        responses={**session_errors, **_conflict(problems)},
        tags=["interview"],
        summary="The session: the question to answer now, with its wording, kind and options; progress",
    )
    def get_interview(request: Request, interview_id: _InterviewId) -> dict[str, Any]:
        return interview_view(service_for(request).load(interview_id))

    def answer_interview(request: Request, interview_id: _InterviewId, body: BaseModel) -> dict[str, Any]:
        question_id, value = getattr(body, "question"), getattr(body, "value")  # noqa: B009
        service = service_for(request)
        with _locked(interview_id):
            session = service.load(interview_id)
            question = service.check_asked(session, question_id)
            try:
                service.answer(session, question.id, json_answer(question, value, vocabulary))
            except InvalidAnswerError as exc:
                raise _in_field(exc, "value", prefix=f"{question_id}.") from None
        return interview_view(session)

    answer_interview.__annotations__["body"] = _answer_model(knowledge)
    router.post(
        "/interviews/{interview_id}/answers",
        response_model=InterviewOut,
        response_model_exclude_none=True,
        responses=conflict_errors,
        tags=["interview"],
        summary="Answer the question asked now (null: don't know); answers the next question",
    )(answer_interview)

    @router.post(
        "/interviews/{interview_id}/back",
        response_model=InterviewOut,
        response_model_exclude_none=True,
        responses=conflict_errors,
        tags=["interview"],
        summary="Take the last answer back; that question is asked again",
    )
    def back_interview(request: Request, interview_id: _InterviewId) -> dict[str, Any]:
        service = service_for(request)
        with _locked(interview_id):
            return interview_view(service.back(service.load(interview_id)))

    @router.get(
        "/interviews/{interview_id}/result",
        response_model=assessment_model,
        response_model_exclude_none=True,
        responses=conflict_errors,
        tags=["interview"],
        summary="The assessment of a finished interview: triage, sites, causes, reasons, plan",
    )
    def interview_result(request: Request, interview_id: _InterviewId) -> AssessmentContract:
        service = service_for(request)
        session = service.load(interview_id)
        return to_contract(service.result(session, case_id=f"interview-{interview_id}"))


def _conflict(problems: Mapping[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    return {409: problems[409]} if 409 in problems else {}


def _in_field(error: InvalidAnswerError, field: str, prefix: str = "") -> InvalidAnswerError:
    """Re-raise an answer error at the request field it concerns (``value.<finding>`` for a cell)."""
    location = field
    quoted = error.location.partition("'")[2].rpartition("'")[0]
    if prefix and quoted.startswith(prefix):
        location = f"{field}.{quoted[len(prefix) :]}"
    elif not prefix and quoted:
        location = f"{field}.{quoted}"
    return InvalidAnswerError(
        error.problem, location=location, expected=error.expected, got=error.got, hint=error.hint
    )
