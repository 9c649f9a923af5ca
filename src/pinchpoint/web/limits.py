"""Overload as a designed state: what the server reads, how many it serves at once, how long it waits.

A server that takes every request it is sent, whatever its size and however many are waiting,
ends up answering none of them in time. These limits make the failure a designed, prompt answer:

* **Bodies**: each class of route (:data:`ROUTE_CLASSES`) reads at most its own number of bytes.
  A larger ``Content-Length`` is answered 413 before a byte of the body is read (and the
  connection closed); a body sent without one is counted as it streams, and refused (413) as soon
  as it passes the limit. A body that stops arriving is answered 408 after
  :data:`BODY_TIMEOUT_SECONDS`.
* **Concurrency**: each class serves at most its number of requests at once; the next one is
  answered 503 with ``Retry-After`` at once, instead of joining a queue that grows until every
  client times out. ``/healthz`` and the static files are never counted, so a monitor sees the
  server alive while it refuses work.
* **Connections** (:class:`GuardedH11Protocol`, uvicorn's HTTP/1.1 protocol with one deadline
  more): a connection must send a whole request head within :data:`HEAD_TIMEOUT_SECONDS` of its
  first byte (or of being opened), so that clients sending half a request and then nothing
  cannot hold the server's connections for ever; heads are at most :data:`MAX_HEAD_BYTES`.
* **One log line per request**: method, route template (never the URL with its values), status
  and time, written by :class:`LimitsMiddleware` after the response (never a body or a finding).

Refusals are made by the app's own error handlers (a :class:`~pinchpoint.errors.PayloadTooLargeError`
or an HTTP 503), so they read like every other error of the route: problem details on the REST API
and the CDS services, a JSON error on the pages' ``/api/`` routes, an HTML page on the pages.
The CPU work itself runs off the event loop in :func:`pinchpoint.api.cpu.run_cpu`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h11
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from pinchpoint.errors import PayloadTooLargeError

__all__ = [
    "BODY_TIMEOUT_SECONDS",
    "HEAD_TIMEOUT_SECONDS",
    "KEEP_ALIVE_SECONDS",
    "MAX_HEAD_BYTES",
    "RETRY_AFTER_SECONDS",
    "ROUTE_CLASSES",
    "GuardedH11Protocol",
    "LimitsMiddleware",
    "RouteClass",
    "route_class",
    "uvicorn_options",
]

KIB = 1024
HEAD_TIMEOUT_SECONDS = 10.0
"""How long a connection may take to send a whole request head (a browser sends it at once)."""
BODY_TIMEOUT_SECONDS = 10.0
"""How long the server waits for each part of a request body before answering 408."""
KEEP_ALIVE_SECONDS = 5
"""How long an idle keep-alive connection stays open between requests."""
MAX_HEAD_BYTES = 16 * KIB
"""The largest request head (request line and headers) read; a larger one is answered 400."""
RETRY_AFTER_SECONDS = 1
"""The ``Retry-After`` of a 503: the work in flight takes milliseconds, so a second is plenty."""

log = logging.getLogger("pinchpoint.web")


@dataclass(frozen=True, slots=True)
class RouteClass:
    """A class of routes with one body limit and one concurrency limit.

    Attributes:
        name: A short name, for the log and the tests.
        max_body: The largest request body read, in bytes.
        max_in_flight: The most requests of this class served at once; ``None``: never counted.
        what: What the body holds, for the 413's message.
    """

    name: str
    max_body: int
    max_in_flight: int | None
    what: str


HEALTH = RouteClass("health", 1 * KIB, None, "a health check")
STATIC = RouteClass("static", 1 * KIB, None, "a static file")
JSON_API = RouteClass("json", 256 * KIB, 32, "a case or an answer as JSON")
FHIR = RouteClass("fhir", 1024 * KIB, 8, "a FHIR resource or a CDS Hooks request")
TEXT = RouteClass("text", 128 * KIB, 4, "a free-text description")
FORMS = RouteClass("forms", 256 * KIB, 32, "a form")
ROUTE_CLASSES = (HEALTH, STATIC, JSON_API, FHIR, TEXT, FORMS)
"""Every class: a case is some kilobytes, a record Bundle or a CDS prefetch some hundreds, a
description at most 5,000 characters (128 KiB holds them escaped), a whole form some tens."""


def route_class(path: str) -> RouteClass:
    """Return the class of the route at ``path``."""
    if path == "/healthz":
        return HEALTH
    if path.startswith("/static/"):
        return STATIC
    if path in ("/api/v1/text", "/clinician/note") or path.startswith("/check/text"):
        return TEXT
    if path.startswith(("/api/v1/fhir/", "/cds-services")):
        return FHIR
    if path.startswith("/api/"):
        return JSON_API
    return FORMS


class _BodyTimeoutError(HTTPException):
    """The request body stopped arriving."""


class LimitsMiddleware:
    """Apply the body and concurrency limits of each route class, and log each request once.

    Args:
        app: The application to wrap.
        classify: The class of a path (:func:`route_class`; tests give small limits).
        body_timeout: Seconds to wait for each part of a body.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        classify: Callable[[str], RouteClass] = route_class,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        self.app = app
        self.classify = classify
        self.body_timeout = body_timeout
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is over a limit, serve the rest with its body counted, log the outcome."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        kind = self.classify(scope["path"])
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._serve(scope, receive, send_noting_status, kind)
        except Exception as exc:
            # A bug: answered here, inside the security middleware, so that its 500 carries the
            # headers and is logged once (by the app's ``answer_bug``), unless a response began.
            answer = getattr(getattr(scope.get("app"), "state", None), "answer_bug", None)
            if status or answer is None:
                raise
            response = await answer(Request(scope, receive), exc)
            await response(scope, receive, send_noting_status)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    _route_template(scope),
                    status,
                    (time.perf_counter() - started) * 1000,
                )

    async def _serve(self, scope: Scope, receive: Receive, send: Send, kind: RouteClass) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > kind.max_body:
            await self._refuse(scope, receive, send, _too_large(kind), {"connection": "close"})
            return
        limit = kind.max_in_flight
        if limit is None:
            await self.app(scope, self._counted(receive, kind), send)
            return
        busy = self.in_flight.get(kind.name, 0)
        if busy >= limit:
            await self._refuse(scope, receive, send, _busy(), {"retry-after": str(RETRY_AFTER_SECONDS)})
            return
        self.in_flight[kind.name] = busy + 1
        try:
            await self.app(scope, self._counted(receive, kind), send)
        finally:
            self.in_flight[kind.name] -= 1

    def _counted(self, receive: Receive, kind: RouteClass) -> Receive:
        """Wrap ``receive``: count the body's bytes and wait for each part at most ``body_timeout``."""
        received = 0
        complete = False
        timeout = self.body_timeout

        async def counted() -> Message:
            nonlocal received, complete
            if complete:  # after the body, receive waits for the client to leave: no deadline
                return await receive()
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeoutError(
                    408,
                    f"The request body did not arrive within {timeout:g} seconds; send it again.",
                    headers={"connection": "close"},
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > kind.max_body:
                    raise _too_large(kind)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        return counted

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: Exception, headers: dict[str, str]
    ) -> None:
        """Answer with the app's own handler of ``error`` (so it reads like the route's other errors)."""
        request = Request(scope, receive)
        handler = _handler_for(scope.get("app"), error)
        response: Response
        if handler is None:
            response = JSONResponse({"detail": str(error)}, status_code=_status_of(error))
        else:
            answered = handler(request, error)
            response = await answered if inspect.isawaitable(answered) else answered
        for name, value in headers.items():
            response.headers[name] = value
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _too_large(kind: RouteClass) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        "the request body is too large",
        location="request: body",
        expected=f"{kind.what} of at most {kind.max_body // KIB} KiB",
    )


