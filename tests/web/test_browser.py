"""Browser tests: Playwright drives Debian's chromium against a live server on a loopback port.

Outside CI they are skipped, with the reason, when ``/usr/bin/chromium`` or Playwright is
missing; in CI (``CI=true``) a missing browser fails them instead, so they always run there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

_MAP_WIDTH = 660  # the body map's viewBox width


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh page; fails the test on any console error (a CSP violation shows up there)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == []


def _click_map(page: Any, map_name: str, x: float, y: float) -> None:
    """Click the body map at a point given in the map's own coordinates."""
    svg = page.locator(f'svg[data-input-name="{map_name}"]')
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    scale = box["width"] / _MAP_WIDTH
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)


@pytest.mark.parametrize(
    ("x", "y", "region"),
    [
        (85, 180, "thigh_anterior.right"),  # front view: the person's right leg is on the viewer's left
        (151, 340, "leg_anterolateral.left"),
        (315, 190, "thigh_posterior.left"),  # back view: the person's left leg is on the viewer's left
        (375, 340, "calf_posterior.right"),
        (345, 45, "low_back"),  # midline, no side
        (530, 340, "sole.left"),
        (610, 414, "heel.right"),
    ],
)
def test_a_click_on_the_body_map_selects_that_region_and_side(
    page: Any, x: float, y: float, region: str
) -> None:
    """Clicking a point marks the region under it, on the right side, and nothing else."""
    page.goto("/check/form")
    _click_map(page, "pain_regions", x, y)
    shape = page.locator(f'svg[data-input-name="pain_regions"] [data-region="{region}"]')
    assert shape.get_attribute("aria-pressed") == "true"
    checked = page.eval_on_selector_all(
        'input[name="pain_regions"]:checked', "boxes => boxes.map(box => box.value)"
    )
    assert checked == [region]
    label = shape.get_attribute("aria-label")
    assert page.locator('[data-selected-for="pain_regions"]').inner_text() == f"Marked: {label}"
    _click_map(page, "pain_regions", x, y)
    assert shape.get_attribute("aria-pressed") == "false"
    assert page.locator('input[name="pain_regions"]:checked').count() == 0


def test_the_clinician_form_for_an_l5_lesion_highlights_l5_on_the_leg(page: Any) -> None:
    """Weak dorsiflexion, big-toe extension and hip abduction, L5 numbness and a positive SLR: L5, drawn."""
    page.goto("/clinician")
    for movement, grade in (
        ("ankle_dorsiflexion", "3"),
        ("great_toe_extension", "3"),
        ("hip_abduction", "4"),
    ):
        page.select_option(f'select[name="exam.power.{movement}.left"]', grade)
    for region in ("leg_anterolateral.left", "foot_dorsum.left", "big_toe.left"):
        page.locator(f'svg[data-input-name="exam.sensory_loss_regions"] [data-region="{region}"]').click()
    page.check('input[name="exam.slr.left"][value="yes"]')
    live = page.locator("#live-panel")
    live.locator('[data-site="root.L5.left"]').wait_for(timeout=10000)
    highlighted = set(live.locator("[data-territory]").evaluate_all("s => s.map(e => e.dataset.region)"))
    assert {"big_toe.left", "foot_dorsum.left", "leg_anterolateral.left"} <= highlighted
    assert not [region for region in highlighted if region.endswith(".right")]
    page.click("text=Assess and save")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    assert page.locator('.site-lead[data-site="root.L5.left"]').count() == 1
    assert page.locator('[data-region="big_toe.left"][data-territory="core"]').count() == 1


def test_history_lists_reopens_and_deletes_an_assessment(page: Any) -> None:
    """A saved self-check appears in the history, opens again, and disappears when deleted."""
    page.goto("/check/form")
    page.fill('input[name="age"]', "61")
    page.check('input[name="fever"][value="yes"]')
    page.click("text=See the result")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    record_id = page.url.rsplit("/", 1)[1]
    page.goto("/history")
    row = page.locator(f'tr[data-record="{record_id}"]')
    assert row.count() == 1
    row.locator("text=Open").click()
    page.wait_for_url(f"**/assessments/{record_id}")
    assert "Age in years" in _unfold(page, "answers").locator(".answers").inner_text()
    page.goto("/history")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'tr[data-record="{record_id}"] button:has-text("Delete")').click()
    page.wait_for_url("**/history?deleted=1")
    assert page.locator(f'tr[data-record="{record_id}"]').count() == 0


