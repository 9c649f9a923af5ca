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


# --- a pasted clinical note read into the form -------------------------------------------------

_NOTE = (
    "45M, left leg pain for 3 weeks, shooting below the knee. EHL 4/5 L. Ankle jerk absent L. "
    "SLR positive L at 40 degrees. No saddle anaesthesia, bladder and bowels normal."
)


def _live_panel(page: str) -> str:
    return page.split('id="live-panel"', 1)[1].split("</aside>", 1)[0]


def test_a_note_fills_the_form_marks_each_field_and_assesses_nothing(client: TestClient) -> None:
    """The fields read from the note are filled and marked; no level is shown and nothing is saved."""
    response = _post(client, "/clinician/note", [("note", _NOTE)])
    assert response.status_code == 200
    page = response.text
    marked = set(re.findall(r'data-from-note="([^"]+)"', page))
    assert {
        "age",
        "exam.power.great_toe_extension.left",
        "exam.reflex.achilles.left",
        "exam.slr.left",
    } <= marked
    assert 'name="age" type="text" inputmode="numeric" autocomplete="off" value="45"' in page
    assert re.search(r'<option value="4" selected>4</option>', page)
    assert "data-note-read" in page
    assert "data-triage" not in _live_panel(page), "nothing is assessed until the clinician checks"
    assert "data-note-unchecked" in _live_panel(page)
    assert "data-emergency" not in page
    assert "data-record=" not in client.get("/history").text, "nothing is saved"


def test_the_fields_read_from_a_note_submit_as_they_stand(client: TestClient) -> None:
    """Pressing "Assess and save" on the filled form, unchanged, gives a saved assessment."""
    page = _post(client, "/clinician/note", [("note", _NOTE)]).text
    form = page.split('class="exam-form"', 1)[1].split("</form>", 1)[0]
    items = re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]+)"[^>]*\schecked', form)
    items += [
        (name, value)
        for name, value in re.findall(
            r'<input id="[^"]+" name="([^"]+)" type="text"[^>]*value="([^"]*)"', form
        )
        if value
    ]
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, flags=re.S):
        chosen = re.search(r'<option value="([^"]+)" selected>', body)
        if chosen:
            items.append((name, chosen.group(1)))
    assert ("exam.power.great_toe_extension.left", "4") in items
    saved = _post(client, "/clinician", items, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    result = client.get(saved.headers["location"]).text
    assert "<h1>Assessment</h1>" in result


def test_a_red_flag_in_a_note_acts_at_once(client: TestClient, knowledge: Knowledge) -> None:
    """Urinary retention in the note: the emergency message heads the page before anything is saved."""
    note = "Unable to pass urine since this morning, saddle anaesthesia, bilateral leg pain."
    page = _post(client, "/clinician/note", [("note", note)]).text
    emergency = page.split("data-emergency", 1)[1].split("</section>", 1)[0]
    assert page.index("data-emergency") < page.index('class="exam-form"')
    assert 'role="alert"' in page.split("data-emergency", 1)[0].rsplit("<section", 1)[1]
    assert knowledge.vocabulary.triage["emergency"] in emergency
    assert "urinary_retention" in set(re.findall(r'data-from-note="([^"]+)"', page))
    assert "data-triage" not in _live_panel(page)


@pytest.mark.parametrize(("note", "status"), [("", 422), ("x" * 100_000, 422)])
def test_an_unreadable_note_is_refused_on_the_form(client: TestClient, note: str, status: int) -> None:
    """An empty or overlong note comes back on the form with why, and nothing is filled."""
    response = _post(client, "/clinician/note", [("note", note)])
    assert response.status_code == status
    assert 'id="err-note"' in response.text
    assert "data-from-note=" not in response.text
    assert "data-no-assessment" in _live_panel(response.text)


def test_the_empty_form_still_shows_nothing(client: TestClient) -> None:
    """The clinician form with no finding: the note box is there, no level, no site."""
    page = client.get("/clinician").text
    assert 'action="/clinician/note"' in page
    assert "data-triage" not in _live_panel(page)
    assert "data-no-assessment" in _live_panel(page)
