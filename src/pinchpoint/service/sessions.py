"""One interview session service: start, ask, answer, back, forward, finish, reopen, result.

The adaptive interview of :mod:`pinchpoint.core.interview` is a value; this service keeps it
between requests in an :class:`~pinchpoint.service.store.InterviewStore` (the SQL
:class:`~pinchpoint.service.store.Store`, the in-memory store, or the terminal's file), so the
web pages, the REST API and the terminal only translate their input to these calls and the
answers to their output. None of them loads, checks or saves a session itself.

**One state format.** A session is saved after every step as::

    {"format": "pinchpoint-session", "version": 1,
     "interview": Interview.to_dict(),
     "asked": {"question": id | null, "phase": ..., "open_red_flags": n} | null,
     "redo": [{"question": id, "value": ...}, ...]}

``asked`` records the question asked now (``question`` null: nothing left to ask), chosen once
after the answer that led to it; a later request with the same knowledge version takes it back
instead of choosing again (:meth:`Interview.resume_choice`), so the choice is made once per
answer. ``null`` means "not recorded" (a session converted from an older format): it is chosen
when loaded. ``redo`` holds the answers taken back, newest last, to give again with "forward".
The two older formats (the web pages' wrapper and the REST API's bare ``Interview.to_dict()``)
are converted by :func:`upgrade_state`, which the store's migration 0002 runs over saved rows.

**Errors.** An unknown session is :class:`~pinchpoint.errors.NotFoundError`; a request that does
not fit the session's state is :class:`SessionConflictError` (an
:class:`~pinchpoint.errors.InterviewConflictError` that says which conflict in ``conflict``, so
each front end words it its own way); a value that does not fit its question is
:class:`~pinchpoint.errors.InvalidAnswerError`. A refused step changes nothing, saved or not.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pinchpoint.core.interview import Interview
from pinchpoint.core.questions import Mode, Question
from pinchpoint.errors import (
    InterviewConflictError,
    InvalidAnswerError,
    InvalidSessionError,
    NotFoundError,
    StoreError,
)
from pinchpoint.io.freetext import TextReading, interview_from_story, read_text
from pinchpoint.service.contract import to_contract
from pinchpoint.service.values import saved_value

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.service.store import InterviewRecordLike, InterviewStore

__all__ = [
    "LEGACY_API_FORMAT",
    "LEGACY_WEB_FORMAT",
    "STATE_FORMAT",
    "STATE_VERSION",
    "Conflict",
    "InterviewService",
    "Redo",
    "ResultStore",
    "Session",
    "SessionConflictError",
    "interview_lock",
    "upgrade_state",
]

_LOCKS: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_LOCKS_GUARD = threading.Lock()


def interview_lock(session_id: str) -> threading.Lock:
    """The lock of one interview session in this process, held from loading it to saving it.

    A step loads the session, changes it and saves it whole. Two steps at once (a double
    submit, two tabs, two clients) each loaded the same state: both were answered 200 and the
    later save silently dropped the earlier answer, a red flag among them. Under this lock the
    second step loads what the first saved, and an answer to a question no longer asked is a
    409. The lock lives as long as someone holds or waits for it. It serialises the steps of
    one server process (``pinchpoint serve`` runs one); several processes sharing a database
    would need the store to refuse a stale save.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(session_id)
        if lock is None:
            lock = _LOCKS[session_id] = threading.Lock()
        return lock


STATE_FORMAT = "pinchpoint-session"
"""The ``format`` of a saved session's state."""
STATE_VERSION = 1
LEGACY_WEB_FORMAT = "pinchpoint-web-interview"
"""The ``format`` the web pages saved before migration 0002: ``{format, interview, redo}``."""
LEGACY_API_FORMAT = "pinchpoint-interview"
"""The ``format`` of a bare ``Interview.to_dict()``, which the REST API and the terminal saved."""

_STATE_KEYS = frozenset({"format", "version", "interview", "asked", "redo"})
_ASKED_KEYS = frozenset({"question", "phase", "open_red_flags"})
_REDO_KEYS = frozenset({"question", "value"})

Conflict = Literal[
    "unreadable",  # the saved state is damaged or no longer fits the question bank
    "saved",  # the session is finished and its result saved: it cannot change
    "finished",  # nothing is left to ask
    "not_finished",  # a result now could understate the urgency
    "wrong_question",  # an answer to a question that is not the one asked now
    "no_answer",  # nothing to take back
    "no_redo",  # nothing taken back to give again
    "redo_refused",  # the answer taken back no longer fits its question
]


class SessionConflictError(InterviewConflictError):
    """A request that does not fit the session's state (HTTP 409); ``conflict`` says which.

    Args:
        conflict: Which conflict it is, for the front ends to word.
        problem, location, expected, got: As :class:`~pinchpoint.errors.PinchpointError`.
    """

    def __init__(
        self, conflict: Conflict, problem: str, *, location: str, expected: str = "", got: object = None
    ) -> None:
        super().__init__(problem, location=location, expected=expected, got=got)
        self.conflict: Conflict = conflict


class ResultStore(Protocol):
    """Where a finished session's assessment is saved (the SQL :class:`~pinchpoint.service.store.Store`)."""

    def save_assessment(
        self,
        *,
        case: Mapping[str, Any],
        result: Mapping[str, Any],
        mode: str,
        interview_id: str | None = None,
    ) -> Any:
        """Save the assessment and link it to the session, in one transaction; return its record."""

    def interview_of_assessment(self, assessment_id: str) -> InterviewRecordLike | None:
        """Return the session an assessment finished, or None."""


@dataclass(frozen=True, slots=True)
class Redo:
    """An answer taken back: its question and its value as saved (JSON), to give again."""

    question: str
    value: object


@dataclass(slots=True)
class Session:
    """A loaded session: its id, the interview, the answers taken back, its saved assessment if any."""

    id: str
    interview: Interview
    redo: tuple[Redo, ...] = ()
    assessment_id: str | None = None

    @property
    def question(self) -> Question | None:
        """The question asked now (None: nothing left to ask)."""
        return self.interview.next_question()

    @property
    def saved(self) -> bool:
        """Whether the session is finished and its assessment saved (it cannot change then)."""
        return self.assessment_id is not None

    @property
    def forward_value(self) -> object | None:
        """The answer taken back from the question asked now, if any (``None`` also for "don't know")."""
        return self.redo[-1].value if self.can_forward else None

    @property
    def can_forward(self) -> bool:
        """Whether the last answer taken back is for the question asked now, and so can be given again."""
        question = self.question
        return bool(question is not None and self.redo and self.redo[-1].question == question.id)

    def state(self) -> dict[str, Any]:
        """The session's state as it is saved (see the module docstring)."""
        question = self.interview.next_question()
        progress = self.interview.progress()
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "interview": self.interview.to_dict(),
            "asked": {
                "question": None if question is None else question.id,
                "phase": progress.phase,
                "open_red_flags": progress.open_red_flags,
            },
            "redo": [{"question": r.question, "value": r.value} for r in self.redo],
        }


def upgrade_state(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """Convert a state saved in an older format to this one; None when it is in neither.

    A web page's ``{"format": "pinchpoint-web-interview", "interview": ..., "redo": [...]}`` keeps
    its interview and redo stack; a bare ``Interview.to_dict()`` (REST API, terminal) gets an
    empty redo stack. The question asked is not recorded (``asked`` null): it is chosen again
    when the session is loaded. Nothing is checked against the question bank here; loading does
    that. Migration 0002 runs this over every saved row, so it must never change meaning.
    """
    if state.get("format") == LEGACY_WEB_FORMAT and set(state) == {"format", "interview", "redo"}:
        interview, redo = state["interview"], state["redo"]
    elif state.get("format") == LEGACY_API_FORMAT:
        interview, redo = dict(state), []
    else:
        return None
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "interview": interview,
        "asked": None,
        "redo": redo,
    }


