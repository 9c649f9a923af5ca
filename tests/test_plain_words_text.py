"""No internal id reaches a reader from the rest of what the development cases produce (issue 11).

tests/test_plain_words.py holds `pinchpoint assess CASE`, the RiskAssessment and CarePlan, and the
form, interview and result pages to words. Here the other outputs of the same cases: each case's
narrative read as free text (the confirmation page in both modes, the clinician-note page, and
`pinchpoint read-text`), and the report of `pinchpoint assess` over the whole folder.
(A case written as a QuestionnaireResponse carries link ids and codes only, no display text.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from fastapi.testclient import TestClient

from pinchpoint.cli.main import main
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.content import load_content
from tests.corpus import shared_case_params
from tests.test_plain_words import ids_in, shown_text

_HEADERS = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def web(knowledge: Knowledge) -> Iterator[TestClient]:
    """The web app on an in-memory store."""
    store = Store.open("sqlite://")
    app = create_app(Settings(), knowledge=knowledge, content=load_content(knowledge), store=store)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client
    store.close()


def _narrative(path: Path) -> str:
    narrative = yaml.safe_load(path.read_text(encoding="utf-8")).get("narrative")
    if not narrative:
        pytest.skip("the case has no narrative")
    return str(narrative)


@pytest.mark.parametrize("path", shared_case_params())
def test_the_text_pages_of_a_narrative_are_in_words(web: TestClient, path: Path) -> None:
    """The free-text confirmation page (both modes) and the clinician-note page name findings in words."""
    narrative = _narrative(path)
    pages = {
        mode: web.post(
            "/check/text", content=urlencode([("text", narrative), ("mode", mode)]), headers=_HEADERS
        )
        for mode in ("self_check", "clinician")
    }
    pages["note"] = web.post("/clinician/note", content=urlencode([("note", narrative)]), headers=_HEADERS)
    for name, response in pages.items():
        assert response.status_code == 200, name
        shown = shown_text(response.text)
        assert "pinchpoint supports" in shown
        assert ids_in(shown) == [], name


@pytest.mark.parametrize("path", shared_case_params())
def test_read_text_of_a_narrative_is_in_words(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pinchpoint read-text FILE` reports what it read in words."""
    note = tmp_path / "narrative.txt"
    note.write_text(_narrative(path), encoding="utf-8")
    assert main(["read-text", str(note)]) == 0
    report = capsys.readouterr().out
    assert report.strip()
    assert ids_in(report) == []


def test_the_folder_report_is_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    """`pinchpoint assess FOLDER` over the development cases names everything in words."""
    paths = [param.values[0] for param in shared_case_params()]  # type: ignore[attr-defined]
    if any(path is None for path in paths):
        pytest.skip("the development cases are absent")
    assert main(["assess", str(Path(paths[0]).parent)]) == 0
    report = capsys.readouterr().out
    assert len(report) > 1000
    assert ids_in(report) == []
