"""Who is asking: login, logout, session cookies, API tokens, CDS clients, and the one local owner.

Every request but ``/healthz``, ``/login`` and the static files passes :class:`AuthMiddleware`,
which finds its :class:`Principal` or refuses it, before any route runs (so a route added later
is covered without a line of its own):

* **The local owner.** On a server bound to loopback, with no proxy in front and no account
  configured, a request from this computer is the one local owner
  (:data:`~pinchpoint.service.store.LOCAL_OWNER`), as before accounts existed: nothing to log
  in to. Once one account exists, everyone logs in.
* **Pages** need the session cookie set at login: a random token (only its SHA-256 is stored,
  :mod:`pinchpoint.service.accounts`) with an HMAC-SHA256 signature under the server's secret
  key, ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, and ``Secure`` with the ``__Host-`` prefix
  when clients reach the server over TLS. Without it a page redirects to ``/login``.
* **The REST API** (``/api/...``) takes the same cookie (the pages' own scripts use it) or
  ``Authorization: Bearer pp_...``, an API token made by ``pinchpoint users token``. A bearer
  token rather than HTTP Basic: a password sent with every request would cost an argon2
  verification each time (tens of milliseconds of CPU, an easy denial of service) and would
  sit in every script; a token is random, checked with one hash, and revoked on its own.
  Without credentials: 401 with ``WWW-Authenticate: Bearer``.
* **CDS Hooks** (``/cds-services``) takes the JWT of a trusted CDS client
  (:mod:`pinchpoint.api.cds_auth`), for the endpoint's own URL as audience. With no client
  configured the services are open to the local owner only; otherwise 401.

Failed logins are counted per name and per address; after :data:`MAX_FAILURES` in
:data:`FAILURE_WINDOW` seconds, logins for that name or from that address are refused (429)
until the window has passed.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pinchpoint.api.app import PROBLEM_JSON
from pinchpoint.api.cds_auth import CdsAuthError, CdsVerifier
from pinchpoint.service.accounts import SESSION_LIFETIME, Accounts, User
from pinchpoint.service.store import LOCAL_OWNER, Accessor, OwnedStore, Store
from pinchpoint.web.settings import Settings, load_secret

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "AuthMiddleware",
    "Gate",
    "LoginPages",
    "Principal",
    "current_principal",
    "owned_store",
    "principal_context",
]

MAX_FAILURES = 10
FAILURE_WINDOW = 15 * 60
_PUBLIC_PATHS = frozenset({"/healthz", "/login"})
_STATIC_PREFIX = "/static/"
_CDS_PREFIX = "/cds-services"
_API_PREFIX = "/api/"
_ACCOUNTS_RECHECK = 2.0
"""Seconds between two checks of whether accounts exist, while none does (once one does, it stays so)."""

Kind = Literal["local", "user", "cds"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: the local owner, a logged-in user, or a trusted CDS client."""

    kind: Kind
    name: str
    accessor: Accessor
    user: User | None = None
    session_token: str | None = None


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "pinchpoint_principal", default=None
)


def current_principal() -> Principal | None:
    """The principal of the request being answered (for the pages' header: who is signed in)."""
    return _current.get()


def owned_store(store: Store, request: Request) -> OwnedStore:
    """The store as the request's principal sees it: their own records, every access logged.

    Raises:
        HTTPException: 401 when the request has no principal (never for a route behind the middleware).
    """
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(401, "Log in to see this page.")
    return store.as_user(principal.accessor)