def _busy() -> HTTPException:
    return HTTPException(
        503,
        f"The server is busy with other requests; try again in {RETRY_AFTER_SECONDS} second.",
        headers={"retry-after": str(RETRY_AFTER_SECONDS)},
    )


def _status_of(error: Exception) -> int:
    return error.status_code if isinstance(error, HTTPException) else 413


def _handler_for(app: Any, error: Exception) -> Callable[..., Any] | None:
    """Return the app's exception handler for ``error`` (by its class, most specific first)."""
    handlers = getattr(app, "exception_handlers", None) or {}
    for kind in type(error).__mro__:
        if kind in handlers:
            return handlers[kind]  # type: ignore[no-any-return]
    return None


def _route_template(scope: Scope) -> str:
    """Return the template of the route that answered (``/assessments/{record_id}``), never its values."""
    if scope["path"].startswith("/static/"):
        return "/static/{file}"
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "(no route)"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request head.

    uvicorn closes a keep-alive connection that stays idle between requests, but waits for ever
    for a request head that has begun (or for a first byte on a new connection). Here a head must
    be complete :attr:`head_timeout` seconds after the connection opens or the head's first byte
    arrives; if not, the connection is answered 408 and closed.
    """

    head_timeout = HEAD_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Open the connection and start waiting for its first request head."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        """Handle the bytes, then start or stop the head's deadline."""
        super().data_received(data)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline of a closed connection."""
        self._stop_head_timer()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        waiting_for_head = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if not waiting_for_head:
            self._stop_head_timer()
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """Return the options of ``uvicorn.run`` that bound connections: protocol, timeouts, head size."""
    return {
        "http": GuardedH11Protocol,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }
