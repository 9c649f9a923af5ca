"""Overload as a designed state (pinchpoint.web.limits): body limits, 503 when busy, deadlines, BLAS.

* every route class refuses a body over its limit with 413, in the route's own error format,
  whether the size is declared (refused before a byte is read) or streamed;
* a class at its concurrency limit answers 503 with ``Retry-After`` at once, while ``/healthz``
  answers; the slot is given back when the request ends (a tiny limit and a route held by an event);
* a body that stops arriving is answered 408; a request head that stops arriving is answered 408
  and its connection closed by the real uvicorn protocol, while other clients are served;
* ``pinchpoint serve`` starts uvicorn with those protocol options and BLAS at one thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from threadpoolctl import threadpool_info, threadpool_limits

from pinchpoint.web import server as server_module
from pinchpoint.web.limits import (
    FHIR,
    FORMS,
    HEALTH,
    JSON_API,
    RETRY_AFTER_SECONDS,
    ROUTE_CLASSES,
    STATIC,
    TEXT,
    GuardedH11Protocol,
    LimitsMiddleware,
    RouteClass,
    route_class,
)
from pinchpoint.web.settings import Settings

_ORIGIN = {"origin": "http://127.0.0.1:8000"}
_JSON = {**_ORIGIN, "content-type": "application/json"}
_FORM = {**_ORIGIN, "content-type": "application/x-www-form-urlencoded"}
_PROBLEM = "application/problem+json"


def _run_async(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end in a new event loop of its own thread, and return its result.

    A thread of its own, because the browser tests' Playwright keeps an event loop running in
    the main thread for the whole session, where ``asyncio.run`` is refused.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# --- which class each route is in ---------------------------------------------------------------

_CLASSES = [
    ("/healthz", HEALTH),
    ("/static/app.js", STATIC),
    ("/api/v1/assess", JSON_API),
    ("/api/assess", JSON_API),
    ("/api/v1/interviews", JSON_API),
    ("/api/preview", JSON_API),
    ("/api/assessments/" + "0" * 32, JSON_API),
    ("/api/v1/fhir/assess", FHIR),
    ("/api/v1/fhir/plan", FHIR),
    ("/cds-services/pinchpoint-sciatica", FHIR),
    ("/api/v1/text", TEXT),
    ("/check/text", TEXT),
    ("/check/text/confirm", TEXT),
    ("/check/form", FORMS),
    ("/clinician", FORMS),
    ("/assessments/" + "0" * 32 + "/delete", FORMS),
    ("/", FORMS),
]


@pytest.mark.parametrize(("path", "expected"), _CLASSES)
def test_each_route_is_in_its_class(path: str, expected: RouteClass) -> None:
    assert route_class(path) is expected


def test_only_health_and_static_files_are_never_counted() -> None:
    uncounted = {kind.name for kind in ROUTE_CLASSES if kind.max_in_flight is None}
    assert uncounted == {"health", "static"}
    assert all(kind.max_body > 0 for kind in ROUTE_CLASSES)


# --- 413 on each route class of the real app ----------------------------------------------------


@dataclass(frozen=True)
class Oversized:
    """A route, how its body is sent and written, its class, and the media type of its errors."""

    path: str
    headers: dict[str, str]
    kind: RouteClass
    body: Callable[[int], bytes]
    media: str


_OVERSIZED = [
    Oversized(
        "/api/v1/assess", _JSON, JSON_API, lambda n: b'{"findings": {}, "x": "' + b"a" * n + b'"}', _PROBLEM
    ),
    Oversized(
        "/api/assess", _JSON, JSON_API, lambda n: b'{"findings": {}, "x": "' + b"a" * n + b'"}', _PROBLEM
    ),
    Oversized(
        "/api/preview?page=clinician", _FORM, JSON_API, lambda n: b"age=" + b"1" * n, "application/json"
    ),
    Oversized(
        "/api/v1/fhir/assess",
        _JSON,
        FHIR,
        lambda n: b'{"resourceType": "Bundle", "x": "' + b"a" * n + b'"}',
        _PROBLEM,
    ),
    Oversized(
        "/cds-services/pinchpoint-sciatica", _JSON, FHIR, lambda n: b'{"hook": "' + b"a" * n + b'"}', _PROBLEM
    ),
    Oversized("/api/v1/text", _JSON, TEXT, lambda n: b'{"text": "' + b"a" * n + b'"}', _PROBLEM),
    Oversized("/check/text", _FORM, TEXT, lambda n: b"text=" + b"a" * n, "text/html"),
    Oversized("/check/form", _FORM, FORMS, lambda n: b"age=" + b"1" * n, "text/html"),
    Oversized("/clinician", _FORM, FORMS, lambda n: b"age=" + b"1" * n, "text/html"),
]
_IDS = [row.path for row in _OVERSIZED]


@pytest.mark.parametrize("row", _OVERSIZED, ids=_IDS)
def test_a_declared_body_over_the_class_limit_is_413_in_the_routes_format(
    client: TestClient, row: Oversized
) -> None:
    response = client.post(row.path, content=row.body(row.kind.max_body), headers=row.headers)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith(row.media)
    assert "too large" in response.text
    assert f"at most {row.kind.max_body // 1024} KiB" in response.text
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"  # the security headers too


@pytest.mark.parametrize("row", _OVERSIZED, ids=_IDS)
def test_a_streamed_body_over_the_class_limit_is_413(client: TestClient, row: Oversized) -> None:
    whole = row.body(row.kind.max_body)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they come
        for start in range(0, len(whole), 64 * 1024):
            yield whole[start : start + 64 * 1024]

    response = client.post(row.path, content=chunks(), headers=row.headers)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith(row.media)
    assert "too large" in response.text


@pytest.mark.parametrize("row", _OVERSIZED, ids=_IDS)
def test_a_body_well_under_the_limit_is_read(client: TestClient, row: Oversized) -> None:
    response = client.post(row.path, content=row.body(1000), headers=row.headers)
    assert response.status_code != 413


def test_a_declared_size_is_refused_before_a_byte_is_read() -> None:
    app, _ = _tiny_app(limit=1)
    events: list[str] = []

    async def receive() -> dict[str, Any]:
        events.append("receive")
        return {"type": "http.request", "body": b"x", "more_body": False}

    sent = _run_async(_call(app, "/held", receive, headers=[(b"content-length", b"100000000")]))
    assert sent[0]["status"] == 413
    assert events == []


# --- 503 with Retry-After when a class is at its limit ------------------------------------------

_HELD = RouteClass("held", 1024, 1, "a test body")


def _tiny_app(limit: int, *, body_timeout: float = 5.0) -> tuple[LimitsMiddleware, dict[str, asyncio.Event]]:
    """A Starlette app whose ``/held`` route waits for an event, behind limits of ``limit`` at once.

    Returns the app and its events: ``entered`` is set when a request is inside the route,
    ``release`` lets it answer.
    """
    holder: dict[str, asyncio.Event] = {}

    async def held(request: Request) -> PlainTextResponse:
        await request.body()
        entered = holder.setdefault("entered", asyncio.Event())
        entered.set()
        await holder.setdefault("release", asyncio.Event()).wait()
        return PlainTextResponse("done")

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    inner = Starlette(routes=[Route("/held", held, methods=["GET", "POST"]), Route("/healthz", healthz)])
    kind = RouteClass("held", 1024, limit, "a test body")
    middleware = LimitsMiddleware(
        inner, classify=lambda path: kind if path == "/held" else route_class(path), body_timeout=body_timeout
    )
    return middleware, holder


async def _call(
    app: Any,
    path: str,
    receive: Callable[[], Any] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "POST",
) -> list[dict[str, Any]]:
    """Call ``app`` with one request to ``path``; return the messages it sent."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }

    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive or no_body, send)
    return sent


