"""No internal id reaches a reader: CLI reports and FHIR display text speak in words (issue 11).

Ids are for JSON and codes. Here an id is a dotted site or finding id (``root.L5.left``,
``exam.power...``) or a snake_case id (``urinary_retention``, ``hip_joint``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from pinchpoint import assess
from pinchpoint.cli.main import main
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.results import assessment_plan_items, care_plan, risk_assessment
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.content import load_content
from pinchpoint.web.forms import findings_to_form
from tests.corpus import shared_case_params
from tests.web.answering import form_for

_ID = re.compile(r"\b(?:root|nerve|exam|plexus)\.[A-Za-z]|\b[a-z]+_[a-z_]+\b")
_WORDED_KEYS = frozenset({"display", "text", "rationale", "description", "title", "div"})


def ids_in(text: str) -> list[str]:
    return _ID.findall(text)


def _worded(document: Any) -> Iterator[str]:
    """Every string a FHIR reader is shown: display and text values, not codes or references."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key in _WORDED_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _worded(value)
    elif isinstance(document, list):
        for value in document:
            yield from _worded(value)


def test_the_id_pattern_finds_ids() -> None:
    """The check can fail: it recognises each kind of id and passes plain words."""
    assert ids_in("root.L5.left and exam.power.knee") == ["root.L", "exam.p"]
    assert ids_in("urinary_retention, hip_joint") == ["urinary_retention", "hip_joint"]
    assert ids_in("an L5 radiculopathy (left), self care, non-neural leg pain") == []


