"""Tests of the web app over HTTP (in-process): pages, safety text, headers, bad input, history, logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import StoreError
from pinchpoint.io.casefile import read_case
from pinchpoint.service.contract import to_contract
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.app import MAX_BODY_BYTES
from pinchpoint.web.bodymap import site_territory
from pinchpoint.web.content import WebContent
from pinchpoint.web.forms import findings_to_form, page_ids
from pinchpoint.web.views import result_view
from tests.corpus import shared_case_params

_PAGES = ["/", "/check", "/check/form", "/clinician", "/history", "/no-such-page"]
_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000"}


def _form_items(findings: dict[str, Any]) -> list[tuple[str, str]]:
    values = findings_to_form(findings)
    return [(k, item) for k, v in values.items() for item in (v if isinstance(v, tuple) else (v,))]


def _post_form(client: TestClient, path: str, items: list[tuple[str, str]]):
    return client.post(
        path,
        content=urlencode(items),
        headers={"content-type": "application/x-www-form-urlencoded", **_SAME_ORIGIN},
        follow_redirects=False,
    )


@pytest.mark.parametrize("path", _PAGES)
def test_every_page_says_what_pinchpoint_is_and_what_to_do_in_an_emergency(
    client: TestClient, content: WebContent, path: str
) -> None:
    """Each page, error pages too, carries the supports-not-replaces note and the emergency advice."""
    response = client.get(path)
    assert response.status_code in (200, 404)
    assert content.ui.safety.supports.replace("'", "&#39;") in response.text
    assert "call your local emergency number" in response.text


@pytest.mark.parametrize("path", [*_PAGES, "/static/app.css", "/static/app.js", "/healthz"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    """CSP without inline script or style, no framing, no sniffing, no referrer elsewhere, on every response.

    ``same-origin`` rather than ``no-referrer``: under ``no-referrer`` a browser sends ``Origin: null``
    with the pages' own forms, and the CSRF check must refuse ``null``.
    """
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_pages_use_no_inline_script_style_or_third_party_asset(client: TestClient) -> None:
    """Nothing on the pages would need 'unsafe-inline' or another origin."""
    for path in ("/", "/check", "/check/form", "/clinician", "/history"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html)
        assert " style=" not in html
        assert "<style" not in html
        assert not re.search(r" on[a-z]+=", html)
        assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_an_unknown_host_name_is_refused(client: TestClient) -> None:
    """A request for another host name (DNS rebinding) gets a 400 with the reason."""
    response = client.get("/", headers={"host": "evil.example:8000"})
    assert response.status_code == 400
    assert "does not answer to the host name 'evil.example'" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},  # an opaque origin: a sandboxed frame or a data: page elsewhere
        {"origin": "http://127.0.0.1:9000"},  # another program on another port of this computer
        {"origin": "https://127.0.0.1:8000"},  # another scheme
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # another program on another port of this computer
    ],
)
def test_a_write_from_another_site_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    """A form posted by another site's page cannot save anything."""
    response = client.post("/check/form", data={"age": "40"}, headers=headers)
    assert response.status_code == 403
    assert "came from another web site" in response.text
    assert client.app.state.store.count_assessments() == 0


@pytest.mark.parametrize("path", shared_case_params())
def test_a_self_check_is_assessed_saved_and_shown(
    client: TestClient, knowledge: Knowledge, content: WebContent, path: Path
) -> None:
    """The self-check answers of a case give the core's triage, saved, and shown in the banner."""
    case = read_case(path, knowledge.vocabulary)
    on_page = {k: v for k, v in case.findings.items() if k in page_ids("self_check", knowledge, content)}
    expected = assess(case.with_findings(on_page), knowledge)
    response = _post_form(client, "/check/form", _form_items(on_page))
    assert response.status_code == 303
    record_id = response.headers["location"].rsplit("/", 1)[1]
    record = client.app.state.store.get_assessment(record_id)
    assert record.triage == expected.triage.id
    assert record.result["sites"] == to_contract(expected)["sites"]
    page = client.get(response.headers["location"])
    assert f'data-triage="{expected.triage.id}"' in page.text
    assert content.ui.levels[expected.triage.id].word in page.text


