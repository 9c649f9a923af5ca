"""The self-check as the adaptive interview in the browser: one question at a time.

An adapter over :class:`pinchpoint.core.interview.Interview`; every page is a plain HTML form
(POST, then a redirect to a GET), so it works without script and with the keyboard alone.
Routes::

    GET  /check                                 start: age, sex and where it hurts (?mode=clinician)
    POST /check/interviews                      start a session; 303 to its current question
    GET  /check/interviews/{id}                 the current question, with progress and back / forward
    POST /check/interviews/{id}/answer          answer it ("don't know" too); 303 to the next one,
                                                or, when the interview is finished, to the result
    POST /check/interviews/{id}/back            take the last answer back (it can be given again)
    POST /check/interviews/{id}/forward         give the answer taken back again
    POST /check/interviews/{id}/finish          save the assessment now (only once finished, or
                                                at once when the answers make it an emergency)
    POST /check/interviews/{id}/reopen          change the answers of a finished interview: a new
                                                session with every answer kept, 303 to its last
                                                question (the finished one and its result stay)

A session is saved after every step with :meth:`~pinchpoint.service.store.Store.update_interview`
as ``{"format": "pinchpoint-web-interview", "interview": Interview.to_dict(), "redo": [...]}``
(``redo``: answers taken back, newest last, to go forward again), so a reload resumes it.
Every answer goes through :meth:`Interview.answer`; its
:class:`~pinchpoint.errors.InvalidAnswerError` is shown at the field (422). An unknown
session is a 404, a corrupt or no longer loadable one a 409, an answer to a question that
is not the one asked now a 409: each a page with the reason and the way on.

As soon as the answers make the triage an emergency, every question page shows the
emergency banner with what to do now and a button to see the result at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from pinchpoint.core.interview import Interview
from pinchpoint.core.questions import MODES, Cell, Mode, Question
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InvalidAnswerError, InvalidSessionError
from pinchpoint.io.freetext import MAX_TEXT_CHARS
from pinchpoint.service.contract import to_contract
from pinchpoint.web.bodymap import region_label, render_map
from pinchpoint.web.views import result_view

if TYPE_CHECKING:
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.service.store import InterviewRecord, Store
    from pinchpoint.web.content import WebContent

__all__ = ["STATE_FORMAT", "InterviewPages", "parse_cell", "parse_single"]

STATE_FORMAT = "pinchpoint-web-interview"
"""The ``format`` of a web interview session's saved state."""

_STATE_KEYS = frozenset({"format", "interview", "redo"})
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
_DONT_KNOW = "dont_know"
_NONE = "none"
_MISSING = "missing"
"""The error code of a question left unanswered; the page words it (templates hold the wording)."""

Items = Sequence[tuple[str, str]]
FormReader = Callable[[Request], Awaitable[list[tuple[str, str]]]]


@dataclass(frozen=True, slots=True)
class _Session:
    """A loaded session: its record id, the interview, the redo stack, and its assessment if finished."""

    id: str
    interview: Interview
    redo: tuple[dict[str, Any], ...]
    assessment_id: str | None


def form_values(items: Items, name: str) -> list[str]:
    """Every value a form sent under ``name``, in order."""
    return [value for key, value in items if key == name]


def _number(text: str, whole: bool) -> object:
    """Read a typed number; text that is not one is passed on as it is, for the core to refuse."""
    cleaned = text.strip().replace(",", ".") if not whole else text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if whole:
        return int(value) if value.is_integer() else text
    return value


def parse_cell(cell: Cell, items: Items) -> object:
    """Return the value of one cell of a form or grid as the core takes it (``None``: don't know).

    Yes / no cells send ``yes``, ``no`` or ``dont_know``; choices their value; numbers
    their text. Anything else is passed on unchanged so that :meth:`Question.normalise`
    refuses it with its own message.
    """
    sent = form_values(items, cell.finding)
    text = sent[0] if sent else ""
    if text in ("", _DONT_KNOW):
        return None
    if cell.type == "bool":
        return {"yes": True, "no": False}.get(text, text)
    if cell.type in {"int", "number"}:
        return _number(text, cell.type == "int")
    return text


def parse_single(question: Question, items: Items) -> object:
    """Return the answer to a one-finding question, or :data:`_MISSING` when nothing was chosen.

    The field is named after the question's finding. A body map sends one checkbox per
    marked region, or ``none`` for "none of these places" (an empty list).
    """
    name = question.finding
    sent = form_values(items, name)
    if question.kind == "body_map":
        return [value for value in sent if value != _NONE] if sent else _MISSING
    text = sent[0].strip() if sent else ""
    if text in ("", _DONT_KNOW):
        return _MISSING if text == "" else None
    if question.kind == "yes_no":
        return {"yes": True, "no": False}.get(text, text)
    return _number(text, question.number_type == "int") if question.kind == "number" else text