def test_a_class_at_its_limit_answers_503_with_retry_after_while_healthz_answers() -> None:
    app, holder = _tiny_app(limit=1)

    async def scenario() -> None:
        first = asyncio.create_task(_call(app, "/held"))
        await asyncio.wait_for(holder.setdefault("entered", asyncio.Event()).wait(), 5)
        assert app.in_flight["held"] == 1

        refused = await asyncio.wait_for(_call(app, "/held"), 1)  # at once, not after the first one
        start = refused[0]
        assert start["status"] == 503
        headers = dict(start["headers"])
        assert headers[b"retry-after"] == str(RETRY_AFTER_SECONDS).encode()
        assert b"busy" in refused[1]["body"]

        health = await asyncio.wait_for(_call(app, "/healthz", method="GET"), 1)
        assert health[0]["status"] == 200
        assert not first.done()  # the held request is still being served

        holder["release"].set()
        assert (await first)[0]["status"] == 200
        assert app.in_flight["held"] == 0  # the slot is given back
        assert (await _call(app, "/held"))[0]["status"] == 200

    _run_async(scenario())


def test_the_slot_is_given_back_when_the_route_fails() -> None:
    async def broken(request: Request) -> PlainTextResponse:
        raise RuntimeError("a bug")

    inner = Starlette(routes=[Route("/held", broken, methods=["POST"])])
    app = LimitsMiddleware(inner, classify=lambda path: _HELD)

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await _call(app, "/held")
        assert app.in_flight["held"] == 0

    _run_async(scenario())