@pytest.mark.parametrize("path", shared_case_params())
def test_the_cli_report_is_in_words(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pinchpoint assess CASE` names sites, causes, findings and warnings in words."""
    assert main(["assess", str(path)]) == 0
    report = capsys.readouterr().out
    assert ids_in(report) == []


@pytest.mark.parametrize("path", shared_case_params())
def test_fhir_display_text_is_in_words(knowledge: Knowledge, path: Path) -> None:
    """The RiskAssessment and the CarePlan show words wherever FHIR shows text."""
    assessment = assess(read_case(path, knowledge.vocabulary), knowledge)
    plan, requests = care_plan(assessment_plan_items(assessment, knowledge), knowledge)
    documents = [risk_assessment(assessment, knowledge), plan, *requests]
    shown = [text for document in documents for text in _worded(json.loads(json.dumps(to_json(document))))]
    assert shown
    assert [ids for text in shown if (ids := ids_in(text))] == []


@pytest.fixture(scope="module")
def web(knowledge: Knowledge) -> Iterator[TestClient]:
    """The web app on an in-memory store."""
    store = Store.open("sqlite://")
    app = create_app(Settings(), knowledge=knowledge, content=load_content(knowledge), store=store)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client
    store.close()


_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("path", shared_case_params())
def test_the_web_result_page_is_in_words(knowledge: Knowledge, web: TestClient, path: Path) -> None:
    """The self-check form's result page shows no id in its visible text."""
    case = read_case(path, knowledge.vocabulary)
    answers = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in case.findings.items()
        if not key.startswith("exam.")  # the self-check form asks what a person can answer
    }
    items = [
        (name, item)
        for name, value in findings_to_form(answers).items()
        for item in (value if isinstance(value, tuple) else (value,))
    ]
    posted = web.post("/check/form", content=urlencode(items), headers=_SAME_ORIGIN, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    page = web.get(posted.headers["location"]).text
    visible = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    visible = html.unescape(re.sub(r"<[^>]+>", " ", visible))
    assert "pinchpoint supports" in visible
    assert ids_in(visible) == []


# --- every HTML page a development case produces -----------------------------------------------

_SESSION = re.compile(r"^/check/interviews/[0-9a-f]{32}$")
_RESULT = re.compile(r"^/assessments/[0-9a-f]{32}$")
_SHOWN_ATTRIBUTES = re.compile(r'\s(?:aria-label|title|alt|placeholder)="([^"]*)"')
_MAX_STEPS = 80


def shown_text(page: str) -> str:
    """What a reader or a screen reader meets on a page: its text and its naming attributes."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    named = " ".join(_SHOWN_ATTRIBUTES.findall(body))
    return html.unescape(re.sub(r"<[^>]+>", " ", body) + " " + named)


def _post(web: TestClient, path: str, items: list[tuple[str, str]]) -> Any:
    return web.post(path, content=urlencode(items), headers=_SAME_ORIGIN, follow_redirects=False)


def _interview_pages(web: TestClient, knowledge: Knowledge, mode: str, findings: dict[str, Any]) -> list[str]:
    """Walk the interview answering from ``findings``; return every page shown, the result last."""
    started = _post(web, "/check/interviews", [("mode", mode)])
    assert started.status_code == 303, started.text
    session = started.headers["location"]
    assert _SESSION.match(session)
    pages = [web.get(f"/check?mode={mode}").text]
    location = session
    for _ in range(_MAX_STEPS):
        page = web.get(session).text
        pages.append(page)
        asked = re.search(r'name="question" value="([^"]+)"', page)
        if asked is None:  # "all questions answered": finish
            location = _post(web, session + "/finish", []).headers["location"]
            break
        answered = _post(web, session + "/answer", form_for(knowledge.questions[asked.group(1)], findings))
        assert answered.status_code == 303, answered.text
        location = answered.headers["location"]
        if location != session:
            break
    assert _RESULT.match(location), location
    pages.append(web.get(location).text)
    return pages


@pytest.mark.parametrize("path", shared_case_params())
def test_every_clinician_interview_page_is_in_words(
    knowledge: Knowledge, web: TestClient, path: Path
) -> None:
    """Each question page of the clinician interview, and its result, show no id.

    The self-check interview's pages are checked in ``tests/web/test_interview_pages.py``, on
    the walk that already answers every development case page by page.
    """
    case = read_case(path, knowledge.vocabulary)
    pages = _interview_pages(web, knowledge, "clinician", dict(case.findings))
    assert len(pages) > 3
    for number, page in enumerate(pages):
        shown = shown_text(page)
        assert "pinchpoint supports" in shown
        assert ids_in(shown) == [], f"page {number} of the clinician interview"


@pytest.mark.parametrize("path", shared_case_params())
def test_the_clinician_pages_are_in_words_and_read_as_a_clinicians(
    knowledge: Knowledge, web: TestClient, path: Path
) -> None:
    """The clinician form's result, the form reopened with its live panel, and the history: no id.

    The result of a clinician's examination is headed for the clinician ("Assessment"), never
    "Your result", and names the site by its medical term.
    """
    case = read_case(path, knowledge.vocabulary)
    form = web.get("/clinician").text
    fields = set(re.findall(r'name="([^"]+)"', form))
    items = [
        (name, item)
        for name, value in findings_to_form(case.findings).items()
        if name in fields
        for item in (value if isinstance(value, tuple) else (value,))
    ]
    posted = _post(web, "/clinician", items)
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    result = web.get(location).text
    reopened = web.get(f"/clinician?from={location.rsplit('/', 1)[1]}").text
    history = web.get("/history").text
    for page in (form, result, reopened, history):
        shown = shown_text(page)
        assert "pinchpoint supports" in shown
        assert ids_in(shown) == []
    assert "<h1>Assessment</h1>" in result
    assert "Your result" not in result
    assert "Your plan" not in result
    site = re.search(r'class="site-lead" data-site="([^"]+)"', result).group(1)  # type: ignore[union-attr]
    assert html.escape(knowledge.names.site(site, "clinician"), quote=False) in result
    assert "data-no-assessment" not in reopened  # a filled form shows its assessment


@pytest.mark.parametrize(
    "path", ["/", "/check", "/check?mode=clinician", "/check/form", "/clinician", "/history", "/nowhere"]
)
def test_the_other_pages_are_in_words(web: TestClient, path: str) -> None:
    """The start pages, the forms, the history and an error page show no id."""
    shown = shown_text(web.get(path).text)
    assert "pinchpoint supports" in shown
    assert ids_in(shown) == []