def _answer_value(question: Question, items: Items) -> object:
    if question.single:
        return parse_single(question, items)
    return {cell.finding: parse_cell(cell, items) for cell in question.cells}


def _shown(value: object) -> str | tuple[str, ...]:
    """An answer value as the form shows it again (the inverse of :func:`parse_cell`)."""
    if value is None:
        return _DONT_KNOW
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value) or (_NONE,)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _form_values(question: Question, value: object) -> dict[str, str | tuple[str, ...]]:
    """The form's values for an answer given before (to show it again after going back)."""
    if question.single:
        return {question.finding: _shown(value)}
    answer = value if isinstance(value, Mapping) else {}
    return {cell.finding: _shown(answer.get(cell.finding)) for cell in question.cells}


def _sent_values(question: Question, items: Items) -> dict[str, str | tuple[str, ...]]:
    """What was sent, to fill the form again when the answer is refused."""
    if question.kind == "body_map":
        return {question.finding: tuple(form_values(items, question.finding))}
    names = [question.finding] if question.single else [cell.finding for cell in question.cells]
    return {name: (form_values(items, name) or [""])[0] for name in names}


def _message(exc: InvalidAnswerError) -> str:
    """An answer's problem in words for the page: what was wrong, what is expected, what arrived."""
    text = exc.problem[:1].upper() + exc.problem[1:]
    if exc.expected:
        text += f": expected {exc.expected.replace(' (or null for don' + chr(39) + 't know)', '')}"
    if exc.got is not None:
        text += f" (you entered {exc.got!r})"
    return text + "."


def _field_of(question: Question, exc: InvalidAnswerError) -> str:
    for cell in question.cells:
        if exc.location.endswith(f"'{question.id}.{cell.finding}'"):
            return cell.finding
    return question.finding


