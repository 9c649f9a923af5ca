"""A pasted clinical note in Debian's chromium, on a phone: read into the form, checked, then assessed.

The walk: the clinician pastes a note, reads it into the form (the filled fields are marked and
the live panel stays empty: nothing is assessed on the note alone), changes a field (now the
form is assessed live), and saves; a note stating a red flag shows the emergency message at
once. Every page passes the phone rules of tests/web/test_phone.py (axe-core and measures).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.test_phone import axe_source, check_page, phone  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

_NOTE = "45M, L leg pain 3 weeks, shooting below the knee. EHL 4/5 L. Ankle jerk absent L. SLR positive L."


def test_a_note_is_read_into_the_form_and_assessed_only_once_checked(phone: Any) -> None:  # noqa: F811
    """The note fills and marks the fields; the live panel waits for the clinician; saving assesses."""
    phone.goto("/clinician")
    check_page(phone)
    phone.locator("summary", has_text="Paste a clinical note").click()
    phone.fill("#note-text", _NOTE)
    phone.click("text=Read the note into the form")
    phone.wait_for_url(re.compile(r"/clinician/note$"))
    check_page(phone)
    marked = set(phone.locator("[data-from-note]").evaluate_all("s => s.map(e => e.dataset.fromNote)"))
    assert {"exam.power.great_toe_extension.left", "exam.reflex.achilles.left", "exam.slr.left"} <= marked
    assert phone.locator('select[name="exam.power.great_toe_extension.left"]').input_value() == "4"
    live = phone.locator("#live-panel")
    assert live.locator("[data-note-unchecked]").count() == 1
    assert live.locator("[data-triage]").count() == 0
    phone.select_option(
        'select[name="exam.power.ankle_dorsiflexion.left"]', "4"
    )  # the clinician's own finding
    live.locator("[data-site]").first.wait_for(timeout=10000)
    phone.click('button:has-text("Assess and save")')
    phone.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    check_page(phone)
    assert phone.locator("h1").inner_text() == "Assessment"
    assert phone.locator('.banner[data-reader="clinician"]').count() == 1


def test_a_red_flag_in_a_note_shows_the_emergency_at_once(phone: Any) -> None:  # noqa: F811
    """A note with urinary retention: the emergency message heads the page, as an alert."""
    phone.goto("/clinician")
    phone.locator("summary", has_text="Paste a clinical note").click()
    phone.fill("#note-text", "Unable to pass urine since this morning; saddle anaesthesia.")
    phone.click("text=Read the note into the form")
    phone.wait_for_url(re.compile(r"/clinician/note$"))
    check_page(phone)
    alert = phone.locator("[data-emergency]")
    assert alert.get_attribute("role") == "alert"
    assert "EMERGENCY" in alert.inner_text()
    assert alert.bounding_box()["y"] < 844  # on the first screen
