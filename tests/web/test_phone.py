"""Every page on a 390 x 844 phone, in Debian's chromium, checked by axe-core and by measure (issue 11).

On every page the walks below pass through (the start pages, each interview question
including the body maps, the free-text pages, the results, the clinician form empty and
filled, the history and the error pages):

* axe-core (vendored in ``tests/web/vendor``) finds no serious or critical violation of
  WCAG 2.0-2.2 A/AA or of its best practices;
* nothing is wider than the screen (no horizontal scroll);
* there is exactly one ``<h1>``;
* the header and the emergency strip take less than a quarter of the first screen.

The walks are the issue's: an S1 sciatica and a meralgia answered from their development
cases, an emergency stated in free text, "I don't know" to everything, and the clinician form
empty and filled. The result's first screen must hold the level, what to do now and the
condition named in plain words with its medical term; the rest follows, folded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from tests.corpus import SHARED_CASES
from tests.test_plain_words import ids_in
from tests.web.answering import answer_fields

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # axe-core 4.14.1
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
HEADER_SHARE = 0.25  # the header and the emergency strip: under a quarter of the first screen
TARGET = 24  # CSS px, WCAG 2.2 target size (minimum)
_RESULT_URL = re.compile(r"/assessments/[0-9a-f]{32}$")
_MAX_QUESTIONS = 60


def _case_findings(name: str, knowledge: Knowledge, *, exam: bool = False) -> dict[str, Any]:
    path = SHARED_CASES / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"the development case {path} is absent")
    findings = read_case(path, knowledge.vocabulary).findings
    return {k: v for k, v in findings.items() if exam or not k.startswith("exam.")}


@pytest.fixture(scope="module")
def axe_source() -> str:
    """The vendored axe-core, checked against the hash of the published file."""
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, f"{AXE} is not axe-core 4.14.1 as published"
    return data.decode("utf-8")


@pytest.fixture
def phone(browser: Any, base_url: str, axe_source: str) -> Iterator[Any]:
    """A fresh page at 390 x 844 with axe-core loaded.

    Fails the test on any console error (a CSP violation shows up there) and on any script,
    style or image that fails to load; an error page's own status (404) is expected.
    """
    context = browser.new_context(base_url=base_url, viewport=PHONE, device_scale_factor=1)
    context.add_init_script(script=axe_source)  # by the browser's debugger: the page's CSP is untouched
    opened = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Any) -> None:
        if answer.status >= 400 and answer.request.resource_type != "document":
            problems.append(f"{answer.status} {answer.url}")

    opened.on("console", console)
    opened.on("response", response)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == []


def check_page(page: Any) -> None:
    """Hold the page to the phone rules: axe-core, no horizontal scroll, one <h1>, a small header."""
    page.wait_for_load_state()
    where = page.url
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(
                document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.impact + " " + v.id + ": "
                          + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
        }""",
        AXE_TAGS,
    )
    assert violations == [], f"axe-core on {where}"
    measured = page.evaluate(
        """() => {
            window.scrollTo(0, 0);
            const height = sel => {
                const el = document.querySelector(sel);
                return el ? el.getBoundingClientRect().height : 0;
            };
            return {
                scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
                h1: document.querySelectorAll("h1").length,
                header: height(".site-header") + height(".emergency-strip"),
                strip: document.querySelector(".emergency-strip p").textContent,
            };
        }"""
    )
    assert measured["scroll"] <= measured["width"], f"horizontal scroll on {where}: {measured}"
    assert measured["h1"] == 1, f"{measured['h1']} <h1> on {where}"
    assert measured["header"] < HEADER_SHARE * PHONE["height"], f"header on {where}: {measured}"
    assert "emergency" in measured["strip"]


def _current_question(page: Any) -> str | None:
    if _RESULT_URL.search(page.url):
        return None
    return str(page.locator('input[name="question"]').get_attribute("value"))


_FILL = """(items) => {
    for (const [name, value] of items) {
        const fields = [...document.getElementsByName(name)];
        const ticked = f => f.type === "radio" || f.type === "checkbox";
        const field = fields.find(f => ticked(f) ? f.value === value : true);
        if (!field) { throw new Error("no field " + name + " = " + value); }
        if (ticked(field)) { field.checked = true; } else { field.value = value; }
        field.dispatchEvent(new Event("change", {bubbles: true}));
    }
}"""


def walk_interview(page: Any, knowledge: Knowledge, findings: dict[str, Any]) -> int:
    """Answer the interview from ``findings`` (unknown: "I don't know"), checking every page; count them."""
    checked = 0
    for _ in range(_MAX_QUESTIONS):
        question = _current_question(page)
        if question is None:
            break
        check_page(page)
        checked += 1
        action, items = answer_fields(knowledge.questions[question], findings)
        page.evaluate(_FILL, items)
        with page.expect_navigation():
            page.click(f'button[name="action"][value="{action}"]')
    assert _RESULT_URL.search(page.url), "the interview did not end in a result"
    check_page(page)
    return checked + 1