@pytest.mark.parametrize("path", shared_case_params())
def test_the_json_alias_answers_what_the_rest_api_answers(client: TestClient, path: Path) -> None:
    """POST /api/assess is an alias of POST /api/v1/assess: the same answer, byte for byte."""
    knowledge = client.app.state.knowledge  # type: ignore[attr-defined]
    case = read_case(path, knowledge.vocabulary)
    findings = {k: list(v) if isinstance(v, tuple) else v for k, v in case.findings.items()}
    response = client.post("/api/assess", json={"findings": findings}, headers=_SAME_ORIGIN)
    assert response.status_code == 200
    assert response.content == client.post("/api/v1/assess", json={"findings": findings}).content
    expected = to_contract(assess(case, knowledge))
    body = response.json()
    assert {k: body[k] for k in ("triage", "sites", "causes", "knowledge_version")} == {
        k: expected[k] for k in ("triage", "sites", "causes", "knowledge_version")
    }


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"findings": {"age": NaN}}', b'{"findings": {"exam.slr": true}}', b"{}"],
)
def test_the_json_alias_refuses_what_the_rest_api_refuses(client: TestClient, body: bytes) -> None:
    """The same body rules and the same problem details (status, field, message) on both paths."""
    headers = {"content-type": "application/json", **_SAME_ORIGIN}
    alias = client.post("/api/assess", content=body, headers=headers)
    rest = client.post("/api/v1/assess", content=body, headers=headers)
    assert alias.status_code == rest.status_code
    assert alias.status_code in {400, 422}
    assert alias.headers["content-type"] == rest.headers["content-type"] == "application/problem+json"
    assert alias.json() == rest.json()


def test_the_result_page_draws_the_site_territory(client: TestClient, knowledge: Knowledge) -> None:
    """The leading site's skin territory is highlighted, core and edge as the anatomy gives them."""
    items = [
        ("exam.power.ankle_dorsiflexion.left", "3"),
        ("exam.power.great_toe_extension.left", "3"),
        ("exam.power.hip_abduction.left", "4"),
        ("exam.sensory_loss_regions", "foot_dorsum.left"),
        ("exam.sensory_loss_regions", "big_toe.left"),
        ("exam.slr.left", "yes"),
    ]
    response = _post_form(client, "/clinician", items)
    page = client.get(response.headers["location"]).text
    site = re.search(r'class="site-lead" data-site="([^"]+)"', page).group(1)
    assert site == "root.L5.left"
    drawn = dict(re.findall(r'data-region="([^"]+)" data-territory="(core|edge)"', page))
    expected = {r: "core" if d >= 1.0 else "edge" for r, d in site_territory(knowledge, site).items()}
    assert drawn == expected


def test_history_lists_reopens_and_deletes(client: TestClient) -> None:
    """A saved assessment is listed, reopens (also into its form), and is gone once deleted."""
    response = _post_form(client, "/check/form", [("age", "51"), ("fever", "yes")])
    record_id = response.headers["location"].rsplit("/", 1)[1]
    history = client.get("/history").text
    assert f'data-record="{record_id}"' in history
    form = client.get(f"/check/form?from={record_id}").text
    assert 'name="age" type="text" inputmode="numeric" autocomplete="off" value="51"' in form
    assert re.search(r'name="fever" value="yes" checked', form)
    deleted = client.post(f"/assessments/{record_id}/delete", headers=_SAME_ORIGIN, follow_redirects=False)
    assert deleted.status_code == 303
    assert f'data-record="{record_id}"' not in client.get("/history").text
    assert client.get(f"/assessments/{record_id}").status_code == 404


def test_a_bad_form_comes_back_with_messages_and_the_answers_kept(client: TestClient) -> None:
    """A 422 shows the form again, a summary of problems, a message at the field, and keeps good answers."""
    response = _post_form(client, "/check/form", [("age", "two hundred"), ("fever", "yes")])
    assert response.status_code == 422
    assert "Some answers need another look" in response.text
    assert (
        "Age in years: enter a whole number from 0 to 120, or leave it empty. You entered two hundred."
        in response.text
    )
    assert 'aria-invalid="true"' in response.text
    assert re.search(r'name="fever" value="yes" checked', response.text)
    assert client.app.state.store.count_assessments() == 0