def _unfold(page: Any, fold: str) -> Any:
    """Open a folded part of the result page (as a reader does, by its summary); return it."""
    details = page.locator(f"details#{fold}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


def _tab_to(page: Any, selector: str, limit: int = 400) -> None:
    """Press Tab until the focused element matches ``selector`` (the keyboard's only way around)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_self_check_can_be_completed_with_the_keyboard_alone(page: Any) -> None:
    """Age typed, body map marked with Space, questions answered with arrows, sent with Enter: no mouse."""
    page.goto("/check/form")
    _tab_to(page, 'input[name="age"]')
    page.keyboard.type("58")
    _tab_to(page, 'svg[data-input-name="pain_regions"] [data-region="buttock.left"]')
    page.keyboard.press("Space")
    _tab_to(page, 'svg[data-input-name="numbness_regions"] [data-region="foot_dorsum.left"]')
    page.keyboard.press("Enter")
    _tab_to(page, 'input[name="worsening"]')
    page.keyboard.press("ArrowRight")  # from "don't know" round to "yes"
    assert page.locator('input[name="worsening"][value="yes"]').is_checked()
    _tab_to(page, 'button[type="submit"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    answers = _unfold(page, "answers").locator(".answers").inner_text()
    assert "buttock, left" in answers
    assert "top of the foot, left" in answers
    assert "58" in answers


def test_a_cauda_equina_self_check_ends_in_the_emergency_banner(page: Any) -> None:
    """Saddle numbness, new urinary retention, sciatica in both legs: the red emergency banner, with words."""
    page.goto("/check/form")
    page.fill('input[name="age"]', "44")
    page.check('input[name="sex"][value="male"]')
    both_legs = ("buttock", "thigh_posterior", "calf_posterior")
    for region in ("low_back", *(f"{part}.{side}" for part in both_legs for side in ("left", "right"))):
        page.locator(f'svg[data-input-name="pain_regions"] [data-region="{region}"]').click()
    page.locator('svg[data-input-name="numbness_regions"] [data-region="perineum"]').click()
    for question in ("urinary_retention", "saddle_numbness", "pain_below_knee", "pain_shooting", "worsening"):
        page.check(f'input[name="{question}"][value="yes"]')
    page.click("text=See the result")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    banner = page.locator(".banner")
    assert banner.get_attribute("data-triage") == "emergency"
    assert banner.get_attribute("role") == "alert"
    assert banner.locator(".level-word").inner_text() == "EMERGENCY"  # words, not colour alone
    assert "What to do now" in banner.inner_text()
    assert banner.locator("use").get_attribute("href") == "#icon-alert"
    assert banner.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(179, 18, 31)"


def test_the_pages_load_no_third_party_resource(page: Any, base_url: str) -> None:
    """Every request a page makes goes to this server."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in ("/", "/check", "/check/form", "/clinician", "/history"):
        page.goto(path)
    assert requested
    assert all(url.startswith(base_url) for url in requested)


def test_the_result_page_prints_without_navigation(page: Any) -> None:
    """The print stylesheet hides navigation and buttons and keeps the banner and the map."""
    page.goto("/check/form")
    page.check('input[name="urinary_retention"][value="yes"]')
    page.click("text=See the result")
    page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
    page.emulate_media(media="print")
    assert page.locator(".site-header nav").is_hidden()
    assert page.locator(".actions").is_hidden()
    assert page.locator(".banner").is_visible()
    assert page.locator("svg.bodymap").is_visible()
    assert page.locator(".site-footer").is_visible()


@pytest.mark.parametrize("path", ["/check", "/check/form", "/clinician"])
def test_every_control_has_a_name(page: Any, path: str) -> None:
    """Every input, select, button and body-map shape has an accessible name (a label or aria-label)."""
    page.goto(path)
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, button, [role="button"]')]
            .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                            || el.getAttribute('aria-labelledby')
                            || (el.tagName === 'BUTTON' && el.textContent.trim())))
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    assert page.locator('[role="button"][tabindex="0"]').count() >= 42  # every region is reachable by Tab


