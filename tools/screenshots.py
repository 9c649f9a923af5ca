"""Take the screenshots in docs/screenshots/ with the browser tests' Playwright setup.

Run from the repository root (needs Debian's chromium and Playwright, as the browser tests)::

    python -m tools.screenshots

It serves pinchpoint on a free loopback port with a temporary database, goes through a
self-check interview (a cauda equina presentation, one question per page) and fills in a
clinician examination (an L5 lesion), and saves PNGs of one interview question, the result
page (whole, on a desktop; and its first screen on a 390 x 844 phone), clinician mode and a
description in the person's own words read back for confirming.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from tests.web.livebrowser import chromium, live_server

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIDES = ("left", "right")
YES = ("urinary_retention", "saddle_numbness", "pain_below_knee", "pain_shooting", "worsening")
WEAK = (("ankle_dorsiflexion", "3"), ("great_toe_extension", "3"), ("hip_abduction", "4"))
STORY = (
    "For two weeks I've had shooting pain down the back of my left leg, worse when I cough, "
    "and my left foot slaps when I walk. No problems with my bladder."
)


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as folder,
        live_server(Path(folder) / "db.sqlite3") as url,
        chromium() as b,
    ):
        page = b.new_page(viewport=VIEWPORT, device_scale_factor=1)
        # The self-check is the interview: intake, then one question per page.
        page.goto(url + "/check")
        page.fill('input[name="age"]', "44")
        page.check('input[name="sex"][value="male"]')
        both_legs = [
            f"{part}.{side}" for part in ("buttock", "thigh_posterior", "calf_posterior") for side in SIDES
        ]
        for region in ("low_back", *both_legs):
            page.locator(f'svg[data-input-name="pain_regions"] [data-region="{region}"]').click()
        page.click("text=Start the questions")
        for _ in range(60):
            if re.search(r"/assessments/[0-9a-f]{32}$", page.url):
                break
            question = page.locator('input[name="question"]').get_attribute("value")
            if question == "bladder_bowel":
                # The screenshot: one question, the cauda equina screen, being answered.
                page.check('input[name="urinary_retention"][value="yes"]')
                page.check('input[name="saddle_numbness"][value="yes"]')
                page.screenshot(path=str(OUTPUT / "self-check.png"))
                page.click("button:has-text('Next')")
            elif question == "numbness_regions":
                page.locator('svg[data-input-name="numbness_regions"] [data-region="perineum"]').click()
                page.click("button:has-text('Next')")
            elif question in YES:
                page.check(f'input[name="{question}"][value="yes"]')
                page.click("button:has-text('Next')")
            else:
                page.click('button[value="dont_know"]')
        page.wait_for_url(re.compile(r"/assessments/[0-9a-f]{32}$"))
        page.screenshot(path=str(OUTPUT / "result.png"), full_page=True)
        # The same result's first screen on a phone: the level, what to do now, the condition.
        phone = b.new_page(viewport=PHONE, device_scale_factor=1)
        phone.goto(page.url)
        phone.screenshot(path=str(OUTPUT / "result-phone.png"))
        phone.close()

        page.goto(url + "/clinician")
        page.fill('input[name="age"]', "42")
        for movement, grade in WEAK:
            page.select_option(f'select[name="exam.power.{movement}.left"]', grade)
        page.select_option('select[name="exam.reflex.achilles.left"]', "normal")
        page.check('input[name="exam.slr.left"][value="yes"]')
        for region in ("leg_anterolateral.left", "foot_dorsum.left", "big_toe.left"):
            sensory_map = 'svg[data-input-name="exam.sensory_loss_regions"]'
            page.locator(f'{sensory_map} [data-region="{region}"]').click()
        page.locator('#live-panel [data-site="root.L5.left"]').wait_for()
        page.locator("#s-power").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -16)")
        page.screenshot(path=str(OUTPUT / "clinician.png"))

        # A description in the person's own words, read back for them to confirm.
        page.goto(url + "/check")
        page.fill("#q-text", STORY)
        page.click("text=Read my description")
        page.wait_for_url(re.compile(r"/check/text$"))
        page.screenshot(path=str(OUTPUT / "free-text.png"))
    for name in ("self-check.png", "result.png", "result-phone.png", "clinician.png", "free-text.png"):
        print(f"wrote {OUTPUT / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
