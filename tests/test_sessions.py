"""The interview session service: one state format, the question chosen once per answer, one value reader."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import InvalidAnswerError, NotFoundError
from pinchpoint.service.sessions import (
    STATE_FORMAT,
    STATE_VERSION,
    InterviewService,
    SessionConflictError,
    upgrade_state,
)
from pinchpoint.service.store import MemoryInterviewStore
from pinchpoint.service.values import from_text, json_answer, number_from_text, to_text

_INTAKE = {"age": 44, "sex": "male", "pain_regions": ["low_back"]}


@pytest.fixture
def service(knowledge: Knowledge) -> InterviewService:
    return InterviewService(knowledge, MemoryInterviewStore())


def _choices(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every choice of the next question the interview makes."""
    calls: list[int] = []
    choose = Interview._choose

    def counted(self: Interview) -> Any:
        calls.append(1)
        return choose(self)

    monkeypatch.setattr(Interview, "_choose", counted)
    return calls


def test_the_next_question_is_chosen_once_per_answer(
    service: InterviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answer, then show the question (as a POST and the GET after it do): one choice, not two."""
    session = service.start(intake=_INTAKE)
    calls = _choices(monkeypatch)
    for _ in range(3):
        loaded = service.load(session.id)  # the request that answers
        question = loaded.question
        assert question is not None
        service.answer(loaded, question.id, None)
        shown = service.load(session.id)  # the request that shows the next question
        assert shown.question is not None
        shown.interview.progress()
    assert len(calls) == 3


def test_the_recorded_question_is_the_one_the_interview_would_choose(service: InterviewService) -> None:
    """Resuming the recorded choice gives the same question, phase and progress as choosing again."""
    session = service.start(intake=_INTAKE)
    for _ in range(4):
        question = session.question
        assert question is not None
        service.answer(session, question.id, None)
        record = service.store.get_interview(session.id)
        assert record is not None
        fresh = Interview.from_dict(record.state["interview"], service.knowledge)
        resumed = service.load(session.id).interview
        assert resumed.next_question() == fresh.next_question()
        assert resumed.progress() == fresh.progress()


def test_a_choice_saved_with_other_knowledge_or_that_does_not_fit_is_made_again(
    service: InterviewService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorded question is trusted only with the same knowledge version, and only when it fits."""
    session = service.start(intake=_INTAKE)
    state = service.store.get_interview(session.id).state  # type: ignore[union-attr]
    expected = session.question
    stale = {**state, "interview": {**state["interview"], "knowledge_version": "0.0.0+old"}}
    unfit = {**state, "asked": {"question": "age", "phase": "intake", "open_red_flags": 0}}  # answered
    for variant in (stale, unfit):
        service.store.update_interview(session.id, variant)
        calls = _choices(monkeypatch)
        assert service.load(session.id).question == expected
        assert len(calls) == 1
        monkeypatch.undo()


def test_the_state_is_the_one_format(service: InterviewService) -> None:
    """Saved: format, version, the interview, the question asked and the redo stack; back fills redo."""
    session = service.start(intake=_INTAKE)
    first = session.question
    assert first is not None
    service.answer(session, first.id, None)
    service.back(session)
    state = service.store.get_interview(session.id).state  # type: ignore[union-attr]
    assert set(state) == {"format", "version", "interview", "asked", "redo"}
    assert (state["format"], state["version"]) == (STATE_FORMAT, STATE_VERSION)
    assert state["asked"]["question"] == first.id
    assert [r["question"] for r in state["redo"]] == [first.id]
    assert all(v is None for v in dict(state["redo"][0]["value"] or {}).values())  # "don't know" kept
    assert service.load(session.id).can_forward
    service.forward(service.load(session.id))
    assert service.store.get_interview(session.id).state["redo"] == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("step", "conflict"),
    [
        (lambda service, session: service.back(session), "no_answer"),
        (lambda service, session: service.forward(session), "no_redo"),
        (lambda service, session: service.result(session), "not_finished"),
        (lambda service, session: service.answer(session, "bladder_bowel", None), "wrong_question"),
    ],
)
def test_a_step_that_does_not_fit_the_state_is_a_named_conflict_and_changes_nothing(
    knowledge: Knowledge, step: Any, conflict: str
) -> None:
    """Each refused step says which conflict it is (the front ends word it) and saves nothing."""
    service = InterviewService(knowledge, MemoryInterviewStore())
    session = service.start()
    before = service.store.get_interview(session.id).state  # type: ignore[union-attr]
    with pytest.raises(SessionConflictError) as caught:
        step(service, service.load(session.id))
    assert caught.value.conflict == conflict
    assert service.store.get_interview(session.id).state == before  # type: ignore[union-attr]