_BAD_REQUESTS = [
    # (method, path, headers, body, status, reason fragment)
    (
        "POST",
        "/check/form",
        {"content-type": "text/plain"},
        b"age=4",
        415,
        "must be sent as application/x-www-form-urlencoded",
    ),
    (
        "POST",
        "/check/form",
        {"content-type": "application/x-www-form-urlencoded"},
        b"age=%ff%fe",
        400,
        "not UTF-8",
    ),
    (
        "POST",
        "/check/form",
        {"content-type": "application/x-www-form-urlencoded"},
        b"a=" + b"x" * (MAX_BODY_BYTES + 1),
        413,
        "too large",
    ),
    (
        "POST",
        "/check/form",
        {"content-type": "application/x-www-form-urlencoded"},
        b"&".join(b"f%d=1" % i for i in range(3000)),
        413,
        "too many fields",
    ),
    (
        "POST",
        "/check/form",
        {"content-type": "application/x-www-form-urlencoded"},
        b"hack=1",
        422,
        "a field this page does not have",
    ),
    (
        "POST",
        "/clinician",
        {"content-type": "application/x-www-form-urlencoded"},
        b"exam.power.hip_flexion.left=9",
        422,
        "expected a whole number from 0 to 5",
    ),
    ("POST", "/api/assess", {"content-type": "application/json"}, b"{not json", 400, "not valid JSON"),
    (
        "POST",
        "/api/assess",
        {"content-type": "application/json"},
        b"[1, 2]",
        422,
        "Input should be a valid dictionary",
    ),
    (
        "POST",
        "/api/assess",
        {"content-type": "application/json"},
        b'{"findings": {"age": NaN}}',
        400,
        "NaN is not a JSON number",
    ),
    (
        "POST",
        "/api/assess",
        {"content-type": "application/json"},
        b'{"findings": {"exam.slr": true}}',
        422,
        "this finding is sided",
    ),
    ("POST", "/api/assess", {"content-type": "application/json"}, b"[" * 100000, 400, "nests too deeply"),
    ("POST", "/api/assess", {"content-type": "application/json"}, b"\xff\xfe", 400, "not UTF-8"),
    (
        "POST",
        "/api/assess",
        {"content-type": "application/x-www-form-urlencoded"},
        b"age=4",
        415,
        "the request body is not declared as JSON",
    ),
    (
        "POST",
        "/api/preview?page=nope",
        {"content-type": "application/x-www-form-urlencoded"},
        b"",
        400,
        "Unknown page",
    ),
    (
        "POST",
        "/api/preview?page=clinician",
        {"content-type": "application/x-www-form-urlencoded"},
        b"age=x",
        422,
        "enter a whole number",
    ),
    ("GET", "/assessments/not-an-id", {}, b"", 404, "no saved assessment with this id"),
    ("GET", "/assessments/" + "0" * 32, {}, b"", 404, "no saved assessment with this id"),
    ("GET", "/check/form?from=" + "f" * 32, {}, b"", 404, "no saved assessment with this id"),
    ("POST", "/assessments/" + "0" * 32 + "/delete", {}, b"", 404, "no saved assessment with this id"),
    ("DELETE", "/api/assessments/" + "0" * 32, {}, b"", 404, "no saved assessment with this id"),
    ("PUT", "/check/form", {}, b"", 405, "does not accept that kind of request"),
    ("GET", "/static/../store.py", {}, b"", 404, "no page at this address"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "status", "reason"), _BAD_REQUESTS)
# pytest passes the parametrized arguments by name.
def test_bad_input_gets_a_readable_4xx_never_a_500(  # noqa: PLR0917
    client, method, path, headers, body, status, reason
) -> None:
    """Malformed forms, JSON, ids and methods are answered with a 4xx and a reason, without a traceback."""
    response = client.request(method, path, content=body, headers={**headers, **_SAME_ORIGIN})
    assert response.status_code == status
    assert reason in response.text
    assert "Traceback" not in response.text
    if path == "/api/assess":  # the alias of /api/v1/assess answers its problem details
        assert response.json()["status"] == status
    elif path.startswith("/api/"):
        assert response.json()["error"]["status"] == status


def test_a_json_input_error_has_structured_fields(client: TestClient) -> None:
    """The 422 problem carries the parts of the error, so a client need not parse the message."""
    response = client.post("/api/assess", json={"findings": {"age": 200}}, headers=_SAME_ORIGIN)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://pinchpoint.example.org/problems/invalid-case",
        "title": "Invalid case",
        "status": 422,
        "detail": "body: findings.age: finding 'age' has a value it cannot take; "
        "expected a whole number from 0 to 120 (got 200)",
        "field": "findings.age",
        "expected": "a whole number from 0 to 120",
        "got": "200",
    }