# --- the interview: one question per page ------------------------------------------------------

_RESULT_URL = re.compile(r"/assessments/[0-9a-f]{32}$")
_MAX_QUESTIONS = 60


def _current_question(page: Any) -> str | None:
    """The id of the question on the page, or None on the result page."""
    if _RESULT_URL.search(page.url):
        return None
    return str(page.locator('input[name="question"]').get_attribute("value"))


def test_an_interview_self_check_of_cauda_equina_ends_in_the_emergency_banner(page: Any) -> None:
    """Pain in both legs, urinary retention, saddle numbness: that answer leads to the emergency result."""
    page.goto("/check")
    page.fill('input[name="age"]', "44")
    page.check('input[name="sex"][value="male"]')
    both_legs = ("buttock", "thigh_posterior", "calf_posterior")
    for region in ("low_back", *(f"{part}.{side}" for part in both_legs for side in ("left", "right"))):
        page.locator(f'svg[data-input-name="pain_regions"] [data-region="{region}"]').click()
    page.click("text=Start the questions")
    answered_red_flag = False
    for _ in range(_MAX_QUESTIONS):
        question = _current_question(page)
        if question is None:
            break
        assert not answered_red_flag, "a question was asked after the emergency answer"
        if question == "bladder_bowel":
            page.check('input[name="urinary_retention"][value="yes"]')
            page.check('input[name="saddle_numbness"][value="yes"]')
            page.click("button:has-text('Next')")
            answered_red_flag = True
        elif question == "numbness_regions":
            page.locator('svg[data-input-name="numbness_regions"] [data-region="perineum"]').click()
            assert page.locator('input[name="numbness_regions"][value="perineum"]').is_checked()
            page.click("button:has-text('Next')")
        elif question in {"pain_below_knee", "pain_shooting"}:
            page.check(f'input[name="{question}"][value="yes"]')
            page.click("button:has-text('Next')")
        else:
            page.click('button[value="dont_know"]')
        page.wait_for_load_state()
    assert answered_red_flag  # the emergency result came straight after it
    assert _RESULT_URL.search(page.url)
    banner = page.locator(".banner")
    assert banner.get_attribute("data-triage") == "emergency"
    assert banner.get_attribute("role") == "alert"
    assert banner.locator(".level-word").inner_text() == "EMERGENCY"
    assert "What to do now" in banner.inner_text()
    answers = _unfold(page, "answers").locator(".answers").inner_text()
    assert "saddle area" in answers  # the saddle numbness was saved with the assessment