def check_first_screen(page: Any) -> dict[str, str]:
    """The first 844 px of the result hold the level, what to do now and the named condition.

    The reasons, the site map, the causes, the tests and the plan follow, folded; return the
    words of the level and of the condition.
    """
    page.evaluate("window.scrollTo(0, 0)")
    first = page.evaluate(
        """() => {
            const bottom = sel => {
                const el = document.querySelector(sel);
                return el ? el.getBoundingClientRect().bottom : null;
            };
            const text = sel => {
                const el = document.querySelector(sel);
                return el ? el.innerText : null;
            };
            return {
                level: text(".banner .level-word"), level_at: bottom(".banner .level-word"),
                now: text(".banner ul.now"), now_at: bottom(".banner ul.now"),
                condition: text(".summary .site-lead"), condition_at: bottom(".summary .site-lead"),
                folded: [...document.querySelectorAll("details.fold:not([open])")].map(d => d.id),
            };
        }"""
    )
    for part in ("level", "now", "condition"):
        assert first[part], f"the result has no {part}"
        assert first[f"{part}_at"] <= PHONE["height"], f"the {part} is below the first screen: {first}"
    assert {"why", "causes", "plan", "answers"} <= set(first["folded"])
    return {"level": first["level"], "condition": first["condition"]}


def _plan_text(page: Any) -> str:
    return str(page.locator("#plan").text_content())


# --- the walks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/check",
        "/check?mode=clinician",
        "/check/form",
        "/history",
        "/no-such-page",
        "/assessments/" + "0" * 32,
    ],
)
def test_the_start_pages_and_the_error_pages_pass_on_a_phone(phone: Any, path: str) -> None:
    """The start pages, the one-page form, the history and the 404 pages pass on a phone."""
    phone.goto(path)
    check_page(phone)


def test_an_s1_sciatica_walked_on_a_phone_is_named_on_the_first_screen(
    phone: Any, knowledge: Knowledge
) -> None:
    """An S1 sciatica answered page by page: every page passes; the result names S1 sciatica first."""
    phone.goto("/check")
    check_page(phone)
    phone.click("text=Start the questions")
    pages = walk_interview(phone, knowledge, _case_findings("dev-04-s1-disc-history", knowledge))
    assert pages > 5
    first = check_first_screen(phone)
    assert "sciatica" in first["condition"].lower()
    assert "S1 radiculopathy" in first["condition"]
    assert "right leg" in first["condition"]
    assert phone.locator(".summary [data-cause]").get_attribute("data-cause") == "disc_herniation"
    assert "a slipped disc (lumbar disc herniation)" in phone.locator(".summary").inner_text()
    assert ids_in(phone.locator("main").inner_text()) == []


def test_a_meralgia_walked_on_a_phone_is_named_in_plain_words(phone: Any, knowledge: Knowledge) -> None:
    """A meralgia answered page by page (with the body map): named in plain words and by its term."""
    phone.goto("/check")
    phone.click("text=Start the questions")
    walk_interview(phone, knowledge, _case_findings("dev-18-meralgia-paresthetica", knowledge))
    first = check_first_screen(phone)
    assert "trapped skin nerve of the outer thigh" in first["condition"]
    assert "meralgia paraesthetica" in first["condition"]
    assert "left leg" in first["condition"]


def test_a_meralgia_gets_meralgia_advice_and_not_the_peroneal_nerves(
    phone: Any, knowledge: Knowledge
) -> None:
    """The meralgia plan speaks of the thigh, belts and weight; never of shoes or a dropped foot."""
    phone.goto("/check")
    phone.click("text=Start the questions")
    walk_interview(phone, knowledge, _case_findings("dev-18-meralgia-paresthetica", knowledge))
    plan = _plan_text(phone).lower()
    assert "belt" in plan
    assert "weight" in plan
    assert "shoe" not in plan
    assert "dropped foot" not in plan


def test_dont_know_to_everything_on_a_phone_is_not_self_care(phone: Any, knowledge: Knowledge) -> None:
    """Only "I don't know": every page passes, and the result is not self-care on the first screen."""
    phone.goto("/check")
    phone.click("text=Start the questions")
    walk_interview(phone, knowledge, {})
    assert phone.locator(".banner").get_attribute("data-triage") != "self_care"
    assert phone.locator(".unasked").is_visible()  # the warning signs left open are not folded away


def test_an_emergency_in_free_text_on_a_phone(phone: Any) -> None:
    """A description stating an emergency: the confirmation and the emergency result pass on a phone."""
    phone.goto("/check")
    phone.fill("#q-text", "My groin and bottom feel numb and I can't pee properly.")
    with phone.expect_navigation():
        phone.click("text=Read my description")
    check_page(phone)
    assert phone.locator("[data-emergency]").is_visible()
    with phone.expect_navigation():
        phone.click("text=Continue with the questions")
    check_page(phone)
    first = check_first_screen(phone)
    assert first["level"] == "EMERGENCY"