class InterviewPages:
    """The interview's route handlers, over the app's knowledge, page data, store and templates."""

    def __init__(
        self,
        knowledge: Knowledge,
        content: WebContent,
        store: Store,
        render: Callable[..., HTMLResponse],
        read_form: FormReader,
    ) -> None:
        self.knowledge = knowledge
        self.content = content
        self.store = store
        self.render = render
        self.read_form = read_form
        self.region_labels = {r: region_label(knowledge, content, r) for r in knowledge.vocabulary.region_ids}

    def register(self, app: FastAPI) -> None:
        """Add the interview's routes to ``app`` (kept out of the API's OpenAPI document)."""
        routes: list[tuple[str, Callable[..., Awaitable[Response]], str]] = [
            ("/check", self.start_page, "GET"),
            ("/check/interviews", self.start, "POST"),
            ("/check/interviews/{session_id}", self.show, "GET"),
            ("/check/interviews/{session_id}/answer", self.answer, "POST"),
            ("/check/interviews/{session_id}/back", self.back, "POST"),
            ("/check/interviews/{session_id}/forward", self.forward, "POST"),
            ("/check/interviews/{session_id}/finish", self.finish, "POST"),
            ("/check/interviews/{session_id}/reopen", self.reopen, "POST"),
        ]
        for path, endpoint, method in routes:
            app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)

    # --- starting ----------------------------------------------------------------------------------

    async def start_page(self, request: Request) -> HTMLResponse:
        """The first page: age, sex and the pain body map, all optional (the interview asks the rest)."""
        mode = self._mode(request.query_params.get("mode", "self_check"))
        return self._start_page(mode, values={}, errors={})

    def start_page_with(self, mode: Mode, *, text: str, text_error: str, status: int) -> HTMLResponse:
        """The first page again, with a description that could not be read and why."""
        return self._start_page(mode, values={}, errors={}, status=status, text=text, text_error=text_error)

    def mode_of(self, items: Items) -> Mode:
        """The interview mode a form names (``self_check`` when it names none)."""
        return self._mode((form_values(items, "mode") or ["self_check"])[0])

    async def start(self, request: Request) -> Response:
        """Start a session with the intake answered; 303 to its first question, or 422 with the page."""
        items = await self.read_form(request)
        mode = self.mode_of(items)
        bank = self.knowledge.questions
        intake: dict[str, object] = {}
        errors: dict[str, str] = {}
        for question_id in bank.intake:
            question = bank[question_id]
            sent = form_values(items, question.finding)
            if not [s for s in sent if s.strip()]:
                continue  # not answered here: the interview asks it, with "don't know"
            value = parse_single(question, items)
            try:
                question.normalise(value, self.knowledge.vocabulary)
            except InvalidAnswerError as exc:
                errors[question.finding] = _message(exc)
            intake[question_id] = value
        if errors:
            return self._start_page(mode, values=_intake_values(items), errors=errors, status=422)
        return await self.begin(Interview.start(self.knowledge, mode=mode, intake=intake))

    async def begin(self, interview: Interview) -> Response:
        """Save a new session for ``interview``; 303 to its next question (or to its result)."""
        record = await run_in_threadpool(self.store.create_interview, _state(interview, ()))
        return await self._after_step(_Session(record.id, interview, (), None))

    def _start_page(
        self,
        mode: Mode,
        *,
        values: Mapping[str, str | tuple[str, ...]],
        errors: Mapping[str, str],
        status: int = 200,
        text: str = "",
        text_error: str = "",
    ) -> HTMLResponse:
        bank = self.knowledge.questions
        questions = [bank[q] for q in bank.intake]
        return self.render(
            "interview_start.html",
            status=status,
            nav="clinician" if mode == "clinician" else "self_check",
            mode=mode,
            questions=questions,
            label=lambda label_id: bank.label(label_id, mode),
            values=values,
            errors=errors,
            maps=self._maps(questions, values),
            region_labels=self.region_labels,
            text=text,
            text_error=text_error,
            text_limit=MAX_TEXT_CHARS,
        )

    # --- one question ------------------------------------------------------------------------------

    async def show(self, session_id: str) -> Response:
        """The current question; a finished session goes to its result."""
        session = await self._load(session_id)
        if session.assessment_id is not None:
            return RedirectResponse(f"/assessments/{session.assessment_id}", status_code=303)
        return self._question_page(session)

    async def answer(self, request: Request, session_id: str) -> Response:
        """Answer the current question; refused answers come back at their field (422)."""
        session = await self._load(session_id)
        items = await self.read_form(request)
        question = self._current(session, items)
        dont_know = _DONT_KNOW in form_values(items, "action")
        value = None if dont_know else _answer_value(question, items)
        errors = self._check(question, value)
        if errors:
            return self._question_page(
                session, values=_sent_values(question, items), errors=errors, status=422
            )
        try:
            session.interview.answer(question.id, value)
        except InvalidAnswerError as exc:
            return self._question_page(
                session,
                values=_sent_values(question, items),
                errors={_field_of(question, exc): _message(exc)},
                status=422,
            )
        redo = session.redo
        if redo and redo[-1]["question"] == question.id:
            redo = redo[:-1]
        elif redo:
            redo = ()  # a different answer: the answers after it may no longer be asked
        return await self._after_step(_Session(session.id, session.interview, redo, None))

    async def back(self, session_id: str) -> Response:
        """Take the last answer back; it is kept so that "forward" can give it again."""
        session = await self._load(session_id)
        self._open(session)
        interview = session.interview
        if not interview.answers:
            raise HTTPException(409, "There is no answer to go back to: this is the first question.")
        redo = self._take_back(interview, session.redo)
        await self._save(session.id, interview.to_dict(), redo)
        return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)

    def _take_back(
        self, interview: Interview, redo: tuple[dict[str, Any], ...]
    ) -> tuple[dict[str, Any], ...]:
        """Take the last answer back and return the redo stack with it on top, to give it again."""
        taken = interview.back()
        # The answer as a session saves it (JSON), so that "forward" can give it to answer() again.
        value = Interview(self.knowledge, interview.mode, (taken,)).to_dict()["answers"][0]["value"]
        return (*redo, {"question": taken.question, "value": value})

    async def forward(self, session_id: str) -> Response:
        """Give again the answer taken back from the current question."""
        session = await self._load(session_id)
        self._open(session)
        question = session.interview.next_question()
        if not session.redo or question is None or session.redo[-1]["question"] != question.id:
            raise HTTPException(
                409, "There is no later answer to go forward to; answer this question instead."
            )
        try:
            session.interview.answer(question.id, session.redo[-1]["value"])
        except InvalidAnswerError as exc:
            raise HTTPException(
                409, f"The answer taken back cannot be given again: {_message(exc)}"
            ) from None
        return await self._after_step(_Session(session.id, session.interview, session.redo[:-1], None))

    async def finish(self, session_id: str) -> Response:
        """Save the assessment: when nothing is left to ask, or at once in an emergency."""
        session = await self._load(session_id)
        self._open(session)
        if not session.interview.finished and self._level(session.interview) < Urgency.EMERGENCY:
            raise HTTPException(
                409,
                "The questions are not finished yet: the warning-sign questions must be answered "
                "(\u201cI don\u2019t know\u201d is an answer) before the result can be shown.",
            )
        return await self._complete(session)

    async def reopen(self, session_id: str) -> Response:
        """Change the answers of a finished interview, going back into it at its last question.

        A new session gets every answer; its last answer is taken back, shown again and
        offered with "forward", so the person resumes where they stopped and may go further
        back. The finished session and its saved result are left as they are (the history
        keeps both results). A session not finished yet is simply shown.
        """
        session = await self._load(session_id)
        if session.assessment_id is None:
            return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)
        interview = session.interview
        redo = self._take_back(interview, session.redo) if interview.answers else session.redo
        record = await run_in_threadpool(self.store.create_interview, _state(interview, redo))
        return RedirectResponse(f"/check/interviews/{record.id}", status_code=303)

    async def reopen_path(self, assessment_id: str) -> str | None:
        """The address that reopens the interview an assessment finished, or None.

        None for a form's result, and for an interview that is gone or that this version of
        pinchpoint can no longer resume: its answers are then changed on the one-page form.
        """
        record = await run_in_threadpool(self.store.interview_of_assessment, assessment_id)
        if record is None:
            return None
        try:
            self._session(record)
        except HTTPException:
            return None
        return f"/check/interviews/{record.id}/reopen"

    # --- helpers -----------------------------------------------------------------------------------

    def _mode(self, text: str) -> Mode:
        if text not in MODES:
            raise HTTPException(422, f"Unknown interview mode {text!r}; expected self_check or clinician.")
        return "clinician" if text == "clinician" else "self_check"

    def _level(self, interview: Interview) -> Urgency:
        level, _ = self.knowledge.triage.evaluate(interview.findings)
        return level

    def _check(self, question: Question, value: object) -> dict[str, str]:
        """Problems found before the core sees the answer: nothing chosen, or a cell that does not fit."""
        if value == _MISSING:
            return {question.finding: _MISSING}
        errors: dict[str, str] = {}
        if not question.single and isinstance(value, Mapping):
            for cell in question.cells:
                try:
                    question.normalise({cell.finding: value[cell.finding]}, self.knowledge.vocabulary)
                except InvalidAnswerError as exc:
                    errors[cell.finding] = _message(exc)
        return errors

    def _current(self, session: _Session, items: Items) -> Question:
        """The question the form answers, which must be the one asked now (else 409)."""
        self._open(session)
        sent = (form_values(items, "question") or [""])[0]
        current = session.interview.next_question()
        if current is None:
            raise HTTPException(409, "This self-check has no question left to answer; see its result.")
        if sent != current.id:
            raise HTTPException(
                409,
                f"The answer was for the question {sent!r}, but the question asked now is another one "
                "(the page may have been sent twice, or from an older tab). Go to the current question "
                "and answer it there.",
            )
        return current

    def _open(self, session: _Session) -> None:
        if session.assessment_id is not None:
            raise HTTPException(
                409, "This self-check is finished and its result is saved; start a new one to change answers."
            )

    async def _load(self, session_id: str) -> _Session:
        if not _SESSION_ID.match(session_id):
            raise HTTPException(404, "There is no self-check with this id (an id is 32 letters and digits).")
        record = await run_in_threadpool(self.store.get_interview, session_id)
        if record is None:
            raise HTTPException(404, "There is no self-check with this id; it may have been deleted.")
        return self._session(record)

    def _session(self, record: InterviewRecord) -> _Session:
        state = record.state
        if set(state) != _STATE_KEYS or state.get("format") != STATE_FORMAT:
            raise HTTPException(
                409,
                "This self-check cannot be resumed: its saved answers are not in the expected form. "
                "Please start a new self-check.",
            )
        try:
            interview = Interview.from_dict(state["interview"], self.knowledge)
        except InvalidSessionError as exc:
            raise HTTPException(
                409,
                f"This self-check cannot be resumed with this version of pinchpoint ({exc}). "
                "Please start a new self-check.",
            ) from None
        redo = state["redo"]
        if not isinstance(redo, list) or not all(
            isinstance(row, dict) and set(row) == {"question", "value"} for row in redo
        ):
            raise HTTPException(
                409,
                "This self-check cannot be resumed: its saved answers are damaged. Please start a new one.",
            )
        return _Session(record.id, interview, tuple(redo), record.assessment_id)

    async def _save(
        self, session_id: str, interview: Mapping[str, Any], redo: Sequence[Mapping[str, Any]]
    ) -> None:
        state = {"format": STATE_FORMAT, "interview": dict(interview), "redo": [dict(r) for r in redo]}
        await run_in_threadpool(self.store.update_interview, session_id, state)

    async def _after_step(self, session: _Session) -> Response:
        """Save the session; go to the result when nothing is left to ask, else to the next question."""
        await self._save(session.id, session.interview.to_dict(), session.redo)
        if session.interview.finished:
            return await self._complete(session)
        return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)

    async def _complete(self, session: _Session) -> Response:
        interview = session.interview
        assessment = interview.assessment()
        findings = {k: list(v) if isinstance(v, tuple) else v for k, v in interview.findings.items()}
        record = await run_in_threadpool(
            lambda: self.store.save_assessment(
                case={"id": "interview", "findings": findings},
                result=to_contract(assessment),
                mode=interview.mode,
                interview_id=session.id,
            )
        )
        return RedirectResponse(f"/assessments/{record.id}", status_code=303)

    def _maps(
        self, questions: Sequence[Question], values: Mapping[str, str | tuple[str, ...]]
    ) -> dict[str, Any]:
        return {
            q.finding: render_map(self.knowledge, self.content, selected=values.get(q.finding, ()))
            for q in questions
            if q.kind == "body_map"
        }

    def _question_page(
        self,
        session: _Session,
        *,
        values: Mapping[str, str | tuple[str, ...]] | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        interview = session.interview
        question = interview.next_question()
        bank = self.knowledge.questions
        mode = interview.mode
        redo = session.redo
        can_forward = bool(question and redo and redo[-1]["question"] == question.id)
        if values is None and question is not None and can_forward:
            values = _form_values(question, redo[-1]["value"])
        elif values is None and question is not None and not question.single:
            # Every item starts at "don't know", visibly, but an item stated before (a confirmed
            # description) is shown as stated.
            values = _form_values(question, dict(interview.findings))
        values = values or {}
        emergency = None
        if self._level(interview) >= Urgency.EMERGENCY:
            emergency = result_view(
                interview.assessment(), self.knowledge, self.content, findings=interview.findings
            )
        progress = interview.progress()
        return self.render(
            "interview.html",
            status=status,
            nav="clinician" if mode == "clinician" else "self_check",
            session_id=session.id,
            mode=mode,
            question=question,
            text=(lambda wording: wording.text(mode)),
            label=lambda label_id: bank.label(label_id, mode),
            group=bank.groups[question.group].text(mode) if question else "",
            progress=progress,
            number=progress.answered + 1,
            phases=_phases(bank, mode, progress.phase),
            can_back=bool(interview.answers),
            can_forward=can_forward,
            finished=question is None,
            emergency=emergency,
            values=values,
            errors=errors or {},
            maps=self._maps([question] if question else [], values),
            region_labels=self.region_labels,
            rows=_grid_rows(question) if question and question.kind == "grid" else [],
        )


def _state(interview: Interview, redo: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"format": STATE_FORMAT, "interview": interview.to_dict(), "redo": [dict(r) for r in redo]}


def _intake_values(items: Items) -> dict[str, str | tuple[str, ...]]:
    values: dict[str, str | tuple[str, ...]] = {}
    for key, value in items:
        if key == "pain_regions":
            values[key] = (*values.get(key, ()), value)
        else:
            values.setdefault(key, value)
    return values


def _phases(bank: Any, mode: Mode, current: str | None) -> list[dict[str, Any]]:
    """The steps of the interview, the current one marked (in words, not by colour alone)."""
    order = [
        ("intake", bank.groups["intake"].text(mode)),
        ("screening", bank.label("screening", mode)),
        ("diagnostic", bank.label("narrowing", mode)),
    ]
    index = next((i for i, (phase, _) in enumerate(order) if phase == current), len(order))
    return [
        {"id": phase, "title": title, "state": "done" if i < index else "current" if i == index else "todo"}
        for i, (phase, title) in enumerate(order)
    ]


def _grid_rows(question: Question) -> list[dict[str, Any]]:
    """The rows of a grid: one per item, its cells by side in the order the bank gives them."""
    rows: dict[str, list[Cell]] = {}
    for cell in question.cells:
        rows.setdefault(cell.row, []).append(cell)
    return [{"row": row, "cells": cells} for row, cells in rows.items()]
