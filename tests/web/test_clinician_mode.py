"""The clinician mode: a clinician's record reads in clinician words everywhere, banner included.

A saved clinician assessment's result page says what to do now with the clinician wording of the
plan's first action (advice.yaml), never the person's lines of ui.yaml; its plan shows the stages,
timings and items in clinician words; the live panel of the form does the same. A self-check's
result keeps the person's words.
"""

from __future__ import annotations

import re
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.knowledge import schema as s
from pinchpoint.web.content import WebContent

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000"}

# Findings that give each triage level below and at emergency on the clinician form.
_LEVELS: dict[str, list[tuple[str, str]]] = {
    "emergency": [("urinary_retention", "yes"), ("saddle_numbness", "yes")],
    "urgent": [
        ("exam.power.ankle_dorsiflexion.left", "2"),
        ("exam.power.great_toe_extension.left", "2"),
        ("duration_days", "3"),
    ],
    "soon": [("exam.power.great_toe_extension.left", "4"), ("pain_below_knee", "yes")],
}


def _post(client: TestClient, path: str, items: list[tuple[str, str]], **kwargs: Any) -> Any:
    return client.post(
        path,
        content=urlencode(items),
        headers={"content-type": "application/x-www-form-urlencoded", **_SAME_ORIGIN},
        **kwargs,
    )


def _banner(page: str) -> str:
    return page.split('<section class="banner', 1)[1].split("</section>", 1)[0]


def _actions(knowledge: Knowledge) -> dict[str, s.AdviceItem]:
    advice = cast(s.AdviceTable, knowledge.tables["advice"])
    by_id = {item.id: item for item in advice.items}
    return {level: by_id[item_id] for level, item_id in advice.actions.items()}


@pytest.mark.parametrize("level", sorted(_LEVELS))
def test_a_saved_clinician_result_says_what_to_do_in_clinician_words(
    level: str, client: TestClient, knowledge: Knowledge, content: WebContent
) -> None:
    """The banner of a clinician's saved result holds the action's clinician wording, not the person's."""
    response = _post(client, "/clinician", _LEVELS[level], follow_redirects=False)
    page = client.get(response.headers["location"]).text
    banner = _banner(page)
    assert f'data-triage="{level}"' in banner
    assert 'data-reader="clinician"' in banner
    action = _actions(knowledge)[level]
    assert str(escape(action.clinician)) in banner
    for line in content.ui.levels[level].now:
        assert str(escape(line)) not in banner, "a clinician's banner uses no patient line of ui.yaml"
    assert str(escape(action.patient)) not in page
    assert "Your result" not in page
    assert "Your plan" not in page


def test_a_clinician_plan_uses_clinician_stages_and_timings(client: TestClient, knowledge: Knowledge) -> None:
    """Stage headings and the timing of investigations and safety-net items are in clinician words."""
    response = _post(client, "/clinician", _LEVELS["urgent"], follow_redirects=False)
    page = client.get(response.headers["location"]).text
    advice = cast(s.AdviceTable, knowledge.tables["advice"])
    stages = re.findall(r"<h3>(Stage [^<]*)</h3>", page)
    assert stages, "the urgent plan has stages"
    clinician_stages = {str(escape(text.clinician)) for text in advice.stages.values()}
    assert set(stages) <= clinician_stages
    dues = set(re.findall(r'<span class="due">([^<]*)</span>', page))
    assert dues
    assert dues <= {str(escape(timing.clinician)) for timing in advice.timings.values()}
    assert "Safety-netting" in page
    assert "When to seek help again" not in page


def test_a_self_check_result_keeps_the_persons_words(
    client: TestClient, knowledge: Knowledge, content: WebContent
) -> None:
    """A person's result shows the ui.yaml lines of its level, not the clinician wording."""
    response = _post(
        client, "/check/form", [("pain_below_knee", "yes"), ("pain_shooting", "yes")], follow_redirects=False
    )
    page = client.get(response.headers["location"]).text
    banner = _banner(page)
    level = re.search(r'data-triage="([a-z_]+)"', banner).group(1)  # type: ignore[union-attr]
    assert 'data-reader="clinician"' not in banner
    for line in content.ui.levels[level].now:
        assert str(escape(line)) in banner
    assert str(escape(_actions(knowledge)[level].clinician)) not in banner


def test_the_live_panel_speaks_to_the_clinician(client: TestClient, knowledge: Knowledge) -> None:
    """The clinician form's live preview says the level with the action's clinician wording."""
    preview = _post(client, "/api/preview?page=clinician", _LEVELS["emergency"]).json()
    assert preview["triage"] == "emergency"
    banner = _banner(preview["html"])
    assert str(escape(_actions(knowledge)["emergency"].clinician)) in banner