def test_a_description_on_a_phone_is_confirmed_and_asked_on(phone: Any) -> None:
    """A description without an emergency: the confirmation and the next question pass on a phone."""
    phone.goto("/check")
    phone.fill(
        "#q-text", "My left foot slaps when I walk and I get shooting pain down the back of my left leg."
    )
    with phone.expect_navigation():
        phone.click("text=Read my description")
    check_page(phone)
    with phone.expect_navigation():
        phone.click("text=Continue with the questions")
    assert _current_question(phone) is not None
    check_page(phone)


def test_the_clinician_form_empty_then_filled_on_a_phone(phone: Any) -> None:
    """Empty: no assessment. Filled for an S1 lesion: the live panel, then the result, in clinician words."""
    phone.goto("/clinician")
    check_page(phone)
    panel = phone.locator("#live-panel")
    assert panel.locator("[data-no-assessment]").count() == 1
    assert panel.locator(".banner").count() == 0
    assert "SELF-CARE" not in panel.inner_text().upper()
    phone.fill('input[name="age"]', "46")
    for movement in ("ankle_plantarflexion", "toe_flexion"):
        phone.select_option(f'select[name="exam.power.{movement}.right"]', "4")
    phone.select_option('select[name="exam.reflex.achilles.right"]', "absent")
    phone.check('input[name="exam.slr.right"][value="yes"]')
    phone.locator("#list-exam-sensory_loss_regions summary").click()
    phone.check('#list-exam-sensory_loss_regions input[value="foot_lateral.right"]')
    panel.locator('[data-site="root.S1.right"]').wait_for(timeout=15000)
    check_page(phone)
    assert "S1 radiculopathy" in panel.inner_text()
    with phone.expect_navigation():
        phone.click("text=Assess and save")
    assert _RESULT_URL.search(phone.url)
    check_page(phone)
    first = check_first_screen(phone)
    assert phone.locator("h1").inner_text() == "Assessment"
    assert "S1 radiculopathy (right)" in first["condition"]
    assert "Your result" not in phone.content()
    phone.goto("/history")
    check_page(phone)  # the history with saved rows
    assert phone.locator("tr[data-record]").count() >= 1


def test_a_form_with_an_error_passes_on_a_phone(phone: Any) -> None:
    """The one-page form sent back with an error (422) passes on a phone."""
    phone.goto("/check/form")
    phone.fill('input[name="age"]', "abc")
    with phone.expect_navigation():
        phone.click("text=See the result")
    assert phone.locator(".error-summary").is_visible()
    check_page(phone)


# --- the body map on a phone -------------------------------------------------------------------


def test_every_place_on_the_body_map_has_a_target_of_24_px(phone: Any) -> None:
    """A place drawn under 24 x 24 px has its own 24 x 24 px box in the list (WCAG 2.2, 2.5.8 equivalent)."""
    phone.goto("/check/form")
    map_name = "pain_regions"
    drawn = phone.eval_on_selector_all(
        f'svg[data-input-name="{map_name}"] [data-region]',
        "shapes => shapes.map(s => { const b = s.getBoundingClientRect();"
        " return [s.dataset.region, b.width, b.height]; })",
    )
    small = {region for region, width, height in drawn if width < TARGET or height < TARGET}
    assert small, "at 390 px some places are drawn small (the toes): the list is needed"
    phone.locator(f'a[href="#list-{map_name}"]').click()  # "skip the map": opens the list
    assert phone.locator(f"#list-{map_name}").get_attribute("open") is not None
    boxes = phone.eval_on_selector_all(
        f'#list-{map_name} input[type="checkbox"]',
        "boxes => boxes.map(b => { const r = b.getBoundingClientRect();"
        " return [b.value, r.width, r.height]; })",
    )
    listed = {value: (width, height) for value, width, height in boxes}
    assert {region for region, _, _ in drawn} <= listed.keys()
    assert [value for value, (width, height) in listed.items() if width < TARGET or height < TARGET] == []
    # Ticking a small place in the list marks it on the map.
    toe = "big_toe.left"
    phone.check(f'#list-{map_name} input[value="{toe}"]')
    shape = phone.locator(f'svg[data-input-name="{map_name}"] [data-region="{toe}"]')
    assert shape.get_attribute("aria-pressed") == "true"


def test_the_keyboard_skips_the_body_map_to_start(phone: Any) -> None:
    """From the top of /check, Tab and Enter on "skip the map" reach "Start the questions" in few presses."""
    phone.goto("/check")
    presses = 0
    for _ in range(60):
        phone.keyboard.press("Tab")
        presses += 1
        focused = phone.evaluate(
            "() => { const e = document.activeElement;"
            " return e.matches('a[data-open-list]') ? 'skip' : (e.textContent || '').trim(); }"
        )
        if focused == "skip":
            phone.keyboard.press("Enter")
            presses += 1
            # The list is open and focused: Tab past its summary goes through its places; close it.
            assert phone.evaluate("() => document.activeElement.tagName") == "SUMMARY"
            phone.keyboard.press("Enter")  # fold the list again
            presses += 1
        elif focused == "Start the questions":
            break
    assert focused == "Start the questions"
    assert presses <= 25, f"{presses} key presses to reach Start"