class Gate:
    """The app's authentication: its accounts, its CDS clients, its cookie key and its policy.

    Args:
        settings: Where the server runs (loopback or not, TLS or not, the secret key's file).
        accounts: The accounts of the app's database.
        cds: The CDS clients' verifier.
    """

    def __init__(self, settings: Settings, accounts: Accounts, cds: CdsVerifier) -> None:
        self.settings = settings
        self.accounts = accounts
        self.cds = cds
        self.secure = settings.tls
        self.cookie_name = "__Host-pinchpoint-session" if self.secure else "pinchpoint-session"
        self._secret: bytes | None = None
        self._accounts_seen = False
        self._accounts_checked = float("-inf")
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    # --- policy ------------------------------------------------------------------------------

    def accounts_exist(self) -> bool:
        """Whether any account exists; once one has, the answer stays yes for this server's life."""
        now = time.monotonic()
        if not self._accounts_seen and now - self._accounts_checked > _ACCOUNTS_RECHECK:
            self._accounts_checked = now
            self._accounts_seen = self.accounts.any()
        return self._accounts_seen

    def open_to(self, scope: Scope) -> bool:
        """Whether this request is the local owner's: loopback server, no proxy, no account, local client."""
        return not self.settings.exposed and _local_client(scope) and not self.accounts_exist()

    # --- cookies -----------------------------------------------------------------------------

    def secret(self) -> bytes:
        """The key that signs session cookies, read (or made) on first use."""
        if self._secret is None:
            self._secret = load_secret(self.settings.resolved_secret_file())
        return self._secret

    def sign(self, token: str) -> str:
        """Return the cookie value of a session token: the token and its HMAC."""
        return f"{token}.{self._mac(token)}"

    def unsign(self, value: str) -> str | None:
        """Return the session token of a cookie value whose signature holds, else None."""
        token, _, mac = value.rpartition(".")
        if not token or not hmac.compare_digest(mac, self._mac(token)):
            return None
        return token

    def _mac(self, token: str) -> str:
        digest = hmac.new(self.secret(), token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def set_cookie(self, response: Response, token: str) -> None:
        """Set the session cookie on ``response``."""
        response.set_cookie(
            self.cookie_name,
            self.sign(token),
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(self, response: Response) -> None:
        """Remove the session cookie."""
        response.delete_cookie(
            self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="strict"
        )

    # --- who is it ---------------------------------------------------------------------------

    async def identify(self, scope: Scope) -> Principal | None:
        """Return the request's principal, or None when it brings no acceptable credentials.

        Raises:
            CdsAuthError: A CDS call's JWT is refused (the reason is the 401's detail).
        """
        headers = Headers(scope=scope)
        address = _client_address(scope)
        path = str(scope.get("path", ""))
        if path == _CDS_PREFIX or path.startswith(_CDS_PREFIX + "/"):
            return await self._cds_client(scope, headers, address)
        if self.open_to(scope):
            return _local(address)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = await run_in_threadpool(self.accounts.user_of_token, token.strip(), "api")
            return None if user is None else Principal("user", user.name, user.accessor(address), user)
        cookie = _cookie(headers, self.cookie_name)
        session = self.unsign(cookie) if cookie else None
        if session is None:
            return None
        user = await run_in_threadpool(self.accounts.user_of_token, session, "session")
        if user is None:
            return None
        return Principal("user", user.name, user.accessor(address), user, session_token=session)

    async def _cds_client(self, scope: Scope, headers: Headers, address: str | None) -> Principal | None:
        if not self.cds.configured:
            return _local(address) if self.open_to(scope) else None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        audience = self.audience(scope, headers)
        issuer = await run_in_threadpool(self.cds.verify, token.strip(), audience)
        name = f"cds:{issuer}"[:200]
        return Principal("cds", name, Accessor(owner=name[:32], name=name, address=address))

    def audience(self, scope: Scope, headers: Headers) -> str:
        """The URL a CDS client must have signed its JWT for: this service endpoint's.

        The configured public URL, or this request's own scheme (https when TLS) and ``Host``
        (already checked against the allowed hosts), then the service's path (without
        ``/feedback``: feedback is sent to the service's own endpoint).
        """
        path = str(scope.get("path", "")).rstrip("/").removesuffix("/feedback")
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + path
        scheme = "https" if self.settings.tls else str(scope.get("scheme", "http"))
        return f"{scheme}://{headers.get('host', '')}{path}"

    # --- failed logins -----------------------------------------------------------------------

    def throttled(self, name: str, address: str | None) -> bool:
        """Whether logins for this name or from this address are refused for now."""
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= MAX_FAILURES for key in _failure_keys(name, address))

    def failed(self, name: str, address: str | None) -> None:
        """Count a failed login for this name and this address."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
            for key in _failure_keys(name, address):
                self._failures[key] = [*self._recent(key, now), now]

    def _recent(self, key: str, now: float) -> list[float]:
        return [moment for moment in self._failures.get(key, []) if now - moment < FAILURE_WINDOW]


class AuthMiddleware:
    """Find every request's principal before any route runs; refuse a request that has none.

    A page without credentials is redirected to ``/login`` (303, with ``next``); the REST API and
    the CDS services answer 401 with problem details and ``WWW-Authenticate: Bearer``.
    """

    def __init__(self, app: ASGIApp, *, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Identify the request, then pass it on with its principal, or refuse it."""
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path in _PUBLIC_PATHS or path.startswith(_STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.gate.identify(scope)
            reason = "This request needs credentials: log in, or send Authorization: Bearer <token>."
        except CdsAuthError as exc:
            principal, reason = None, str(exc)
        if principal is None:
            await _refusal(scope, path, reason)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        token = _current.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def _refusal(scope: Scope, path: str, reason: str) -> Response:
    if path.startswith((_API_PREFIX, _CDS_PREFIX)):
        body = {
            "type": "https://pinchpoint.example.org/problems/unauthorized",
            "title": "Unauthorized",
            "status": 401,
            "detail": reason,
        }
        return JSONResponse(
            body,
            status_code=401,
            media_type=PROBLEM_JSON,
            headers={"www-authenticate": 'Bearer realm="pinchpoint"'},
        )
    query = scope.get("query_string", b"").decode("latin-1")
    target = path + (f"?{query}" if query else "")
    return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)


class LoginPages:
    """``GET /login``, ``POST /login`` and ``POST /logout``.

    Args:
        gate: The app's authentication.
        render: Renders a template into an HTML response.
        read_form: Reads an URL-encoded form body as (name, value) pairs.
    """

    def __init__(
        self,
        gate: Gate,
        render: Callable[..., HTMLResponse],
        read_form: Callable[[Request], Awaitable[list[tuple[str, str]]]],
    ) -> None:
        self.gate = gate
        self.render = render
        self.read_form = read_form

    def register(self, app: FastAPI) -> None:
        """Add the routes to ``app`` (kept out of the API's OpenAPI document)."""
        app.add_api_route("/login", self.form, methods=["GET"], include_in_schema=False)
        app.add_api_route("/login", self.login, methods=["POST"], include_in_schema=False)
        app.add_api_route("/logout", self.logout, methods=["POST"], include_in_schema=False)

    async def form(self, request: Request) -> HTMLResponse:
        """The login form."""
        return self._page(_safe_next(request.query_params.get("next", "/")))

    async def login(self, request: Request) -> Response:
        """Check the name and password; on success set the session cookie and go on to ``next``."""
        items = dict(reversed(await self.read_form(request)))  # the first value of each name
        name, password = items.get("name", "").strip().lower(), items.get("password", "")
        target = _safe_next(items.get("next", "/"))
        address = _client_address(request.scope)
        if self.gate.throttled(name, address):
            page = self._page(target, name=name, error="throttled", status=429)
            page.headers["retry-after"] = str(FAILURE_WINDOW)
            return page
        user = await run_in_threadpool(self.gate.accounts.authenticate, name, password)
        if user is None:
            self.gate.failed(name, address)
            return self._page(target, name=name, error="wrong", status=401)
        token = await run_in_threadpool(self.gate.accounts.new_token, user, "session")
        response = RedirectResponse(target, status_code=303)
        self.gate.set_cookie(response, token)
        return response

    async def logout(self, request: Request) -> Response:
        """End the session: forget its token and remove the cookie."""
        principal = getattr(request.state, "principal", None)
        if isinstance(principal, Principal) and principal.session_token:
            await run_in_threadpool(self.gate.accounts.revoke_token, principal.session_token)
        response = RedirectResponse("/login", status_code=303)
        self.gate.clear_cookie(response)
        return response

    def _page(self, target: str, *, name: str = "", error: str = "", status: int = 200) -> HTMLResponse:
        page = self.render(
            "login.html",
            status=status,
            nav="",
            next_path=target,
            name=name,
            error=error,
            accounts=self.gate.accounts_exist(),
        )
        if status == 401:
            page.headers["www-authenticate"] = 'Bearer realm="pinchpoint"'
        return page


def _local(address: str | None) -> Principal:
    return Principal("local", LOCAL_OWNER, Accessor(owner=LOCAL_OWNER, name=LOCAL_OWNER, address=address))


def _client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0])[:64] if client else None


def _local_client(scope: Scope) -> bool:
    """Whether the request comes from this computer.

    A loopback address, or no network address at all: a Unix socket has none, and an in-process
    client (a test's) names itself instead of giving an address. A real network peer always
    has an IP address, and only a loopback one counts.
    """
    address = _client_address(scope)
    if address is None:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True


def _cookie(headers: Headers, name: str) -> str | None:
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
    return None


def _safe_next(target: str) -> str:
    """Return ``target`` when it is a path on this server, else ``/`` (no open redirect)."""
    if (
        not target.startswith("/")
        or target.startswith(("//", "/\\", "/login", "/logout"))
        or len(target) > 2000
        or any(ord(c) < 0x20 or c == "\\" for c in target)
    ):
        return "/"
    return target


def _failure_keys(name: str, address: str | None) -> tuple[str, ...]:
    return (f"name:{name}", f"address:{address}") if address else (f"name:{name}",)


def principal_context() -> dict[str, Any]:
    """The template globals about who is signed in (a function, read while rendering)."""
    principal = current_principal()
    return {"signed_in": principal.name if principal is not None and principal.kind == "user" else None}
