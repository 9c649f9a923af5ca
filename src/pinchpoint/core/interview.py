"""The adaptive interview: the fewest questions to a safe, accurate assessment.

An :class:`Interview` holds the answers so far and nothing else, so it can be saved
(:meth:`Interview.to_dict`) and resumed (:meth:`Interview.from_dict`) by any front end.
:meth:`Interview.next_question` chooses what to ask:

1. **Intake** first: age, sex and where it hurts.
2. **Red-flag screen**: while a triage rule more urgent than the current triage could still
   fire, ask the question that rules out the most of them, weighting more urgent rules
   first (a rule at level *n* weighs ``10**n``), ties broken by expected information gain.
   The interview never stops while such a rule is open. In a self-check a "don't know"
   answer counts as possibly present, as the triage counts it: a rule that needs it and
   another finding still to ask stays open, so nothing is reported to the person as a
   warning sign left open without having been asked.
3. **Narrowing down**: ask the question with the largest expected fall in uncertainty over
   lesion site plus cause (:mod:`pinchpoint.core.selection`), until the best gain falls below
   ``selection.min_gain``, the leading site and cause are both settled, or
   ``max_diagnostic_questions`` were asked. A finding that defines a cause (causes.yaml
   ``defining``) and that a question may still ask is not yet silent, so its cause keeps its
   full weight while questions are chosen; and the interview does not stop on a leading cause
   whose defining finding it could still ask: it asks that first (a blood thinner before a
   bleed, a painful hip movement before the hip joint).

In a self-check an emergency acts at once: as soon as the known findings make a rule of
level emergency fire, the interview has nothing more to ask, whatever phase it is in, so
that every front end shows the person what to do now instead of the next question. A
clinician's interview goes on (what the other red flags name changes what is done), and
the front ends show the emergency beside each question (:attr:`Interview.emergency`).

"Don't know" is a valid answer: the finding stays unknown and is never asked again. An
unknown finding never fires a triage rule, so the interview does not let it pass silently:
:meth:`Interview.warnings` names every urgent or emergency red flag that is unknown and
could change the triage, and :meth:`Interview.assessment` carries those warnings.

A wrong answer (wrong type, out of range, or for a question that is not the one asked) is
refused with :class:`~pinchpoint.errors.InvalidAnswerError` and leaves the session as it was.
No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from pinchpoint.core.case import Case, FindingValue
from pinchpoint.core.engine import assess
from pinchpoint.core.questions import MODES, Mode, Question
from pinchpoint.core.screen import screen_for
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import InvalidAnswerError, InvalidSessionError, PinchpointError

if TYPE_CHECKING:
    from pinchpoint.core.assessment import Assessment
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.screen import ScreenRule

__all__ = ["SESSION_FORMAT", "SESSION_VERSION", "Answer", "Interview", "Phase", "Progress", "UnknownRedFlag"]

SESSION_FORMAT = "pinchpoint-interview"
SESSION_VERSION = 1

Phase = Literal["intake", "screening", "diagnostic"]
_PHASES: tuple[Phase, ...] = ("intake", "screening", "diagnostic")
_SESSION_KEYS = ("format", "version", "mode", "knowledge_version", "answers")
_ANSWER_KEYS = ("question", "value", "phase")
_RULE_WEIGHT_BASE = 10.0
_WARNED_LEVEL = Urgency.URGENT


@dataclass(frozen=True, slots=True)
class Answer:
    """One answered question: the finding values it set (``None``: don't know) and its phase."""

    question: str
    findings: Mapping[str, FindingValue | None]
    phase: Phase

    @property
    def dont_know(self) -> bool:
        """Whether every finding of the answer is unknown."""
        return all(value is None for value in self.findings.values())

    @property
    def stated(self) -> bool:
        """Whether this is part of a question stated before the interview, the rest still to ask.

        A confirmed description may state one item of a form ("I cannot pass urine") and
        none of the others: the stated items count at once, and the question is asked
        again for the rest (:func:`pinchpoint.io.freetext.interview_from_findings`).
        """
        values = self.findings.values()
        return (
            self.phase == "intake" and any(v is None for v in values) and any(v is not None for v in values)
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the interview is: questions answered, red-flag rules still open, current phase."""

    answered: int
    open_red_flags: int
    phase: Phase | None


@dataclass(frozen=True, slots=True)
class UnknownRedFlag:
    """A red-flag rule that could change the triage if an answer given as "don't know" were yes."""

    rule: str
    level: Urgency
    question: str
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Choice:
    question: Question | None
    phase: Phase | None
    open_rules: int


class Interview:
    """A resumable interview session over one knowledge base.

    Create one with :meth:`start` or :meth:`from_dict`. The session is the list of
    answers; every method that changes it checks first and changes nothing on error.

    Example:
        Start from the intake, then ask and answer until ``next_question()`` is ``None``::

            interview = Interview.start(
                knowledge, intake={"age": 44, "sex": "male", "pain_regions": ["low_back"]}
            )
            while (question := interview.next_question()) is not None:
                interview.answer(question.id, ask_the_person(question))  # None: don't know
            assessment = interview.assessment()

        Answering the cauda equina screen (``bladder_bowel``) with
        ``{"urinary_retention": True}`` makes the triage ``emergency``.
    """

    def __init__(self, knowledge: Knowledge, mode: Mode, answers: Sequence[Answer] = ()) -> None:
        if mode not in MODES:
            raise InvalidAnswerError(
                "unknown interview mode", location="interview mode", expected=" or ".join(MODES), got=mode
            )
        self._knowledge = knowledge
        self._mode: Mode = mode
        self._answers: tuple[Answer, ...] = tuple(answers)
        self._choice: _Choice | None = None

    # --- creating -------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        knowledge: Knowledge,
        *,
        mode: Mode = "self_check",
        intake: Mapping[str, object] | None = None,
    ) -> Interview:
        """Start an interview, optionally with the intake questions already answered.

        Args:
            knowledge: The knowledge base (with its question bank).
            mode: ``"self_check"`` (the person answers; no examination questions) or
                ``"clinician"`` (examination questions too, clinician wording).
            intake: Answers to intake questions by question id (``age``, ``sex``,
                ``pain_regions``); ``None`` is "don't know".

        Raises:
            InvalidAnswerError: The mode is unknown, or an intake answer names a question
                that is not an intake question or does not fit it.
        """
        interview = cls(knowledge, mode)
        bank = knowledge.questions
        answers: list[Answer] = []
        for question_id, value in (intake or {}).items():
            if question_id not in bank.intake:
                raise InvalidAnswerError(
                    "the intake names a question that is not an intake question",
                    location="interview intake",
                    expected="one of " + ", ".join(bank.intake),
                    got=question_id,
                )
            question = bank[question_id]
            answers.append(Answer(question_id, question.normalise(value, knowledge.vocabulary), "intake"))
        interview._answers = tuple(answers)
        return interview

    # --- reading ----------------------------------------------------------------------------------------

    @property
    def knowledge(self) -> Knowledge:
        """The knowledge base the interview reasons with."""
        return self._knowledge

    @property
    def mode(self) -> Mode:
        """``"self_check"`` or ``"clinician"``."""
        return self._mode

    @property
    def answers(self) -> tuple[Answer, ...]:
        """The answers so far, oldest first."""
        return self._answers

    @property
    def findings(self) -> Mapping[str, FindingValue]:
        """The known findings: every answered value that is not "don't know"."""
        known = {
            finding: value
            for answer in self._answers
            for finding, value in answer.findings.items()
            if value is not None
        }
        return MappingProxyType(known)

    @property
    def asked(self) -> frozenset[str]:
        """The ids of the questions answered so far (a question only partly stated is still to ask)."""
        return frozenset(answer.question for answer in self._answers if not answer.stated)

    @property
    def emergency(self) -> bool:
        """Whether the known findings already make a rule of level emergency fire."""
        return self._knowledge.triage.evaluate(self.findings)[0] >= Urgency.EMERGENCY

    @property
    def finished(self) -> bool:
        """Whether the interview has nothing more to ask."""
        return self.next_question() is None

    def next_question(self) -> Question | None:
        """Return the question to ask now, or ``None`` when the interview is finished."""
        return self._chosen().question

    @property
    def phase(self) -> Phase | None:
        """The phase of the question to ask now (``None`` when finished)."""
        return self._chosen().phase

    def progress(self) -> Progress:
        """Return the number of answers, the red-flag rules still open and the current phase."""
        choice = self._chosen()
        return Progress(sum(1 for a in self._answers if a.phase != "intake"), choice.open_rules, choice.phase)

    def resume_choice(self, question_id: str | None, phase: str | None, open_red_flags: int) -> bool:
        """Take back the choice of :meth:`next_question` saved with the session, instead of making it again.

        The choice is a function of the answers and the knowledge alone, so a front end that
        saved it with the same knowledge version can hand it back and spare the computation
        (the red-flag screen and the expected gains). It is taken only when it fits: a
        question of the bank, asked in this mode, not answered yet and enabled by the answers,
        in a known phase; or no question and no phase (finished). Returns whether it was taken.
        """
        bank = self._knowledge.questions
        if question_id is None:
            fits = phase is None
        else:
            question = bank.questions.get(question_id)
            answered = {a.question: a for a in self._answers}
            fits = (
                question is not None
                and phase in _PHASES
                and question_id not in self.asked
                and question.asked_in(self._mode)
                and _enabled(question, answered, bank.questions) is True
            )
        if not fits or open_red_flags < 0:
            return False
        question = None if question_id is None else bank[question_id]
        self._choice = _Choice(question, cast(Phase | None, phase), open_red_flags)
        return True

    # --- answering -------------------------------------------------------------------------------------

    def answer(self, question_id: str, value: object) -> None:
        """Answer the current question; ``None`` is "don't know".

        Args:
            question_id: The id of the question being answered: it must be the one
                :meth:`next_question` returns.
            value: For yes/no, choice, number and body-map questions one value (a region
                list for a body map; an empty list means "none"); for forms and grids a
                mapping of finding ids to values (a finding left out is not known).

        Raises:
            InvalidAnswerError: The question does not exist, is not the question asked
                now, or the value does not fit it. The session is unchanged.
        """
        choice = self._chosen()
        bank = self._knowledge.questions
        if question_id not in bank.questions:
            raise InvalidAnswerError(
                f"there is no question {question_id!r}",
                location="interview answer",
                expected="the id of the question asked now"
                + (f" ({choice.question.id!r})" if choice.question else ""),
            )
        if choice.question is None or choice.phase is None:
            raise InvalidAnswerError(
                f"question {question_id!r} was not asked: the interview has finished",
                location="interview answer",
                hint="take an answer back with back() to change it",
            )
        if question_id != choice.question.id:
            raise InvalidAnswerError(
                f"question {question_id!r} was not asked",
                location="interview answer",
                expected=f"an answer to the question asked now, {choice.question.id!r}",
            )
        findings = choice.question.normalise(value, self._knowledge.vocabulary)
        self._answers = (*self._answers, Answer(question_id, findings, choice.phase))
        self._choice = None

    def dont_know(self, question_id: str) -> None:
        """Answer the current question with "don't know" (the same as ``answer(question_id, None)``).

        Raises:
            InvalidAnswerError: The question is not the one asked now.
        """
        self.answer(question_id, None)

    def back(self) -> Answer:
        """Take back the last answer and return it; that question is asked again.

        Raises:
            InvalidAnswerError: There is no answer to take back.
        """
        if not self._answers:
            raise InvalidAnswerError(
                "there is no answer to take back", location="interview back", expected="at least one answer"
            )
        last = self._answers[-1]
        self._answers = self._answers[:-1]
        self._choice = None
        return last

    # --- results ---------------------------------------------------------------------------------------

    def assessment(self, case_id: str = "interview") -> Assessment:
        """Assess the known findings, adding the interview's own warnings (see :meth:`warnings`)."""
        case = Case(id=case_id, findings=self.findings)
        result = assess(case, self._knowledge)
        return replace(result, warnings=(*self.warnings(result.triage), *result.warnings))

    def unknown_red_flags(self, level: Urgency | None = None) -> tuple[UnknownRedFlag, ...]:
        """Return the urgent and emergency rules above ``level`` that "don't know" answers leave open.

        Args:
            level: The triage to compare with; the current triage when omitted.
        """
        findings = self.findings
        current = self._level(findings) if level is None else level
        answered = [a for a in self._answers if not a.stated]
        unknown = frozenset(f for a in answered for f, v in a.findings.items() if v is None) - findings.keys()
        flags = []
        for rule in screen_for(self._knowledge).rules:
            if rule.level < _WARNED_LEVEL or rule.level <= current:
                continue
            if screen_for(self._knowledge).truth(rule, findings, unknown) is None:
                for answer in answered:
                    ids = tuple(f for f, v in answer.findings.items() if v is None and f in rule.findings)
                    if ids:
                        flags.append(UnknownRedFlag(rule.id, rule.level, answer.question, ids))
        return tuple(flags)

    def warnings(self, level: Urgency | None = None) -> tuple[str, ...]:
        """Return the warnings of the interview, in the wording of its mode.

        One warning per question whose "don't know" answer leaves an urgent or emergency
        red flag open above the triage, and in self-check mode one saying that some signs
        need an examination (when an emergency rule tests an examination finding).
        """
        bank = self._knowledge.questions
        current = self._level(self.findings) if level is None else level
        texts: list[str] = []
        for flag in self.unknown_red_flags(current):
            question = bank[flag.question]
            text = bank.label("unknown_red_flag", self._mode).format(question=self._wording(question, flag))
            if text not in texts:
                texts.append(text)
        if self._mode == "self_check" and current < Urgency.EMERGENCY:
            examined = {f for q in bank.questions.values() if q.needs_examiner for f in q.findings}
            if any(
                rule.level == Urgency.EMERGENCY and rule.findings & examined
                for rule in screen_for(self._knowledge).rules
            ):
                texts.append(bank.label("not_examined", self._mode))
        return tuple(texts)

    def _wording(self, question: Question, flag: UnknownRedFlag) -> str:
        if question.single:
            return question.wording.text(self._mode)
        cells = [c for c in question.cells if c.finding in flag.findings]
        return "; ".join(dict.fromkeys(c.wording.text(self._mode) for c in cells)) + "."

    # --- saving ----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the session as JSON-ready data (see :meth:`from_dict` for its shape)."""
        return {
            "format": SESSION_FORMAT,
            "version": SESSION_VERSION,
            "mode": self._mode,
            "knowledge_version": self._knowledge.version,
            "answers": [
                {"question": a.question, "value": self._saved_value(a), "phase": a.phase}
                for a in self._answers
            ],
        }

    def _saved_value(self, answer: Answer) -> object:
        question = self._knowledge.questions[answer.question]
        if question.single:
            value = answer.findings[question.finding]
            return list(value) if isinstance(value, tuple) else value
        return dict(answer.findings)

    @classmethod
    def from_dict(cls, data: object, knowledge: Knowledge) -> Interview:
        """Rebuild a session from :meth:`to_dict` data, checking all of it first.

        The shape is ``{"format": "pinchpoint-interview", "version": 1, "mode": ...,
        "knowledge_version": ..., "answers": [{"question": id, "value": ..., "phase":
        "intake" | "screening" | "diagnostic"}, ...]}``; a value is what
        :meth:`answer` takes. A session saved with another knowledge version is loaded
        when every answer still fits its question.

        Raises:
            InvalidSessionError: Anything is missing, unknown, of the wrong type, answered
                twice, not asked in this mode, not enabled by the answers before it, or
                does not fit its question. Nothing is loaded in part.
        """
        table = _mapping(data, "session", _SESSION_KEYS)
        if table["format"] != SESSION_FORMAT:
            raise InvalidSessionError(
                "this is not a pinchpoint interview session",
                location="session.format",
                expected=repr(SESSION_FORMAT),
                got=table["format"],
            )
        if table["version"] != SESSION_VERSION or isinstance(table["version"], bool):
            raise InvalidSessionError(
                "the session format version is not supported",
                location="session.version",
                expected=str(SESSION_VERSION),
                got=table["version"],
            )
        mode = table["mode"]
        if mode not in MODES:
            raise InvalidSessionError(
                "unknown interview mode", location="session.mode", expected=" or ".join(MODES), got=mode
            )
        if not isinstance(table["knowledge_version"], str):
            raise InvalidSessionError(
                "the knowledge version is not text",
                location="session.knowledge_version",
                expected="a string",
                got=table["knowledge_version"],
            )
        rows = table["answers"]
        if not isinstance(rows, list):
            raise InvalidSessionError(
                "the answers are not a list", location="session.answers", expected="a list", got=rows
            )
        answers: list[Answer] = []
        for index, row in enumerate(rows):
            answers.append(_load_answer(row, f"session.answers[{index}]", answers, mode, knowledge))
        return cls(knowledge, cast(Mode, mode), answers)

    # --- choosing --------------------------------------------------------------------------------------

    def _chosen(self) -> _Choice:
        if self._choice is None:
            # In a self-check an emergency acts at once: nothing more is asked.
            stop = self._mode == "self_check" and self.emergency
            self._choice = _Choice(None, None, 0) if stop else self._choose()
        return self._choice

    def _level(self, findings: Mapping[str, FindingValue]) -> Urgency:
        predictor = self._knowledge.predictor
        _, causes = predictor.marginals(predictor.log_joint(predictor.state(findings)))
        rules = self._knowledge.triage
        level, _ = rules.evaluate(findings)
        care = rules.care_reason(dict(zip(self._knowledge.model.causes, map(float, causes), strict=True)))
        return max(level, care.level) if care is not None else level

    def _choose(self) -> _Choice:
        bank = self._knowledge.questions
        asked = self.asked
        for question_id in bank.intake:
            if question_id not in asked:
                return _Choice(bank[question_id], "intake", 0)
        findings = self.findings
        candidates, open_ids = self._candidates(asked)
        screening = self._screening(candidates, findings, open_ids)
        if screening is not None:
            return screening
        diagnostic = sum(1 for a in self._answers if a.phase == "diagnostic")
        if not candidates or diagnostic >= bank.settings.max_diagnostic_questions:
            return _Choice(None, None, 0)
        question = self._narrowing(candidates, findings, open_ids)
        return _Choice(None, None, 0) if question is None else _Choice(question, "diagnostic", 0)

    def _narrowing(
        self, candidates: list[Question], findings: Mapping[str, FindingValue], open_ids: frozenset[str]
    ) -> Question | None:
        """The next question narrowing down the site and cause; ``None`` when settled or nothing gains."""
        settings = self._knowledge.questions.settings
        predictor = self._knowledge.predictor
        state = predictor.state(findings, open_ids)
        sites, causes = predictor.marginals(predictor.log_joint(state))
        leader = int(np.argmax(causes))
        if min(sites.max(), causes.max()) >= settings.settled_probability and leader not in state.pending:
            return None
        defining = self._defining_question(candidates, leader, state.pending, open_ids)
        if defining is not None:
            return defining
        gains = self._gains(candidates, open_ids)
        best_index = int(np.argmax(gains))
        return None if gains[best_index] < settings.min_gain else candidates[best_index]

    def _screening(
        self, candidates: list[Question], findings: Mapping[str, FindingValue], open_ids: frozenset[str]
    ) -> _Choice | None:
        """The next question that could raise the triage: one settling an open rule, else a cause's care."""
        screen = screen_for(self._knowledge)
        maybe = self._dont_know(findings)
        open_rules = screen.open_rules(findings, open_ids, self._level(findings), _WARNED_LEVEL, maybe)
        screening = [q for q in candidates if any(set(q.findings) & r.findings for r in open_rules)]
        if screening:
            best = self._screen_choice(screening, open_rules, findings, open_ids, maybe)
            return _Choice(best, "screening", len(open_rules))
        raising = self._raising_cause_question(candidates, findings)
        return None if raising is None else _Choice(raising, "screening", 0)

    def _raising_cause_question(
        self, candidates: Sequence[Question], findings: Mapping[str, FindingValue]
    ) -> Question | None:
        """The first question one of whose answers defines a cause whose care would raise the triage.

        The rules are screened above; a cause lifts the triage through its care instead
        (triage.yaml ``cause_care``), so the interview does not stop while an answer that
        defines such a cause (being pregnant, a rash) is still unasked.
        """
        now = self._level(findings)
        defining: dict[str, list[FindingValue]] = {}
        for one in self._knowledge.model.defining:
            for finding, value in one.positives:
                defining.setdefault(finding, []).append(cast(FindingValue, value))
        for question in candidates:
            answers = [
                (finding, value)
                for finding in question.findings
                if finding not in findings
                for value in defining.get(finding, ())
            ]
            if any(self._level({**findings, finding: value}) > now for finding, value in answers):
                return question
        return None

    def _dont_know(self, findings: Mapping[str, FindingValue]) -> frozenset[str]:
        """In a self-check, the findings answered "don't know" and not known from another answer.

        A clinician's "not known" closes the rules it alone keeps open, as before: the result
        lists what stays open for the clinician to settle, and the interview stays short.
        """
        if self._mode != "self_check":
            return frozenset()
        return (
            frozenset(f for a in self._answers if not a.stated for f, v in a.findings.items() if v is None)
            - findings.keys()
        )

    def _candidates(self, asked: frozenset[str]) -> tuple[list[Question], frozenset[str]]:
        """Questions that may be asked now, and the findings that some question may still ask."""
        bank = self._knowledge.questions
        answered = {a.question: a for a in self._answers}
        candidates: list[Question] = []
        open_ids: set[str] = set()
        for question in bank.questions.values():
            if question.id in asked or not question.asked_in(self._mode):
                continue
            enabled = _enabled(question, answered, bank.questions)
            if enabled is False:
                continue
            open_ids.update(question.findings)
            if enabled:
                candidates.append(question)
        return candidates, frozenset(open_ids)

    def _screen_choice(
        self,
        candidates: list[Question],
        rules: Sequence[ScreenRule],
        findings: Mapping[str, FindingValue],
        open_ids: frozenset[str],
        maybe: frozenset[str],
    ) -> Question:
        screen = screen_for(self._knowledge)
        scores: list[tuple[float, float]] = []
        for question in candidates:
            closed = open_ids - set(question.findings)
            # Only a rule that tests one of the question's findings can be settled by its answer.
            touched = [r for r in rules if r.findings.intersection(question.findings)]
            resolved = sum(
                _RULE_WEIGHT_BASE**r.level
                for r in touched
                if screen.truth(r, findings, closed, maybe) is not None
            )
            scores.append((resolved, sum(_RULE_WEIGHT_BASE**r.level for r in touched)))
        top = max(scores)
        tied = [q for q, score in zip(candidates, scores, strict=True) if score == top]
        if len(tied) == 1:
            return tied[0]
        gains = self._gains(tied)
        return tied[int(np.argmax(gains))]

    def _defining_question(
        self, candidates: Sequence[Question], leader: int, pending: frozenset[int], open_ids: frozenset[str]
    ) -> Question | None:
        """The question to ask about a leading cause still to be defined, or ``None``.

        The interview does not end on a cause whose defining finding it has not asked: the
        assessment weighs such a cause down for the silence (causes.yaml ``undefined``), so
        stopping would conclude against the cause the answers point to, or for it without
        the finding that defines it. Of the questions that ask a defining finding, the one
        with the largest expected gain.
        """
        if leader not in pending:
            return None
        defining = self._knowledge.predictor.defining_findings(leader)
        asking = [q for q in candidates if defining.intersection(q.findings)]
        if not asking:
            return None
        gains = self._gains(asking, open_ids)
        return asking[int(np.argmax(gains))]

    def _gains(
        self, questions: Sequence[Question], unasked: frozenset[str] = frozenset()
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Each question's expected gain; a cause that ``unasked`` may still define weighs in full."""
        predictor = self._knowledge.predictor
        settings = self._knowledge.questions.settings
        findings = self.findings
        return predictor.expected_gains(
            predictor.state(findings, unasked),
            [_rest_of(question, findings) for question in questions],
            max_enumerated=settings.max_enumerated_answers,
            samples=settings.samples,
        )


def _rest_of(question: Question, findings: Mapping[str, FindingValue]) -> Question:
    """The part of a question still open: a form stated in part before the interview is scored on the rest.

    What the question would tell is what its answer adds; findings already known add nothing, so
    a form half answered by a confirmed story is not chosen for the half it already has. A
    question with nothing known is itself (a plain interview never has a stated form).
    """
    known = [f for f in question.findings if f in findings]
    if not known or question.single:
        return question
    rest = tuple(f for f in question.findings if f not in findings)
    return replace(
        question,
        id=f"{question.id}:{'+'.join(rest)}",
        findings=rest,
        cells=tuple(c for c in question.cells if c.finding in rest),
    )


def _enabled(
    question: Question, answered: Mapping[str, Answer], questions: Mapping[str, Question]
) -> bool | None:
    """True when the question may be asked, False when it never will be, None while it depends."""
    condition = question.enable_when
    if condition is None:
        return True
    answer = answered.get(condition.question)
    if answer is None:
        return None
    value = answer.findings.get(questions[condition.question].finding)
    return value == condition.answer and type(value) is type(condition.answer)


def _mapping(data: object, location: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidSessionError(
            "the session is not a mapping",
            location=location,
            expected="an object with the keys " + ", ".join(keys),
            got=type(data).__name__,
        )
    for key in data:
        if key not in keys:
            raise InvalidSessionError(
                f"unknown key {key!r}", location=location, expected="only the keys " + ", ".join(keys)
            )
    for key in keys:
        if key not in data:
            raise InvalidSessionError(
                f"the key {key!r} is missing", location=location, expected="the keys " + ", ".join(keys)
            )
    return data


def _load_answer(
    row: object, location: str, earlier: Sequence[Answer], mode: str, knowledge: Knowledge
) -> Answer:
    table = _mapping(row, location, _ANSWER_KEYS)
    bank = knowledge.questions
    question_id = table["question"]
    if not isinstance(question_id, str) or question_id not in bank.questions:
        raise InvalidSessionError(
            "the answer names no question of the bank",
            location=f"{location}.question",
            expected="a question id of questions.yaml",
            got=question_id,
        )
    question = bank[question_id]
    answered = {a.question: a for a in earlier}
    if question_id in answered and not answered[question_id].stated:
        raise InvalidSessionError(
            f"question {question_id!r} is answered twice",
            location=location,
            expected="one answer per question",
        )
    if not question.asked_in(cast(Mode, mode)):
        raise InvalidSessionError(
            f"question {question_id!r} needs an examiner", location=location, expected="clinician mode"
        )
    if _enabled(question, answered, bank.questions) is not True:
        raise InvalidSessionError(
            f"question {question_id!r} is answered before the answer that enables it",
            location=location,
            expected=f"an earlier answer to {question.enable_when.question!r}"
            if question.enable_when
            else "",
        )
    phase = table["phase"]
    if phase not in _PHASES:
        raise InvalidSessionError(
            "unknown phase", location=f"{location}.phase", expected=" or ".join(_PHASES), got=phase
        )
    value = table["value"]
    try:
        findings = question.normalise(value, knowledge.vocabulary)
    except PinchpointError as exc:
        raise InvalidSessionError(
            "the answer does not fit its question",
            location=f"{location}.value",
            expected=exc.expected,
            got=value,
        ) from None
    return Answer(question_id, findings, cast(Phase, phase))
