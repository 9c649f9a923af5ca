"""The result page's "not yet answered" warning signs come from the triage rules, not from a warning's words.

For every development case: the signs listed are the bases of the unknown findings a person
can answer that could still make an emergency rule fire (none once it is an emergency); each
is unknown and tested by an emergency rule; answering one "no" removes it and adds none;
every other warning is kept as it is.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from pinchpoint.core.case import Case, parse_case
from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.triage import unanswered_signs
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case
from pinchpoint.web.content import WebContent
from pinchpoint.web.views import result_view
from tests.corpus import shared_case_params

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}


def _emergency_bases(knowledge: Knowledge) -> set[str]:
    specs = knowledge.vocabulary.findings
    return {
        specs[finding].base
        for rule in knowledge.triage.rules
        if rule.level == Urgency.EMERGENCY
        # What a rule reads only "unless known otherwise" (its time course) already counts
        # at its most urgent while unknown: it is no unasked sign.
        for finding in rule.flags
    }


def _stated_bases(case: Case, knowledge: Knowledge) -> set[str]:
    return {knowledge.vocabulary.findings[finding].base for finding in case.findings}


@pytest.mark.parametrize("path", shared_case_params())
def test_the_unasked_signs_are_the_emergency_findings_the_case_leaves_unknown(
    path: Path, knowledge: Knowledge, content: WebContent
) -> None:
    """Listed: the open emergency signs a person can answer, in words; none in an emergency."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    view = result_view(assessment, knowledge, content, findings=case.findings)
    listed = {sign.finding for sign in view.unasked}
    assert len(listed) == len(view.unasked)  # each sign once
    if assessment.triage == Urgency.EMERGENCY:
        assert listed == set()
    else:
        signs = unanswered_signs(case.findings, knowledge)
        specs = knowledge.vocabulary.findings
        assert listed == {specs[finding].base for finding in signs}
        assert listed <= _emergency_bases(knowledge)
        assert not set(signs) & case.findings.keys()
        assert not any(base.startswith("exam.") for base in listed)  # a person cannot answer these
    descriptions = {spec.base: spec.description for spec in knowledge.vocabulary.findings.values()}
    for sign in view.unasked:
        assert sign.question == descriptions[sign.finding]
    # The triage's own warning about them is not repeated in its raw form.
    assert not [w for w in view.other_warnings if "not yet asked" in w]


@pytest.mark.parametrize("path", shared_case_params())
def test_answering_an_unasked_sign_removes_it_and_only_it(
    path: Path, knowledge: Knowledge, content: WebContent
) -> None:
    """Answering no to one unasked yes/no sign: it leaves the list, and no new sign appears."""
    case = read_case(path, knowledge.vocabulary)
    view = result_view(assess(case, knowledge), knowledge, content, findings=case.findings)
    specs = knowledge.vocabulary.findings
    yes_no = {
        sign.finding: [f for f, spec in specs.items() if spec.base == sign.finding and f not in case.findings]
        for sign in view.unasked
    }
    answerable = [base for base, ids in yes_no.items() if ids and all(specs[f].type == "bool" for f in ids)]
    if not answerable:  # an emergency asks about nothing more: the list is empty
        assert view.unasked == ()
        assert view.assessment.triage == Urgency.EMERGENCY
        return
    base = answerable[0]
    answered = Case(id=case.id, findings={**case.findings, **dict.fromkeys(yes_no[base], False)})
    after = result_view(assess(answered, knowledge), knowledge, content, findings=answered.findings)
    assert {s.finding for s in after.unasked} <= {s.finding for s in view.unasked} - {base}


@pytest.mark.parametrize("path", shared_case_params())
def test_every_other_warning_is_kept_word_for_word(
    path: Path, knowledge: Knowledge, content: WebContent
) -> None:
    """An interview's or a saved warning is never taken for the triage's, even one naming finding ids."""
    case = read_case(path, knowledge.vocabulary)
    assessment = assess(case, knowledge)
    foreign = (
        "You were not sure about this warning sign: new trouble passing urine.",
        "emergency warning signs not yet asked about: saddle_numbness",  # older wording: kept, not parsed
    )
    with_extra = replace(assessment, warnings=(*foreign, *assessment.warnings))
    view = result_view(with_extra, knowledge, content, findings=case.findings)
    kept = [w for w in foreign if w not in assessment.warnings]
    assert [w for w in view.other_warnings if w in foreign] == kept
    assert not set(view.other_warnings) & set(assessment.warnings)


def test_the_result_page_asks_the_unasked_signs_by_their_finding(
    client: TestClient, knowledge: Knowledge
) -> None:
    """An almost empty self-check: the page lists every open emergency sign in words, marked with its id."""
    response = client.post(
        "/check/form", content=urlencode([("age", "40")]), headers=_SAME_ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    shown = set(re.findall(r'<li data-finding="([^"]+)">', page))
    saved = client.get("/api" + response.headers["location"]).json()["case"]["findings"]
    stated = {knowledge.vocabulary.findings[finding].base for finding in saved}
    assert "age" in stated
    specs = knowledge.vocabulary.findings
    assert shown == {
        specs[f].base
        for f in unanswered_signs(parse_case({"findings": saved}, knowledge.vocabulary).findings, knowledge)
    }
    assert shown <= _emergency_bases(knowledge) - stated
    assert "urinary_retention" in shown
    assert "not yet asked about" not in page
