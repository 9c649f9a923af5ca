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

_ID = re.compile(r"\b(?:root|nerve|exam|plexus)\.[A-Za-z]|\b[a-z]+_[a-z_]+\b")
_WORDED_KEYS = frozenset({"display", "text", "rationale", "description", "title", "div"})


def _ids_in(text: str) -> list[str]:
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
    assert _ids_in("root.L5.left and exam.power.knee") == ["root.L", "exam.p"]
    assert _ids_in("urinary_retention, hip_joint") == ["urinary_retention", "hip_joint"]
    assert _ids_in("an L5 radiculopathy (left), self care, non-neural leg pain") == []


@pytest.mark.parametrize("path", shared_case_params())
def test_the_cli_report_is_in_words(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pinchpoint assess CASE` names sites, causes, findings and warnings in words."""
    assert main(["assess", str(path)]) == 0
    report = capsys.readouterr().out
    assert _ids_in(report) == []


@pytest.mark.parametrize("path", shared_case_params())
def test_fhir_display_text_is_in_words(knowledge: Knowledge, path: Path) -> None:
    """The RiskAssessment and the CarePlan show words wherever FHIR shows text."""
    assessment = assess(read_case(path, knowledge.vocabulary), knowledge)
    plan, requests = care_plan(assessment_plan_items(assessment, knowledge), knowledge)
    documents = [risk_assessment(assessment, knowledge), plan, *requests]
    shown = [text for document in documents for text in _worded(json.loads(json.dumps(to_json(document))))]
    assert shown
    assert [ids for text in shown if (ids := _ids_in(text))] == []


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
    assert _ids_in(visible) == []