class InterviewService:
    """The interview sessions of one knowledge base, kept in one store.

    Args:
        knowledge: The knowledge base (with its question bank) of every session.
        store: Where sessions are kept between requests.
        results: Where :meth:`finish` saves a finished session's assessment (the web app's SQL
            store); without it sessions are never finished with a saved result.
    """

    def __init__(
        self, knowledge: Knowledge, store: InterviewStore, results: ResultStore | None = None
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.results = results

    # --- starting ----------------------------------------------------------------------------------

    def start(self, *, mode: Mode = "self_check", intake: Mapping[str, object] | None = None) -> Session:
        """Start and save a session with the intake answers given (by question id; None: don't know).

        Raises:
            InvalidAnswerError: The mode is unknown, or an intake answer does not fit its question.
        """
        return self.begin(Interview.start(self.knowledge, mode=mode, intake=intake))

    def start_from_story(
        self,
        story: str,
        *,
        mode: Mode = "self_check",
        intake: Mapping[str, object] | None = None,
        accepted: Collection[int] | None = None,
    ) -> tuple[Session, TextReading]:
        """Start and save a session from the person's story: the interview asks only what is still open.

        The story is read (:func:`pinchpoint.io.freetext.read_text`) and its proposals answer their
        questions (:func:`pinchpoint.io.freetext.interview_from_story`): the ``accepted`` ones, or
        without them every proposal that is not a red flag. A red flag the story states is asked by
        its question, which confirms it; one the story denies or doubts is never taken as "no".
        The ``intake`` answers given beside the story come first and win over the story's.

        Returns:
            The session and the reading of the story (what was proposed and what is left to ask).

        Raises:
            InvalidTextError: The story is empty, too long or binary.
            InvalidAnswerError: The mode is unknown, an intake answer does not fit its question, or
                an accepted index names no proposal.
        """
        reading = read_text(story, self.knowledge, mode=mode)
        told = interview_from_story(reading, self.knowledge, mode=mode, accepted=accepted).to_dict()
        given = Interview.start(self.knowledge, mode=mode, intake=intake).to_dict()["answers"]
        answers = list(given)
        values = {answer["question"]: answer["value"] for answer in given}
        bank = self.knowledge.questions
        for answer in told["answers"]:
            condition = bank[answer["question"]].enable_when
            if answer["question"] in values:
                continue  # the intake given beside the story wins
            if condition is not None and values.get(condition.question) != condition.answer:
                continue  # e.g. a pregnancy read from a story whose intake says male: the interview asks
            answers.append(answer)
            values[answer["question"]] = answer["value"]
        return self.begin(Interview.from_dict({**told, "answers": answers}, self.knowledge)), reading

    def begin(self, interview: Interview, redo: Sequence[Redo] = ()) -> Session:
        """Save a new session for an interview already under way (e.g. one built from a description)."""
        session = Session("", interview, tuple(redo))
        record = self.store.create_interview(session.state())
        session.id = record.id
        return session

    # --- loading -----------------------------------------------------------------------------------

    def load(self, session_id: str) -> Session:
        """Return the session with this id, its state checked whole.

        Raises:
            NotFoundError: There is no session with this id.
            SessionConflictError: ``unreadable``: its state is damaged or no longer fits the bank.
        """
        record = self.store.get_interview(session_id)
        if record is None:
            raise NotFoundError(
                "there is no interview session with this id",
                location="interview_id",
                expected="the id returned when the interview was started",
                got=session_id,
            )
        return self.session_of(record)

    def session_of(self, record: InterviewRecordLike) -> Session:
        """Read a saved record into a session (see :meth:`load`)."""
        state = record.state
        if (
            set(state) != _STATE_KEYS
            or state.get("format") != STATE_FORMAT
            or state.get("version") != STATE_VERSION
        ):
            raise _unreadable(record.id, "a session saved by pinchpoint")
        try:
            interview = Interview.from_dict(state["interview"], self.knowledge)
        except InvalidSessionError as exc:
            raise _unreadable(record.id, exc.expected or "answers that fit the question bank") from exc
        redo = state["redo"]
        if not isinstance(redo, list) or not all(isinstance(r, dict) and set(r) == _REDO_KEYS for r in redo):
            raise _unreadable(record.id, "a list of answers taken back")
        self._resume(interview, state["interview"], state["asked"])
        return Session(
            record.id, interview, tuple(Redo(r["question"], r["value"]) for r in redo), record.assessment_id
        )

    def _resume(self, interview: Interview, saved: Mapping[str, Any], asked: object) -> None:
        """Take the question recorded as asked, when it was chosen with this knowledge version."""
        if not isinstance(asked, dict) or set(asked) != _ASKED_KEYS:
            return
        if saved.get("knowledge_version") != self.knowledge.version:
            return
        question, phase, open_rules = asked["question"], asked["phase"], asked["open_red_flags"]
        if (
            (question is None or isinstance(question, str))
            and (phase is None or isinstance(phase, str))
            and isinstance(open_rules, int)
            and not isinstance(open_rules, bool)
        ):
            interview.resume_choice(question, phase, open_rules)

    # --- steps -------------------------------------------------------------------------------------

    def check_asked(self, session: Session, question_id: str) -> Question:
        """Return the question asked now, which ``question_id`` must name.

        Raises:
            SessionConflictError: ``saved`` (checked first), ``finished`` or ``wrong_question``.
            InvalidAnswerError: ``question_id`` is no question of the bank (field ``question``).
        """
        _open(session)
        if question_id not in self.knowledge.questions.questions:
            raise InvalidAnswerError(
                "there is no question with this id",
                location="question",
                expected="the id of the question asked now, as GET /interviews/{id} gives it",
                got=question_id,
            )
        current = session.question
        if current is None:
            raise SessionConflictError(
                "finished",
                "the interview has finished; take an answer back to change it",
                location="question",
                expected="no further answer",
                got=question_id,
            )
        if current.id != question_id:
            raise SessionConflictError(
                "wrong_question",
                "this question is not the one asked now",
                location="question",
                expected=f"an answer to {current.id!r}",
                got=question_id,
            )
        return current

    def answer(self, session: Session, question_id: str, value: object) -> Session:
        """Answer the question asked now (``None``: don't know), choose the next one, and save.

        An answer to the question of the last answer taken back uses that redo entry up; an
        answer to another question empties the redo stack (what came after may no longer be asked).

        Raises:
            InvalidAnswerError: The question id is unknown, or the value does not fit.
            SessionConflictError: As :meth:`check_asked`.
        """
        question = self.check_asked(session, question_id)
        session.interview.answer(question.id, value)
        if session.redo and session.redo[-1].question == question.id:
            session.redo = session.redo[:-1]
        elif session.redo:
            session.redo = ()
        return self._save(session)

    def back(self, session: Session) -> Session:
        """Take the last answer back and save; it goes on the redo stack, to give again.

        Raises:
            SessionConflictError: ``saved``, or ``no_answer`` when nothing has been answered.
        """
        _open(session)
        if not session.interview.answers:
            raise SessionConflictError(
                "no_answer",
                "there is no answer to take back",
                location="interview_id",
                expected="a session with at least one answer",
                got=session.id,
            )
        _take_back(session)
        return self._save(session)

    def forward(self, session: Session) -> Session:
        """Give again the answer last taken back from the question asked now, and save.

        Raises:
            SessionConflictError: ``saved``, ``no_redo`` (nothing to give again here), or
                ``redo_refused`` (the answer no longer fits its question).
        """
        _open(session)
        question = session.question
        if question is None or not session.can_forward:
            raise SessionConflictError(
                "no_redo",
                "there is no answer taken back to give again",
                location="interview_id",
                expected="a session whose last answer was taken back",
                got=session.id,
            )
        try:
            session.interview.answer(question.id, session.redo[-1].value)
        except InvalidAnswerError as exc:
            raise SessionConflictError(
                "redo_refused",
                f"the answer taken back cannot be given again: {exc.problem}",
                location="interview_id",
                expected=exc.expected,
                got=exc.got,
            ) from exc
        session.redo = session.redo[:-1]
        return self._save(session)

    # --- results -----------------------------------------------------------------------------------

    def result(
        self, session: Session, *, case_id: str = "interview", early_emergency: bool = False
    ) -> Assessment:
        """The assessment of a finished session (not saved).

        Args:
            session: The session.
            case_id: The case id the assessment carries.
            early_emergency: Also give it before the questions are finished when the answers
                already make the triage an emergency (what to do now comes first).

        Raises:
            SessionConflictError: ``not_finished``: a result now could understate the urgency.
        """
        current = session.question
        if current is not None and not (early_emergency and session.interview.emergency):
            raise SessionConflictError(
                "not_finished",
                "the interview has not finished: a result now could understate the urgency",
                location="interview_id",
                expected=f"an answer to {current.id!r} first (null for don't know)",
                got=session.id,
            )
        return session.interview.assessment(case_id=case_id)

    def finish(self, session: Session) -> str:
        """Save the assessment of a finished session (or of an emergency at once); return its id.

        The assessment and the link from the session to it are saved in one transaction.

        Raises:
            SessionConflictError: ``saved`` or ``not_finished``.
            StoreError: There is no result store, or it failed (nothing is saved then).
        """
        _open(session)
        assessment = self.result(session, early_emergency=True)
        if self.results is None:
            raise _no_results()
        findings = {k: list(v) if isinstance(v, tuple) else v for k, v in session.interview.findings.items()}
        record = self.results.save_assessment(
            case={"id": "interview", "findings": findings},
            result=to_contract(assessment),
            mode=session.interview.mode,
            interview_id=session.id,
        )
        session.assessment_id = str(record.id)
        return session.assessment_id

    def reopen(self, session: Session) -> Session:
        """Change the answers of a finished session: a new session with every answer, the last taken back.

        The new session resumes at the last question, offered again with "forward", so the person
        may go further back. The finished session and its saved result stay as they are. A
        session not finished is returned as it is.
        """
        if not session.saved:
            return session
        reopened = Session("", session.interview, session.redo)
        if reopened.interview.answers:
            _take_back(reopened)
        return self.begin(reopened.interview, reopened.redo)

    def reopenable(self, assessment_id: str) -> Session | None:
        """The session an assessment finished, if it can still be loaded and so reopened; else None."""
        if self.results is None:
            return None
        record = self.results.interview_of_assessment(assessment_id)
        if record is None:
            return None
        try:
            return self.session_of(record)
        except SessionConflictError:
            return None

    def _save(self, session: Session) -> Session:
        self.store.update_interview(session.id, session.state())
        return session


def _take_back(session: Session) -> None:
    """Take the last answer back and put it on the redo stack as saved JSON."""
    interview = session.interview
    taken = interview.back()
    question = interview.knowledge.questions[taken.question]
    session.redo = (*session.redo, Redo(taken.question, saved_value(question, taken.findings)))


def _open(session: Session) -> None:
    if session.saved:
        raise SessionConflictError(
            "saved",
            "the interview is finished and its result saved; start a new one to change answers",
            location="interview_id",
            expected="a session not finished yet",
            got=session.id,
        )


def _unreadable(session_id: str, expected: str) -> SessionConflictError:
    # The bank changed under a saved session so that an answer no longer fits, or the state is
    # damaged: the session cannot be resumed, but it is not the client's request that is wrong.
    return SessionConflictError(
        "unreadable",
        "the saved session no longer fits the question bank; start a new interview",
        location="interview_id",
        expected=expected,
        got=session_id,
    )


def _no_results() -> StoreError:
    return StoreError(
        "there is nowhere to save the result of an interview",
        location="finishing an interview",
        expected="an interview service built with a result store",
    )