def test_an_interview_can_be_completed_with_the_keyboard_alone(page: Any) -> None:
    """Intake typed and marked with Space, then every question answered with Tab, arrows and Enter."""
    page.goto("/check")
    _tab_to(page, 'input[name="age"]')
    page.keyboard.type("58")
    _tab_to(page, 'svg[data-input-name="pain_regions"] [data-region="buttock.left"]')
    page.keyboard.press("Space")
    _tab_to(page, 'button[type="submit"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/check/interviews/[0-9a-f]{32}$"))
    answered_no = False
    for _ in range(_MAX_QUESTIONS):
        question = _current_question(page)
        if question is None:
            break
        radios = page.locator(f'.answers-big input[name="{question}"]')
        if (
            not answered_no
            and radios.count()
            and page.locator(f'input[name="{question}"][value="no"]').count()
        ):
            # The first control has the focus; the arrow keys move through the answers.
            assert page.evaluate("() => document.activeElement.name") == question
            page.keyboard.press("ArrowDown")
            assert page.locator(f'input[name="{question}"][value="no"]').is_checked()
            _tab_to(page, 'button[value="answer"]')
            answered_no = True
        else:
            _tab_to(page, 'button[value="dont_know"]')
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert answered_no
    assert _RESULT_URL.search(page.url)
    answers = _unfold(page, "answers").locator(".answers").inner_text()
    assert "buttock, left" in answers
    assert "58" in answers


def test_back_forward_and_dont_know_in_the_interview(page: Any) -> None:
    """Back shows the earlier answer again, forward keeps it, "I don't know" moves on."""
    page.goto("/check")
    page.click("text=Start the questions")
    page.fill('input[name="age"]', "37")
    page.click("button:has-text('Next')")
    assert _current_question(page) == "sex"
    page.click("text=Back to the previous question")
    assert _current_question(page) == "age"
    assert page.locator('input[name="age"]').input_value() == "37"
    page.click("text=Forward: keep my earlier answer")
    assert _current_question(page) == "sex"
    page.click('button[value="dont_know"]')
    assert _current_question(page) == "pain_regions"
    assert page.locator('[aria-current="step"]').inner_text().strip().startswith("1")
    page.reload()  # the session is saved: a reload resumes at the same question
    assert _current_question(page) == "pain_regions"


def test_every_control_of_a_question_page_has_a_name(page: Any) -> None:
    """The one-question pages (a body map, a form, a grid) label every control too."""
    page.goto("/check")
    page.click("text=Start the questions")
    for _ in range(6):
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll(
                    'input:not([type=hidden]), select, button, [role="button"]')]
                .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                                || el.getAttribute('aria-labelledby')
                                || (el.tagName === 'BUTTON' && el.textContent.trim())))
                .map(el => el.outerHTML.slice(0, 80))"""
        )
        assert unnamed == []
        page.click('button[value="dont_know"]')


@pytest.mark.parametrize("mode", ["self_check", "clinician"])
def test_change_the_answers_of_an_interview_resumes_it_at_the_last_question(page: Any, mode: str) -> None:
    """From an interview's result, "Change the answers" goes back into the interview, answers kept."""
    page.goto("/check" if mode == "self_check" else "/clinician")
    if mode == "clinician":
        page.click("text=Prefer to be asked one question at a time?")
        page.wait_for_url("**/check?mode=clinician")
    page.fill('input[name="age"]', "49")
    page.click("text=Start the questions")
    last = None
    for _ in range(_MAX_QUESTIONS):
        question = _current_question(page)
        if question is None:
            break
        last = question
        page.click('button[value="dont_know"]')
        page.wait_for_load_state()
    assert _RESULT_URL.search(page.url)
    result_url = page.url
    page.click("button:has-text('Change the answers')")
    page.wait_for_url(re.compile(r"/check/interviews/[0-9a-f]{32}$"))
    assert _current_question(page) == last
    page.click("text=Forward: keep my earlier answer")
    page.wait_for_url(_RESULT_URL)
    assert page.url != result_url
    assert "49" in _unfold(page, "answers").locator(".answers").inner_text()


def test_a_description_in_own_words_is_confirmed_and_the_questions_go_on(page: Any) -> None:
    """Type a description, see it read back as ticked findings, untick one, and go on to the questions."""
    page.goto("/check")
    page.fill(
        "#q-text", "My left foot slaps when I walk and I get shooting pain down the back of my left leg."
    )
    page.click("text=Read my description")
    page.wait_for_load_state()
    accepts = page.locator('input[type="radio"][value="accept"]')
    assert accepts.count() == 4  # foot drop, shooting pain, where it hurts, below the knee
    assert all(accepts.nth(i).is_checked() for i in range(accepts.count()))
    assert "foot slaps" in page.locator(".proposals").inner_text()
    page.locator('input[name="proposal-1"][value="reject"]').check()
    page.click("text=Continue with the questions")
    page.wait_for_load_state()
    assert re.search(r"/check/interviews/[0-9a-f]{32}$", page.url)
    assert _current_question(page) is not None