def test_the_real_apps_503_is_a_problem_on_the_api_and_a_page_on_the_pages(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = _limits_of(client.app)
    for name in ("json", "forms"):
        monkeypatch.setitem(limits.in_flight, name, 10_000)  # as if that many were being served
    api = client.post("/api/v1/assess", json={"findings": {}}, headers=_ORIGIN)
    assert api.status_code == 503
    assert api.headers["content-type"] == _PROBLEM
    assert api.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert api.json()["status"] == 503
    page = client.post("/check/form", content=b"age=40", headers=_FORM)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert "busy" in page.text
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def _limits_of(app: Any) -> LimitsMiddleware:
    """Return the LimitsMiddleware instance of a built app (building its middleware stack)."""
    layer = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = layer
    while layer is not None and not isinstance(layer, LimitsMiddleware):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, LimitsMiddleware)
    return layer


# --- deadlines ----------------------------------------------------------------------------------


def test_a_body_that_stops_arriving_is_answered_408() -> None:
    app, _ = _tiny_app(limit=4, body_timeout=0.05)

    async def stalled() -> dict[str, Any]:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    sent = _run_async(_call(app, "/held", stalled, headers=[(b"content-length", b"10")]))
    assert sent[0]["status"] == 408
    assert app.in_flight["held"] == 0


class _QuickHeads(GuardedH11Protocol):
    head_timeout = 0.3


@pytest.fixture
def guarded_server() -> Iterator[int]:
    """A real uvicorn server with the guarded protocol (a 0.3 s head deadline); yield its port."""

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        Starlette(routes=[Route("/", ok)]), host="127.0.0.1", port=port, http=_QuickHeads, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        assert thread.is_alive(), "the test server stopped"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _read_all(sock: socket.socket, within: float) -> bytes:
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        pass
    return received


def test_a_half_sent_head_is_answered_408_and_closed_while_others_are_served(guarded_server: int) -> None:
    stalled = [socket.create_connection(("127.0.0.1", guarded_server)) for _ in range(20)]
    try:
        for sock in stalled[:10]:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")  # half a head, then nothing
        # (the other ten send nothing at all)
        with socket.create_connection(("127.0.0.1", guarded_server)) as other:
            other.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert _read_all(other, 5).startswith(b"HTTP/1.1 200")
        for sock in stalled:
            answer = _read_all(sock, 5)  # ends when the server closes the connection
            assert answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        for sock in stalled:
            sock.close()


def test_a_slow_but_whole_head_is_served(guarded_server: int) -> None:
    with socket.create_connection(("127.0.0.1", guarded_server)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.1)
        sock.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert _read_all(sock, 5).startswith(b"HTTP/1.1 200")


