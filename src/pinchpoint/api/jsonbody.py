"""One reader of JSON request bodies for every JSON route: ``/api/v1``, ``/cds-services``, ``/api/assess``.

:func:`read_json_body` reads a body only if it is declared as JSON (``application/json`` or an
``application/...+json`` type such as ``application/fhir+json``), only up to
:data:`MAX_JSON_BYTES` (a larger ``Content-Length`` is refused before a byte is read, and a
body without one is cut off as soon as it passes the limit), and parses it with the strict
reader of :mod:`pinchpoint.io.readers` (no duplicate key, no number out of range, no lone
surrogate). Every refusal is an :class:`~pinchpoint.errors.InvalidRequestError`: 413 for a
body too large, 415 for another media type, 400 for the rest.

:class:`JsonRoute` applies the same reader to the routes whose body FastAPI parses into a model,
before FastAPI sees the body, so that those routes refuse exactly what the others refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from pinchpoint.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from pinchpoint.io.readers import load_json

__all__ = ["MAX_JSON_BYTES", "JsonRoute", "read_body", "read_json_body"]

MAX_JSON_BYTES = 1024 * 1024
"""The largest JSON body read: a case is a few kilobytes, a record Bundle or a CDS prefetch some hundreds."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def media_type(request: Request) -> str:
    """Return the request's media type, lower case, without parameters (``charset``)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """Say whether a media type is JSON: ``application/json`` or ``application/<anything>+json``."""
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, *, limit: int) -> bytes:
    """Read the body, refusing one larger than ``limit`` bytes without reading it all.

    Raises:
        PayloadTooLargeError: ``Content-Length`` or the bytes received pass ``limit``.
        InvalidRequestError: ``Content-Length`` is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise InvalidRequestError(
            "the Content-Length header is not a number", location="request: content-length", got=declared
        )
    too_large = PayloadTooLargeError(
        "the request body is too large",
        location="request: body",
        expected=f"a body of at most {limit // 1024} KiB",
    )
    if declared is not None and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    request._body = bytes(body)  # Starlette's cache: later reads of the body get these bytes
    return request._body


async def read_json_body(request: Request, *, limit: int = MAX_JSON_BYTES) -> Any:
    """Read and parse a JSON request body strictly (see the module docstring).

    Raises:
        UnsupportedMediaTypeError: The body is not declared as JSON.
        PayloadTooLargeError: The body is larger than ``limit`` bytes.
        InvalidRequestError: The body is not UTF-8 or not JSON, or holds a duplicate key, a
            number out of range or a lone surrogate.
    """
    media = media_type(request)
    if not is_json(media):
        raise UnsupportedMediaTypeError(
            "the request body is not declared as JSON",
            location="request: content-type",
            expected="a JSON body sent as application/json",
            got=media or "no content type",
        )
    value = load_json(await read_body(request, limit=limit), origin="body", error=InvalidRequestError)
    request._json = value  # Starlette's cache, which FastAPI's own read of the body uses
    return value


class JsonRoute(APIRoute):
    """A route whose JSON body is read by :func:`read_json_body` before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: read a non-empty body strictly first, then handle as usual."""
        handle = super().get_route_handler()

        async def read_then_handle(request: Request) -> Response:
            if request.method in _BODY_METHODS and _has_body(request):
                await read_json_body(request)
            return await handle(request)

        return read_then_handle


def _has_body(request: Request) -> bool:
    """Whether the request announces a body (a length above zero, or a chunked one)."""
    declared = request.headers.get("content-length")
    return declared != "0" if declared is not None else "transfer-encoding" in request.headers