class _BrokenStore(Store):
    """A store whose disk has failed: every write raises the StoreError the real store would."""

    def save_assessment(self, **_kwargs: object):  # type: ignore[override]
        raise StoreError("the database failed: OSError", location="saving an assessment")


def test_a_database_failure_is_a_503_with_a_reason(knowledge: Knowledge, content: WebContent) -> None:
    """When the database fails, the person is told so (503), not shown a traceback."""
    broken = _BrokenStore(Store.open("sqlite://").engine)
    app = create_app(Settings(), knowledge=knowledge, content=content, store=broken)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        response = _post_form(client, "/check/form", [("age", "40")])
    assert response.status_code == 503
    assert "saving an assessment: the database failed: OSError" in response.text
    assert "Traceback" not in response.text


def test_no_finding_reaches_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """Requests carrying findings log the route and status only: no finding id, value or region."""
    caplog.set_level(logging.DEBUG)
    items = [
        ("age", "73"),
        ("urinary_retention", "yes"),
        ("saddle_numbness", "yes"),
        ("pain_regions", "thigh_posterior.left"),
        ("exam.power.ankle_dorsiflexion.left", "2"),
    ]
    _post_form(client, "/check/form", items[:4])
    _post_form(client, "/clinician", items)
    client.post("/api/preview?page=clinician", data=dict(items[:2]), headers=_SAME_ORIGIN)
    client.post("/api/assess", json={"findings": {"age": 73, "fever": True}}, headers=_SAME_ORIGIN)
    client.post("/api/assess", json={"findings": {"age": 731}}, headers=_SAME_ORIGIN)
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("pinchpoint")]
    assert "POST /check/form 303" in " ".join(messages)  # the route and status are logged
    for message in messages:
        assert re.fullmatch(r"(GET|POST|DELETE) /[a-z/{}_]* \d{3} \d+\.\d ms", message), message
    everything = caplog.text
    for secret in (
        "urinary_retention",
        "saddle",
        "thigh_posterior",
        "ankle_dorsiflexion",
        "fever",
        "findings",
    ):
        assert secret not in everything


@pytest.mark.parametrize("example", ["cauda-equina", "l5-foot-drop", "nonspecific-back-pain"])
def test_the_result_page_draws_the_plan_with_verdicts_and_sources(
    example: str, client: TestClient, knowledge: Knowledge, content: WebContent
) -> None:
    """Investigations, plan items with their verdict in words and source, and the safety net are drawn."""
    case = read_case(
        Path(__file__).parents[2] / f"src/pinchpoint/examples/{example}.yaml", knowledge.vocabulary
    )
    assessment = assess(case, knowledge)
    html = client.app.state.templates.get_template("partials/plan.html").render(
        view=result_view(assessment, knowledge, content, findings=case.findings)
    )
    shown = [*assessment.investigations, *assessment.plan.items()]
    assert assessment.plan.actions, "every plan starts with what to do now"
    for item in shown:
        assert str(escape(item.title)) in html
        assert str(escape("Source: " + knowledge.sources[item.source].title)) in html
    for verdict in {item.verdict for item in shown}:
        words = content.ui.verdicts[verdict.value]
        assert f'<span class="verdict verdict-{verdict.value}">{words}</span>' in html
    assert ("When to seek help again" in html) == bool(assessment.plan.safety_net)


def test_the_empty_clinician_form_shows_no_assessment(client: TestClient) -> None:
    """Nothing entered: no level and no site, on the page and in the live preview; one finding shows one."""
    page = client.get("/clinician").text
    assert "data-no-assessment" in page
    assert "data-triage" not in page.split('id="live-panel"', 1)[1].split("</aside>", 1)[0]
    empty = client.post(
        "/api/preview?page=clinician",
        content=b"",
        headers={**_SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded"},
    ).json()
    assert empty["ok"] is True
    assert empty["triage"] is None
    assert empty["site"] is None
    assert "data-no-assessment" in empty["html"]
    one = client.post(
        "/api/preview?page=clinician",
        content=b"urinary_retention=yes",
        headers={**_SAME_ORIGIN, "content-type": "application/x-www-form-urlencoded"},
    ).json()
    assert one["triage"] == "emergency"
