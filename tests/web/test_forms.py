"""Tests of :mod:`pinchpoint.web.forms`: submitted text becomes a checked case, or clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.web.content import WebContent
from pinchpoint.web.forms import FORM_LEVEL, build_page, findings_to_form, page_ids, parse_form
from tests.corpus import shared_case_params


@pytest.mark.parametrize(
    ("items", "findings"),
    [
        (
            [("urinary_retention", "yes"), ("saddle_numbness", "no")],
            {"urinary_retention": True, "saddle_numbness": False},
        ),
        ([("urinary_retention", "")], {}),  # don't know: unknown, left out
        ([("age", " 42 "), ("sex", "female")], {"age": 42, "sex": "female"}),
        ([("bmi", "27,5")], {"bmi": 27.5}),  # a decimal comma is read as a point
        (
            [("foot_drop.left", "yes"), ("foot_drop.right", "no")],
            {"foot_drop.left": True, "foot_drop.right": False},
        ),
        (
            [("pain_regions", "buttock.left"), ("pain_regions", "calf_posterior.left")],
            {"pain_regions": ("buttock.left", "calf_posterior.left")},
        ),
        ([("pain_severity", "")], {}),
        ([("numbness_regions", "none")], {"numbness_regions": ()}),  # asked: nowhere
    ],
)
def test_self_check_answers_become_findings(
    knowledge: Knowledge, content: WebContent, items, findings
) -> None:
    """Yes, no, numbers, choices and body-map regions are converted; empty answers stay unknown."""
    result = parse_form(items, "self_check", knowledge, content)
    assert result.errors == {}
    assert dict(result.case.findings) == findings


@pytest.mark.parametrize(
    ("items", "key", "message"),
    [
        (
            [("age", "abc")],
            "age",
            "Age in years: enter a whole number from 0 to 120, or leave it empty. You entered abc.",
        ),
        (
            [("age", "200")],
            "age",
            "Age in years: enter a whole number from 0 to 120, or leave it empty. You entered 200.",
        ),
        (
            [("bmi", "inf")],
            "bmi",
            "Body mass index: enter a number from 8 to 90, or leave it empty. You entered inf.",
        ),
        (
            [("fever", "maybe")],
            "fever",
            "Fever, shivers or night sweats along with the pain: choose yes, no or don't know.",
        ),
        (
            [("sex", "other")],
            "sex",
            "Sex: this answer cannot be used; expected one of female, male. You entered other.",
        ),
        (
            [("pain_regions", "knee.left")],
            "pain_regions",
            "Where it hurts: this answer cannot be used; expected a region id of the vocabulary, "
            "e.g. heel.left, knee_medial.left, sole.left. You entered knee.left.",
        ),
        (
            [("pain_regions", "none"), ("pain_regions", "buttock.left")],
            "pain_regions",
            'Where it hurts: mark the places, or "nowhere", not both.',
        ),
        (
            [("fever", "yes"), ("fever", "no")],
            "fever",
            "Fever, shivers or night sweats along with the pain: this question was answered "
            "twice; give one answer.",
        ),
        (
            [("exam.slr.left", "yes")],
            FORM_LEVEL,
            "The form sent a field this page does not have ('exam.slr.left'). Reload the page "
            "and fill it in again.",
        ),
    ],
)
def test_bad_answers_get_a_message_at_their_field(knowledge, content, items, key, message) -> None:
    """Each wrong answer is reported at its own field, in words a person can act on, and no case is made."""
    result = parse_form(items, "self_check", knowledge, content)
    assert result.case is None
    assert result.errors == {key: message}


def test_every_problem_is_reported_at_once(knowledge: Knowledge, content: WebContent) -> None:
    """Three wrong answers give three messages, and the right answers are kept to show again."""
    items = [("age", "x"), ("fever", "perhaps"), ("exam.power.hip_flexion.left", "7"), ("sex", "male")]
    result = parse_form(items, "clinician", knowledge, content)
    assert set(result.errors) == {"age", "exam.power.hip_flexion.left"} | (
        {"fever"} & set(page_ids("clinician", knowledge, content))
    )
    assert result.errors["exam.power.hip_flexion.left"] == (
        "Hip flexion, left: this answer cannot be used; expected a whole number from 0 to 5. You entered 7."
    )
    assert result.values["sex"] == "male"


@pytest.mark.parametrize("path", shared_case_params())
@pytest.mark.parametrize("page", ["self_check", "clinician"])
def test_a_saved_case_fills_the_form_again(
    knowledge: Knowledge, content: WebContent, path: Path, page
) -> None:
    """The findings of a case, shown in a page's form and submitted, come back unchanged."""
    case = read_case(path, knowledge.vocabulary)
    on_page = {k: v for k, v in case.findings.items() if k in page_ids(page, knowledge, content)}
    values = findings_to_form(on_page)
    items = [(k, item) for k, v in values.items() for item in (v if isinstance(v, tuple) else (v,))]
    result = parse_form(items, page, knowledge, content)
    assert result.errors == {}
    assert dict(result.case.findings) == on_page


def test_every_field_has_a_label_and_the_grids_cover_every_movement(knowledge, content) -> None:
    """Each field has a question; the power grid has a row per movement with a select per side."""
    sections = build_page("clinician", knowledge, content)
    fields = [field for section in sections for field in section.fields]
    assert all(field.label for field in fields)
    power = next(field for field in fields if field.base == "exam.power")
    assert [row.item for row in power.rows] == list(knowledge.vocabulary.movements)
    assert all(len(row.ids) == len(knowledge.vocabulary.sides) for row in power.rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_submission_is_a_case_or_messages_never_a_crash(knowledge, content, data) -> None:
    """Whatever a form sends (known or unknown fields, any text), the answer is a case or field messages."""
    names = [*sorted(page_ids("clinician", knowledge, content)), "junk", ""]
    values = st.one_of(
        st.sampled_from(
            ["", "yes", "no", "0", "5", "-1", "3.5", "nan", "left", "normal", "none", "buttock.left"]
        ),
        st.text(max_size=12),
    )
    items = data.draw(st.lists(st.tuples(st.sampled_from(names), values), max_size=12))
    result = parse_form(items, "clinician", knowledge, content)
    assert (result.case is None) == bool(result.errors)
    assert all(isinstance(message, str) and message for message in result.errors.values())
