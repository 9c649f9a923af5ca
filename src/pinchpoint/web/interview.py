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

A thin translator over :class:`~pinchpoint.service.sessions.InterviewService`: each route reads
its form (values by :mod:`pinchpoint.service.values`), calls the service, which loads, checks,
answers, takes back and saves the session (one state format, with the question asked and the
answers taken back), and renders the page or redirects. An answer that does not fit is shown at
its field (422). An unknown session is a 404, a corrupt or no longer loadable one a 409, an
answer to a question that is not the one asked now a 409: each a page with the reason and the
way on (the service says which conflict; the wording is this module's).

As soon as the answers make the triage an emergency, every question page shows the
emergency banner with what to do now and a button to see the result at once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from pinchpoint.core.interview import Interview
from pinchpoint.core.questions import MODES, Cell, Mode, Question
from pinchpoint.errors import InvalidAnswerError, InvalidSessionError, NotFoundError
from pinchpoint.io.freetext import MAX_TEXT_CHARS
from pinchpoint.service.sessions import (
    Conflict,
    InterviewService,
    Session,
    SessionConflictError,
    interview_lock,
)
from pinchpoint.service.values import DONT_KNOW, NONE, from_text, to_text
from pinchpoint.web.bodymap import region_label, render_map
from pinchpoint.web.views import result_view

if TYPE_CHECKING:
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.service.store import OwnedStore
    from pinchpoint.web.content import WebContent

__all__ = ["InterviewPages", "parse_cell", "parse_single"]

_LOCK_POLL_SECONDS = 0.005
"""How often a step waiting for its session's lock looks again (a step holds it for milliseconds)."""
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
_MISSING = "missing"
"""The error code of a question left unanswered; the page words it (templates hold the wording)."""

_CONFLICTS: dict[Conflict, str] = {
    "unreadable": "This self-check cannot be resumed: its saved answers are not in the expected form. "
    "Please start a new self-check.",
    "saved": "This self-check is finished and its result is saved; start a new one to change answers.",
    "finished": "This self-check has no question left to answer; see its result.",
    "not_finished": "The questions are not finished yet: the warning-sign questions must be answered "
    "(\u201cI don\u2019t know\u201d is an answer) before the result can be shown.",
    "wrong_question": "The answer was for the question {got!r}, but the question asked now is another one "
    "(the page may have been sent twice, or from an older tab). "
    "Go to the current question and answer it there.",
    "no_answer": "There is no answer to go back to: this is the first question.",
    "no_redo": "There is no later answer to go forward to; answer this question instead.",
    "redo_refused": "The answer taken back cannot be given again: {cause}",
}

Items = Sequence[tuple[str, str]]
FormReader = Callable[[Request], Awaitable[list[tuple[str, str]]]]
StoreFor = Callable[[Request], "OwnedStore"]
"""Returns the store as a request's principal sees it: their sessions only (pinchpoint.web.auth)."""


def form_values(items: Items, name: str) -> list[str]:
    """Every value a form sent under ``name``, in order."""
    return [value for key, value in items if key == name]


def parse_cell(cell: Cell, items: Items) -> object:
    """Return the value of one cell of a form or grid as the core takes it (``None``: don't know)."""
    sent = form_values(items, cell.finding)
    return from_text(cell.type, sent[0] if sent else "")


def parse_single(question: Question, items: Items) -> object:
    """Return the answer to a one-finding question, or :data:`_MISSING` when nothing was chosen.

    The field is named after the question's finding. A body map sends one checkbox per
    marked region, or ``none`` for "none of these places" (an empty list).
    """
    sent = form_values(items, question.finding)
    if question.kind == "body_map":
        return [value for value in sent if value != NONE] if sent else _MISSING
    text = sent[0].strip() if sent else ""
    if text == "":
        return _MISSING
    kind = {"yes_no": "bool", "number": question.number_type or "number"}.get(question.kind, "text")
    return from_text(kind, text)


def _answer_value(question: Question, items: Items) -> object:
    if question.single:
        return parse_single(question, items)
    return {cell.finding: parse_cell(cell, items) for cell in question.cells}


def _form_values(question: Question, value: object) -> dict[str, str | tuple[str, ...]]:
    """The form's values for an answer given before (to show it again after going back)."""
    if question.single:
        return {question.finding: to_text(value)}
    answer = value if isinstance(value, Mapping) else {}
    return {cell.finding: to_text(answer.get(cell.finding)) for cell in question.cells}


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


def _conflict(exc: SessionConflictError) -> NoReturn:
    """Word the service's conflict for the page (409); a session that no longer loads says why."""
    cause = exc.__cause__
    if exc.conflict == "unreadable" and isinstance(cause, InvalidSessionError):
        reason = (
            f"This self-check cannot be resumed with this version of pinchpoint ({cause}). "
            "Please start a new self-check."
        )
    else:
        shown = _message(cause) if isinstance(cause, InvalidAnswerError) else ""
        reason = _CONFLICTS[exc.conflict].format(got=exc.got, cause=shown)
    raise HTTPException(409, reason) from None


class InterviewPages:
    """The interview's route handlers, over the app's knowledge, page data, store and templates.

    Each request works on the store as its principal sees it (``store_for``), so a person's
    sessions are theirs alone: another's session id is answered as an unknown one (404).
    """

    def __init__(
        self,
        knowledge: Knowledge,
        content: WebContent,
        store_for: StoreFor,
        render: Callable[..., HTMLResponse],
        read_form: FormReader,
    ) -> None:
        self.knowledge = knowledge
        self.content = content
        self.store_for = store_for
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
            if not [s for s in form_values(items, question.finding) if s.strip()]:
                continue  # not answered here: the interview asks it, with "don't know"
            intake[question_id] = value = parse_single(question, items)
            try:
                question.normalise(value, self.knowledge.vocabulary)  # every field's error at once
            except InvalidAnswerError as exc:
                errors[question.finding] = _message(exc)
        if errors:
            return self._start_page(mode, values=_intake_values(items), errors=errors, status=422)
        return await self.begin(request, Interview.start(self.knowledge, mode=mode, intake=intake))

    def sessions(self, request: Request) -> InterviewService:
        """The session service over the store as the request's principal sees it."""
        store = self.store_for(request)
        return InterviewService(self.knowledge, store, results=store)

    async def begin(self, request: Request, interview: Interview) -> Response:
        """Save a new session for ``interview``; 303 to its next question (or to its result)."""
        service = self.sessions(request)
        session = await run_in_threadpool(service.begin, interview)
        return await self._after_step(service, session)

    async def begin_from_story(
        self, request: Request, story: str, mode: Mode, accepted: Sequence[int]
    ) -> Response:
        """Start a session from a story and the proposals the person accepted; 303 to what is still open.

        The one service's :meth:`~pinchpoint.service.sessions.InterviewService.start_from_story`
        starts it, as the REST story-first start does; the next page is the first question still
        open, or the result when the story settled everything (as an emergency does).
        """
        service = self.sessions(request)
        session, _ = await run_in_threadpool(
            partial(service.start_from_story, story, mode=mode, accepted=accepted)
        )
        return await self._after_step(service, session)

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

    async def show(self, request: Request, session_id: str) -> Response:
        """The current question; a finished session goes to its result."""
        session = await self._load(self.sessions(request), session_id)
        if session.assessment_id is not None:
            return RedirectResponse(f"/assessments/{session.assessment_id}", status_code=303)
        return self._question_page(session)

    async def answer(self, request: Request, session_id: str) -> Response:
        """Answer the current question; refused answers come back at their field (422)."""
        service = self.sessions(request)
        items = await self.read_form(request)
        async with _locked(session_id):
            session = await self._load(service, session_id)
            sent = (form_values(items, "question") or [""])[0]
            try:
                question = service.check_asked(session, sent)
            except InvalidAnswerError:  # no question of the bank: not the one asked now either
                raise HTTPException(409, _CONFLICTS["wrong_question"].format(got=sent)) from None
            except SessionConflictError as exc:
                _conflict(exc)
            value = None if DONT_KNOW in form_values(items, "action") else _answer_value(question, items)
            errors = self._check(question, value)
            if not errors:
                try:
                    await run_in_threadpool(service.answer, session, question.id, value)
                    return await self._after_step(service, session)
                except InvalidAnswerError as exc:
                    errors = {_field_of(question, exc): _message(exc)}
        return self._question_page(session, values=_sent_values(question, items), errors=errors, status=422)

    async def back(self, request: Request, session_id: str) -> Response:
        """Take the last answer back; it is kept so that "forward" can give it again."""
        service = self.sessions(request)
        session = await self._step(service, service.back, session_id)
        return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)

    async def forward(self, request: Request, session_id: str) -> Response:
        """Give again the answer taken back from the current question."""
        service = self.sessions(request)
        return await self._after_step(service, await self._step(service, service.forward, session_id))

    async def finish(self, request: Request, session_id: str) -> Response:
        """Save the assessment: when nothing is left to ask, or at once in an emergency."""
        service = self.sessions(request)
        async with _locked(session_id):
            return await self._complete(service, await self._load(service, session_id))

    async def reopen(self, request: Request, session_id: str) -> Response:
        """Change the answers of a finished interview, going back into it at its last question.

        A new session gets every answer; its last answer is taken back, shown again and
        offered with "forward", so the person resumes where they stopped and may go further
        back. The finished session and its saved result are left as they are (the history
        keeps both results). A session not finished yet is simply shown.
        """
        service = self.sessions(request)
        session = await self._step(service, service.reopen, session_id)
        return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)

    async def reopen_path(self, request: Request, assessment_id: str) -> str | None:
        """The address that reopens the interview an assessment finished, or None.

        None for a form's result, and for an interview that is gone or that this version of
        pinchpoint can no longer resume: its answers are then changed on the one-page form.
        """
        session = await run_in_threadpool(self.sessions(request).reopenable, assessment_id)
        return None if session is None else f"/check/interviews/{session.id}/reopen"

    # --- helpers -----------------------------------------------------------------------------------

    def _mode(self, text: str) -> Mode:
        if text not in MODES:
            raise HTTPException(422, f"Unknown interview mode {text!r}; expected self_check or clinician.")
        return "clinician" if text == "clinician" else "self_check"

    def _check(self, question: Question, value: object) -> dict[str, str]:
        """Every field's problem at once: nothing chosen, or each cell of a form that does not fit."""
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

    async def _load(self, service: InterviewService, session_id: str) -> Session:
        if not _SESSION_ID.match(session_id):
            raise HTTPException(404, "There is no self-check with this id (an id is 32 letters and digits).")
        try:
            return await run_in_threadpool(service.load, session_id)
        except NotFoundError:
            raise HTTPException(
                404, "There is no self-check with this id; it may have been deleted."
            ) from None
        except SessionConflictError as exc:
            _conflict(exc)

    async def _step(
        self, service: InterviewService, step: Callable[[Session], Session], session_id: str
    ) -> Session:
        """Load the session and run one step of the service on it; its conflicts are 409 pages."""
        async with _locked(session_id):
            session = await self._load(service, session_id)
            try:
                return await run_in_threadpool(step, session)
            except SessionConflictError as exc:
                _conflict(exc)

    async def _after_step(self, service: InterviewService, session: Session) -> Response:
        """Go to the result when nothing is left to ask (saving it), else to the next question."""
        if session.interview.finished:
            return await self._complete(service, session)
        return RedirectResponse(f"/check/interviews/{session.id}", status_code=303)

    async def _complete(self, service: InterviewService, session: Session) -> Response:
        try:
            assessment_id = await run_in_threadpool(service.finish, session)
        except SessionConflictError as exc:
            _conflict(exc)
        return RedirectResponse(f"/assessments/{assessment_id}", status_code=303)

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
        session: Session,
        *,
        values: Mapping[str, str | tuple[str, ...]] | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        interview = session.interview
        question = session.question
        bank = self.knowledge.questions
        mode = interview.mode
        can_forward = session.can_forward
        if values is None and question is not None and can_forward:
            values = _form_values(question, session.forward_value)
        elif values is None and question is not None and not question.single:
            # Every item starts at "don't know", visibly, but an item stated before (a confirmed
            # description) is shown as stated.
            values = _form_values(question, dict(interview.findings))
        values = values or {}
        emergency = None
        if interview.emergency:
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


@asynccontextmanager
async def _locked(session_id: str) -> AsyncIterator[None]:
    """Hold the session's lock (:func:`~pinchpoint.service.sessions.interview_lock`) from load to save.

    The lock is shared with the REST API's steps, which run in threads; it is taken here without
    blocking the event loop, and never by a thread that a cancelled request could leave holding it.
    """
    lock = interview_lock(session_id)
    while not lock.acquire(blocking=False):
        await asyncio.sleep(_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()