# --- the server's start-up -----------------------------------------------------------------------


def test_serve_starts_uvicorn_with_the_limits_and_blas_on_one_thread(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(app: Any, **options: Any) -> None:
        seen["options"] = options
        seen["blas_threads"] = [pool["num_threads"] for pool in threadpool_info()]
        app.state.store.close()  # the server would close it when it stops

    original = threadpool_info()
    monkeypatch.setattr(server_module.uvicorn, "run", fake_run)
    try:
        server_module.serve(Settings(database_url=f"sqlite:///{tmp_path}/pinchpoint.sqlite3"))
    finally:
        gc.unfreeze()
        for pool in original:  # give this test process its own pools back
            threadpool_limits(limits=pool["num_threads"], user_api=pool["user_api"])
    assert seen["blas_threads"], "numpy's BLAS was not found"
    assert set(seen["blas_threads"]) == {1}
    options = seen["options"]
    assert options["http"] is GuardedH11Protocol
    assert options["timeout_keep_alive"] > 0
    assert options["h11_max_incomplete_event_size"] > 0
    assert options["access_log"] is False


# --- one log line per request -------------------------------------------------------------------

_LOGGED = [
    ("POST", "/api/v1/assess", "/api/v1/assess"),
    ("GET", "/api/v1/interviews/" + "0" * 32, "/api/v1/interviews/{interview_id}"),
    ("GET", "/assessments/" + "0" * 32, "/assessments/{record_id}"),
    ("POST", "/cds-services/no-such-service", "/cds-services/{service_id}"),
    ("GET", "/static/no-such-file.js", "/static/{file}"),
    ("GET", "/healthz", "/healthz"),
    ("GET", "/no/such/page", "(no route)"),
]


@pytest.mark.parametrize(("method", "path", "template"), _LOGGED)
def test_each_request_is_logged_once_by_its_route_template(
    client: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, template: str
) -> None:
    caplog.set_level(logging.INFO, logger="pinchpoint.web")
    response = client.request(method, path, json={"findings": {"age": 40}}, headers=_ORIGIN)
    lines = [record.getMessage() for record in caplog.records if record.name == "pinchpoint.web"]
    assert len(lines) == 1
    assert lines[0].startswith(f"{method} {template} {response.status_code} ")
    assert "0" * 32 not in lines[0]


# --- CPU work runs in the CPU pool, not on the event loop ------------------------------------------


def test_the_pages_assess_and_read_text_in_the_cpu_pool_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinchpoint.api import app as api_app  # noqa: PLC0415
    from pinchpoint.api import cpu  # noqa: PLC0415
    from pinchpoint.web import app as web_app  # noqa: PLC0415
    from pinchpoint.web import text as web_text  # noqa: PLC0415

    calls: list[tuple[str, int, int]] = []  # (work, event-loop thread, worker thread)

    async def recorded(work: Callable[..., Any], *args: Any) -> Any:
        loop_thread = threading.get_ident()

        def traced(*inner: Any) -> Any:
            calls.append((getattr(work, "__name__", "?"), loop_thread, threading.get_ident()))
            return work(*inner)

        return await cpu.run_cpu(traced, *args)

    for module in (web_app, web_text, api_app):
        monkeypatch.setattr(module, "run_cpu", recorded)
    form = {"age": "73", "urinary_retention": "yes"}
    assert client.post("/check/form", data=form, headers=_ORIGIN, follow_redirects=False).status_code == 303
    assert client.post("/api/preview?page=clinician", data=form, headers=_ORIGIN).status_code == 200
    client.post(
        "/check/text",
        data={"text": "Pain down the back of my left leg.", "mode": "self_check"},
        headers=_ORIGIN,
    )
    assert client.post("/api/v1/assess", json={"findings": {"age": 40}}, headers=_ORIGIN).status_code == 200
    assert [name for name, _, _ in calls] == ["assess", "assess", "_reading", "answer"]
    assert all(worker != loop for _, loop, worker in calls)