def test_unknown_sessions_and_unknown_questions_are_named(service: InterviewService) -> None:
    """No session: NotFoundError at interview_id; no such question: InvalidAnswerError at question."""
    with pytest.raises(NotFoundError) as missing:
        service.load("0" * 32)
    assert missing.value.location == "interview_id"
    session = service.start()
    with pytest.raises(InvalidAnswerError) as unknown:
        service.answer(session, "favourite_colour", "blue")
    assert unknown.value.location == "question"


@pytest.mark.parametrize(
    ("state", "interview", "redo"),
    [
        (
            {"format": "pinchpoint-web-interview", "interview": {"x": 1}, "redo": [{"q": 1}]},
            {"x": 1},
            [{"q": 1}],
        ),
        (
            {"format": "pinchpoint-interview", "version": 1},
            {"format": "pinchpoint-interview", "version": 1},
            [],
        ),
    ],
)
def test_both_older_formats_are_upgraded(state: dict[str, Any], interview: Any, redo: Any) -> None:
    """The web wrapper keeps its redo stack; a bare interview gets an empty one; no question is recorded."""
    assert upgrade_state(state) == {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "interview": interview,
        "asked": None,
        "redo": redo,
    }


@pytest.mark.parametrize("state", [{}, {"format": STATE_FORMAT}, {"format": "pinchpoint-web-interview"}])
def test_anything_else_is_not_upgraded(state: dict[str, Any]) -> None:
    assert upgrade_state(state) is None


# --- values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("bool", "yes", True),
        ("bool", "no", False),
        ("bool", "maybe", "maybe"),  # passed on for the core to refuse with its message
        ("bool", "dont_know", None),
        ("int", "", None),
        ("int", "52", 52),
        ("int", "52.0", 52),
        ("int", "5,5", "5,5"),
        ("int", "5.5", "5.5"),
        ("number", "5,5", 5.5),
        ("number", "inf", "inf"),
        ("number", "x", "x"),
        ("enum", "male", "male"),
    ],
)
def test_form_text_is_read_as_the_core_takes_it(kind: str, text: str, value: object) -> None:
    assert from_text(kind, text) == value
    assert type(from_text(kind, text)) is type(value)


@given(st.one_of(st.booleans(), st.integers(-(10**6), 10**6), st.none(), st.sampled_from(["male", "female"])))
def test_form_text_written_is_read_back(value: object) -> None:
    """to_text then from_text gives the value back (whole numbers, yes/no, choices, don't know)."""
    kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "enum"
    assert from_text(kind, str(to_text(value))) == value


def test_region_lists_are_written_as_checkboxes() -> None:
    assert to_text(["low_back", "buttock.left"]) == ("low_back", "buttock.left")
    assert to_text([]) == ("none",)


def test_json_numbers_with_a_zero_fraction_are_whole(knowledge: Knowledge) -> None:
    """3.0 in JSON is the whole number a finding of type int takes; 3.5 is left for the core to refuse."""
    bank = knowledge.questions
    assert json_answer(bank["age"], 44.0, knowledge.vocabulary) == 44
    assert type(json_answer(bank["age"], 44.0, knowledge.vocabulary)) is int
    assert json_answer(bank["age"], 44.5, knowledge.vocabulary) == 44.5
    assert number_from_text(" 7 ", whole=True) == 7