_STORY_FIRST = (
    "I'm 45. For three weeks I have had shooting pain down the back of my left leg, worse when I cough. "
    "I had a discectomy years ago."
)


def test_a_story_is_read_back_marked_and_the_interview_asks_only_what_is_still_open(page: Any) -> None:
    """Story first in the browser: what was read is shown, and only what is still open is asked.

    The words read are marked, each proposal is accepted or rejected, and the interview (started by
    the one service) never asks what an accepted proposal answered; the rejected one is asked. The
    safety notes are on the page.
    """
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    bank = load_knowledge().questions
    page.goto("/check")
    page.fill("#q-text", _STORY_FIRST)
    page.click("text=Read my description")
    page.wait_for_load_state()
    story = page.locator("[data-story]")
    assert story.inner_text() == _STORY_FIRST  # the whole description, as written
    marked = [story.locator("mark").nth(i).inner_text() for i in range(story.locator("mark").count())]
    assert {"45", "three weeks", "shooting pain", "worse when I cough", "discectomy"} <= set(marked)
    assert "does not replace" in page.inner_text("body")  # the disclaimer
    assert "emergency number" in page.inner_text("body")  # what to do in an emergency
    proposals = page.locator("[data-proposal]")
    words = {proposals.nth(i).inner_text(): i for i in range(proposals.count())}
    cough = next(number for text, number in words.items() if "worse when I cough" in text)
    page.locator(f'input[name="proposal-{cough}"][value="reject"]').check()
    page.click("text=Continue with the questions")
    page.wait_for_load_state()
    answered_by_story = {"age", "duration_days", "pain_shooting", "pain_below_knee"}
    asked: list[str] = []
    while (question := _current_question(page)) is not None and len(asked) < 120:
        asked.append(question)
        page.click('button[value="dont_know"]')
        page.wait_for_load_state()
    assert asked, "the interview asked nothing"
    assert not answered_by_story & set(asked), asked
    assert bank.by_finding["worse_cough_sneeze"] in asked  # rejected: its question is asked


def test_an_emergency_stated_in_free_text_shows_the_emergency_before_any_other_question(page: Any) -> None:
    """A description stating an emergency: the confirmation says so; the next page is the emergency result."""
    page.goto("/check")
    page.fill("#q-text", "My groin and bottom feel numb and I can't pee properly.")
    page.click("text=Read my description")
    page.wait_for_load_state()
    stated = page.locator("[data-emergency]")
    assert stated.count() == 1
    assert "EMERGENCY" in stated.inner_text()
    assert stated.get_attribute("role") == "alert"
    assert page.locator('input[name="proposal-0"][value="accept"]').is_checked()
    page.click("text=Continue with the questions")
    page.wait_for_load_state()
    assert _current_question(page) is None  # no question came before the emergency page
    banner = page.locator(".banner")
    assert banner.get_attribute("data-triage") == "emergency"
    assert "What to do now" in banner.inner_text()
    answers = _unfold(page, "answers").locator(".answers").inner_text()
    assert "cannot pass urine" in answers.lower()  # the confirmed red flag is in the saved case


def test_dont_know_to_everything_is_not_self_care_and_names_the_signs_not_answered(page: Any) -> None:
    """Only "I don't know": not self-care, and the warning signs left open are named in words."""
    page.goto("/check")
    page.click("text=Start the questions")
    page.wait_for_load_state()
    for _ in range(_MAX_QUESTIONS):
        if _current_question(page) is None:
            break
        page.click('button[value="dont_know"]')
        page.wait_for_load_state()
    assert _current_question(page) is None
    banner = page.locator(".banner")
    assert banner.get_attribute("data-triage") not in {None, "self_care"}
    reasons = _unfold(page, "why").locator(".reasons").inner_text()
    assert "were not answered" in reasons
    assert "I cannot pass urine" in reasons  # the question's own words
    unasked = page.locator(".unasked").inner_text()
    assert "cannot pass urine" in unasked.lower()
    for shown in (reasons, unasked):
        assert "urinary_retention" not in shown
        assert "exam." not in shown
