"""Protection every response and request gets: strict headers, known hosts, same-origin writes.

* **Headers**: a Content-Security-Policy that allows only this server's own scripts,
  styles and images (no inline script or style, no third party, no framing), plus
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, a closed
  ``Permissions-Policy`` and ``Cache-Control: no-store`` on pages (they hold health data).
* **Hosts**: only the ``Host`` names of :meth:`Settings.resolved_allowed_hosts` are
  answered (never any name), so a web page elsewhere cannot reach this server by DNS rebinding.
* **Writes**: a POST or DELETE whose ``Origin`` is not exactly this server's (scheme, host and
  port), is ``null``, or whose ``Sec-Fetch-Site`` says another site, is refused, so a page
  elsewhere (another port of the same host included) cannot save or delete a person's
  assessments. The pages' ``Referrer-Policy: same-origin`` makes browsers send the real
  ``Origin`` on the pages' own forms, so ``null`` never comes from them.

Implemented as plain ASGI middleware so that it also covers error responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityMiddleware"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATIC_PREFIX = "/static/"
_OTHER_SITES = frozenset({"cross-site", "same-site"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class SecurityMiddleware:
    """Add the security headers, and refuse unknown hosts and cross-site writes.

    Args:
        app: The application to wrap.
        allowed_hosts: ``Host`` names to answer (without port); ``*`` is refused.
        tls: Clients reach the server over TLS, possibly through a proxy: ``https`` origins
            are this server's too.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str], tls: bool = False) -> None:
        self.app = app
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        if "*" in self.allowed_hosts:
            raise ValueError("allowed_hosts '*' would answer any host name (DNS rebinding)")
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with headers added to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    response_headers[name] = value
                if not path.startswith(_STATIC_PREFIX):
                    response_headers["cache-control"] = "no-store"
            await send(message)

        if refusal is not None:
            await PlainTextResponse(refusal[1], status_code=refusal[0])(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        host_header = headers.get("host", "")
        host = _hostname(host_header)
        if host not in self.allowed_hosts:
            return 400, (
                f"This server does not answer to the host name {host!r}. "
                "Open it by the address it printed when it started (for example http://127.0.0.1:8000)."
            )
        if scope["method"] in _UNSAFE_METHODS:
            origin = headers.get("origin")
            # Another port on this computer is "same-site": refused too. A client that is not a
            # browser sends no Origin: it has no ambient credentials for a page to borrow.
            if headers.get("sec-fetch-site") in _OTHER_SITES or (
                origin is not None and not self._same_origin(origin, host_header, str(scope.get("scheme")))
            ):
                return 403, (
                    "This request came from another web site and was refused: pinchpoint only "
                    "accepts forms sent from its own pages."
                )
        return None

    def _same_origin(self, origin: str, host_header: str, scheme: str) -> bool:
        """Whether ``origin`` is this server's: its scheme, and the host and port of ``Host``.

        ``null`` (an opaque origin: a sandboxed frame, a ``data:`` page, a redirect from
        elsewhere) is never this server's.
        """
        if origin.strip().lower() == "null":
            return False
        try:
            parts = urlsplit(origin.strip().lower())
            port = parts.port
        except ValueError:
            return False
        schemes = {scheme, "https"} if self.tls else {scheme}
        if parts.scheme not in schemes or parts.hostname is None or parts.path not in ("", "/"):
            return False
        default = _DEFAULT_PORTS.get(parts.scheme, "")
        origin_port = str(port) if port is not None else default
        host = _hostname(host_header)
        host_port = host_header.strip().lower()[len(host) :].removeprefix(":") or default
        origin_host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return origin_host == host and origin_port == host_port


def _hostname(netloc: str) -> str:
    """Return the host of a ``host[:port]`` value, lower case, IPv6 in brackets kept."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc.split("]")[0] + "]"
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
