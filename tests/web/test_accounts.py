"""Accounts on a clinic's shared server: login, per-user isolation, the access log, the stranger refused.

The app is served as a clinic would serve it (every interface, a TLS proxy in front, one host
name) with three accounts: two clinicians and an admin. Requests come from 203.0.113.5 (a
documentation address, never this computer), so nothing is open to them as it is to the local
owner of a loopback server.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from pinchpoint.cli.main import main
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.service.accounts import Accounts, User
from pinchpoint.service.store import Store, sqlite_url
from pinchpoint.web import Settings, create_app
from pinchpoint.web.auth import MAX_FAILURES
from pinchpoint.web.content import WebContent

_HOST = "clinic.example"
_BASE = f"https://{_HOST}"
_ORIGIN = {"origin": _BASE}
_FORM = {"content-type": "application/x-www-form-urlencoded", **_ORIGIN}
_STRANGER = ("203.0.113.5", 1234)
_PASSWORDS = {
    "alice": "alice's long passphrase",
    "bob": "bob's long passphrase",
    "root": "the admin's passphrase",
}
_ROLES = {"alice": "clinician", "bob": "clinician", "root": "admin"}
_PUBLIC = {"/healthz", "/login"}
"""The only routes open without credentials: liveness, and the login form itself."""
_FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with the smallest cost, so the suite does not spend seconds hashing."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A store on a SQLite file (the password check reads the raw file too)."""
    opened = Store.open(sqlite_url(tmp_path / "clinic.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    """The three accounts of the clinic."""
    made = Accounts(store.engine, hasher=_FAST)
    for name, password in _PASSWORDS.items():
        made.add_user(name, _ROLES[name], password)
    return made


def _clinic_settings(tmp_path: Path) -> Settings:
    return Settings(
        host="0.0.0.0",
        allowed_hosts=(_HOST,),
        behind_tls_proxy=True,
        secret_file=str(tmp_path / "secret"),
    )


@pytest.fixture
def app(tmp_path: Path, knowledge: Knowledge, content: WebContent, store: Store, accounts: Accounts) -> Any:
    """The app as a clinic serves it."""
    return create_app(
        _clinic_settings(tmp_path), knowledge=knowledge, content=content, store=store, accounts=accounts
    )


def _client(app: Any, client: tuple[str, int] = _STRANGER) -> TestClient:
    return TestClient(app, base_url=_BASE, client=client, follow_redirects=False)


def _logged_in(app: Any, name: str) -> TestClient:
    client = _client(app)
    response = client.post(
        "/login", content=urlencode({"name": name, "password": _PASSWORDS[name]}), headers=_FORM
    )
    assert response.status_code == 303, response.text
    return client


def _save(client: TestClient) -> str:
    response = client.post("/check/form", content=urlencode([("age", "51"), ("fever", "yes")]), headers=_FORM)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def _start_interview(client: TestClient) -> str:
    response = client.post("/check/interviews", content=urlencode([("age", "44")]), headers=_FORM)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


# --- every route refuses a request without credentials ---------------------------------------------


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, those of included routers too (FastAPI keeps an included router as one entry)."""
    for route in routes:
        expand = getattr(route, "effective_candidates", None)
        if expand is not None:
            yield from _routes(expand())
        else:
            yield route


def _requests(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app routes, path parameters filled with well-formed ids."""
    requests = []
    for route in _routes(app.routes):
        if isinstance(route, Mount):
            assert route.path == "/static", f"an unexpected mount {route.path}: is it behind the login?"
            continue
        assert isinstance(route, APIRoute | Route) or hasattr(route, "original_route"), route
        path = re.sub(r"\{service_id\}", "pinchpoint-triage", route.path)
        path = re.sub(r"\{[a-z_]+\}", "0" * 32, path)
        requests += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return requests


@pytest.fixture
def stranger_apps(app: Any, knowledge: Knowledge, content: WebContent) -> dict[str, Any]:
    """The clinic's app, and a loopback app without accounts that a stranger reaches through a proxy."""
    # A loopback server without accounts is open to this computer only, never to another address
    # (as when a proxy on another machine forwards to it).
    bare = Store.open("sqlite://")
    loopback = create_app(Settings(allowed_hosts=(_HOST,)), knowledge=knowledge, content=content, store=bare)
    return {"clinic": app, "loopback-without-accounts": loopback}


@pytest.mark.parametrize("server", ["clinic", "loopback-without-accounts"])
def test_every_route_answers_a_stranger_401_or_the_login_page(
    server: str, stranger_apps: dict[str, Any]
) -> None:
    """Every page redirects to /login and every API and CDS route answers 401, whatever the method."""
    app = stranger_apps[server]
    client = _client(app)
    requests = _requests(app)
    assert len(requests) > 30  # the pages, the interview, the REST API, the CDS services
    checked = set()
    for method, path in requests:
        response = client.request(method, path, headers=_FORM)
        checked.add(path)
        if path in _PUBLIC:
            assert response.status_code in (200, 401, 422), (method, path, response.status_code)
        elif path.startswith(("/api/", "/cds-services")):
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"] == "application/problem+json"
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next=")
    assert {"/history", "/api/v1/assess", "/cds-services", "/api/v1/openapi.json"} <= checked
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"cookie": "pinchpoint-session=abc.def"},
        {"cookie": "__Host-pinchpoint-session=abc.def"},
        {"authorization": "Bearer pp_not-a-token"},
        {"authorization": "Basic YWxpY2U6YWxpY2UncyBsb25nIHBhc3NwaHJhc2U="},  # HTTP Basic is not taken
    ],
)
def test_forged_credentials_are_refused(app: Any, headers: dict[str, str]) -> None:
    """A cookie without the server's signature, an unknown token or a password sent as Basic gets nothing."""
    client = _client(app)
    assert client.get("/history", headers=headers).status_code == 303
    assert client.get("/api/v1/knowledge", headers=headers).status_code == 401


# --- login, cookies, logout -------------------------------------------------------------------------


def test_login_sets_a_strict_secure_cookie_and_logout_ends_it(app: Any) -> None:
    """The session cookie is HttpOnly, SameSite=Strict, Secure with the __Host- prefix; logout revokes it."""
    client = _client(app)
    response = client.post(
        "/login",
        content=urlencode({"name": "alice", "password": _PASSWORDS["alice"], "next": "/history"}),
        headers=_FORM,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/history"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-pinchpoint-session=")
    for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    stolen = client.cookies.get("__Host-pinchpoint-session")
    page = client.get("/history")
    assert page.status_code == 200
    assert "Signed in as alice" in page.text
    assert client.post("/logout", headers=_ORIGIN).status_code == 303
    replay = _client(app)
    assert (
        replay.get("/history", headers={"cookie": f"__Host-pinchpoint-session={stolen}"}).status_code == 303
    )


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(app: Any) -> None:
    """A wrong password shows the form again (401); after many failures the name is refused a while (429)."""
    client = _client(app)
    body = urlencode({"name": "alice", "password": "not alice's password"})
    for _ in range(MAX_FAILURES):
        response = client.post("/login", content=body, headers=_FORM)
        assert response.status_code == 401
        assert "the name or the password is not right" in response.text
        assert "set-cookie" not in response.headers
    right = urlencode({"name": "alice", "password": _PASSWORDS["alice"]})
    throttled = client.post("/login", content=right, headers=_FORM)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "/login"])
def test_login_never_redirects_elsewhere(app: Any, target: str) -> None:
    """``next`` is followed only to a path of this server (no open redirect)."""
    client = _client(app)
    body = urlencode({"name": "bob", "password": _PASSWORDS["bob"], "next": target})
    assert client.post("/login", content=body, headers=_FORM).headers["location"] == "/"


def test_the_secret_key_is_made_private(app: Any, tmp_path: Path) -> None:
    """The key that signs cookies is made on first use, readable by its owner only."""
    _logged_in(app, "alice")
    mode = (tmp_path / "secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_an_api_token_works_and_a_session_token_is_not_one(app: Any, accounts: Accounts) -> None:
    """``Authorization: Bearer`` takes an API token; a browser session's token is not accepted there."""
    alice = accounts.user("alice")
    assert isinstance(alice, User)
    token = accounts.new_token(alice, "api")
    client = _client(app)
    assert client.get("/api/v1/knowledge", headers={"authorization": f"Bearer {token}"}).status_code == 200
    session = accounts.new_token(alice, "session")
    assert client.get("/api/v1/knowledge", headers={"authorization": f"Bearer {session}"}).status_code == 401
    assert accounts.revoke_api_tokens("alice") == 1
    assert client.get("/api/v1/knowledge", headers={"authorization": f"Bearer {token}"}).status_code == 401


# --- isolation ---------------------------------------------------------------------------------------


def test_one_user_cannot_list_read_change_or_delete_anothers_records(app: Any, store: Store) -> None:
    """Bob gets 404 (as for a record that does not exist) for each of Alice's records; an admin sees them."""
    alice, bob = _logged_in(app, "alice"), _logged_in(app, "bob")
    record = _save(alice)
    assert f'data-record="{record}"' in alice.get("/history").text
    assert f'data-record="{record}"' not in bob.get("/history").text
    for method, path in [
        ("GET", f"/assessments/{record}"),
        ("GET", f"/api/assessments/{record}"),
        ("GET", f"/check/form?from={record}"),
        ("GET", f"/clinician?from={record}"),
        ("POST", f"/assessments/{record}/reassess"),
        ("POST", f"/assessments/{record}/delete"),
        ("DELETE", f"/api/assessments/{record}"),
    ]:
        assert bob.request(method, path, headers=_ORIGIN).status_code == 404, (method, path)
    assert store.get_assessment(record) is not None  # still there
    assert alice.get(f"/assessments/{record}").status_code == 200
    admin = _logged_in(app, "root")
    assert f'data-record="{record}"' in admin.get("/history").text
    assert admin.get(f"/api/assessments/{record}").status_code == 200
    assert alice.delete(f"/api/assessments/{record}", headers=_ORIGIN).status_code == 204


def test_one_user_cannot_see_or_answer_anothers_interview(app: Any, accounts: Accounts) -> None:
    """An interview session is its owner's alone, on the pages and through the REST API, admins included."""
    alice, bob, admin = _logged_in(app, "alice"), _logged_in(app, "bob"), _logged_in(app, "root")
    session = _start_interview(alice)
    assert alice.get(f"/check/interviews/{session}").status_code == 200
    for client in (bob, admin):
        assert client.get(f"/check/interviews/{session}").status_code == 404
        for step in ("answer", "back", "forward", "finish", "reopen"):
            assert client.post(f"/check/interviews/{session}/{step}", headers=_FORM).status_code == 404, step
    bob_user = accounts.user("bob")
    assert isinstance(bob_user, User)
    bearer = {"authorization": f"Bearer {accounts.new_token(bob_user, 'api')}", **_ORIGIN}
    api = _client(app)
    for method, path in [
        ("GET", f"/api/v1/interviews/{session}"),
        ("POST", f"/api/v1/interviews/{session}/back"),
        ("GET", f"/api/v1/interviews/{session}/result"),
    ]:
        assert api.request(method, path, headers=bearer).status_code == 404, (method, path)
    started = api.post("/api/v1/interviews", json={"mode": "self_check"}, headers=bearer)
    assert started.status_code == 201
    assert alice.get(f"/api/v1/interviews/{started.json()['id']}").status_code == 404


# --- the access log ----------------------------------------------------------------------------------


def test_the_access_log_records_who_did_what_and_never_a_finding(
    app: Any, store: Store, knowledge: Knowledge
) -> None:
    """Save, read, a refused read and a delete are logged with agent, action and outcome; no finding is."""
    alice, bob = _logged_in(app, "alice"), _logged_in(app, "bob")
    record = _save(alice)
    alice.get(f"/assessments/{record}")
    bob.get(f"/api/assessments/{record}")
    alice.post(f"/assessments/{record}/delete", headers=_ORIGIN)
    events = store.access_log(entity_id=record)
    seen = [(event.action, event.agent_name, event.outcome) for event in events]
    assert ("C", "alice", "0") in seen
    assert ("R", "alice", "0") in seen
    assert ("R", "bob", "4") in seen  # refused: not his
    assert ("D", "alice", "0") in seen
    assert [event.action for event in events if event.agent_name == "alice"][-1] == "D"
    assert all(event.address == _STRANGER[0] for event in events)
    fhir = [event.to_fhir() for event in events]
    assert all(resource["resourceType"] == "AuditEvent" for resource in fhir)
    with store.engine.connect() as connection:
        raw = json.dumps(
            [list(row) for row in connection.execute(sa.text("SELECT * FROM access_log"))], default=str
        )
    text = raw + json.dumps(fhir)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text))
    leaked = words & set(knowledge.vocabulary.findings)
    assert not leaked, f"findings in the access log: {leaked}"
    assert "fever" not in text
    assert "51" not in re.sub(r"[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:.+]+|\d{4}-\d\d-\d\d [\d:.+]+", "", text)


# --- hosts and origins ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example"}, 400),  # DNS rebinding: another name for this address
        ({"host": "0.0.0.0"}, 400),
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"origin": f"https://{_HOST}:8443"}, 403),  # another port of the same host
        ({"origin": f"http://{_HOST}"}, 403),  # the same host without TLS
        ({"sec-fetch-site": "same-site"}, 403),
    ],
)
def test_a_forged_host_or_origin_is_refused_even_when_logged_in(
    app: Any, store: Store, headers: dict[str, str], status: int
) -> None:
    """A logged-in user's browser cannot be made to save or delete from another site or host name."""
    alice = _logged_in(app, "alice")
    body = urlencode([("age", "51")])
    response = alice.post("/check/form", content=body, headers={**_FORM, **headers})
    assert response.status_code == status
    assert store.count_assessments() == 0


# --- passwords ------------------------------------------------------------------------------------------


def test_passwords_are_argon2_hashes_and_never_stored(
    store: Store, accounts: Accounts, tmp_path: Path
) -> None:
    """Every hash is argon2id, and no password appears anywhere in the database file."""
    with store.engine.connect() as connection:
        hashes = [row[0] for row in connection.execute(sa.text("SELECT password_hash FROM users"))]
    assert len(hashes) == len(_PASSWORDS)
    assert all(value.startswith("$argon2id$") for value in hashes)
    store.close()
    data = b"".join(path.read_bytes() for path in tmp_path.glob("clinic.sqlite3*"))
    for password in _PASSWORDS.values():
        assert password.encode() not in data
    assert accounts.authenticate("alice", _PASSWORDS["alice"]) is not None
    assert accounts.authenticate("alice", _PASSWORDS["bob"]) is None
    assert accounts.authenticate("nobody", _PASSWORDS["alice"]) is None


def test_the_cli_adds_lists_and_removes_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """``pinchpoint users`` reads the password from stdin, refuses a short one, and lists names and roles."""
    import io  # noqa: PLC0415

    database = sqlite_url(tmp_path / "cli.sqlite3")
    monkeypatch.setattr("sys.stdin", io.StringIO("a passphrase long enough\n"))
    assert main(["users", "add", "carol", "--role", "admin", "--database", database]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "dave", "--role", "clinician", "--database", database]) == 2
    assert "the password is too short" in capsys.readouterr().err
    assert main(["users", "list", "--database", database]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("carol\tadmin\t")
    assert "dave" not in listed
    assert main(["users", "remove", "carol", "--database", database]) == 0
    assert main(["users", "remove", "carol", "--database", database]) == 2


# --- serving ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "with_account", "reasons"),
    [
        (["--host", "0.0.0.0"], False, ["no account", "no TLS", "no --allowed-host"]),
        (["--host", "0.0.0.0", "--allowed-host", _HOST, "--behind-tls-proxy"], False, ["no account"]),
        (["--host", "0.0.0.0", "--allowed-host", _HOST], True, ["no TLS"]),
        (["--host", "192.0.2.7", "--behind-tls-proxy"], True, ["no --allowed-host"]),
        (
            ["--behind-tls-proxy"],
            False,
            ["no account", "no --allowed-host"],
        ),  # a proxy forwards others' requests
        (["--host", "0.0.0.0", "--allowed-host", "*", "--behind-tls-proxy"], True, ["'*' is refused"]),
        (
            ["--host", "0.0.0.0", "--allowed-host", _HOST, "--tls-cert", "/no/such.pem"],
            True,
            ["--tls-key go together"],
        ),
    ],
)
def test_serve_refuses_an_unprotected_network_address(
    options: list[str],
    with_account: bool,
    reasons: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Off loopback, serve exits 2 naming every missing protection: accounts, TLS, host names."""
    database = sqlite_url(tmp_path / "serve.sqlite3")
    if with_account:
        opened = Store.open(database)
        Accounts(opened.engine, hasher=_FAST).add_user("alice", "admin", _PASSWORDS["alice"])
        opened.close()
    assert main(["serve", *options, "--port", "8999", "--database", database]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pinchpoint: error: pinchpoint serve: refusing to serve on ")
    for reason in reasons:
        assert reason in err
    assert "Traceback" not in err


def test_a_loopback_server_without_accounts_needs_no_login_and_with_one_it_does(
    knowledge: Knowledge, content: WebContent, tmp_path: Path
) -> None:
    """The local owner uses a loopback server as before; once an account exists, everyone logs in."""
    store = Store.open(sqlite_url(tmp_path / "local.sqlite3"))
    settings = Settings(secret_file=str(tmp_path / "secret"))
    local = TestClient(
        create_app(settings, knowledge=knowledge, content=content, store=store),
        base_url="http://127.0.0.1:8000",
        client=("127.0.0.1", 5000),
        follow_redirects=False,
    )
    assert local.get("/history").status_code == 200
    assert "Signed in as" not in local.get("/history").text
    Accounts(store.engine, hasher=_FAST).add_user("alice", "clinician", _PASSWORDS["alice"])
    again = TestClient(
        create_app(settings, knowledge=knowledge, content=content, store=store),
        base_url="http://127.0.0.1:8000",
        client=("127.0.0.1", 5000),
        follow_redirects=False,
    )
    assert again.get("/history").status_code == 303
    cookie = again.post(
        "/login",
        content=urlencode({"name": "alice", "password": _PASSWORDS["alice"]}),
        headers={"content-type": "application/x-www-form-urlencoded", "origin": "http://127.0.0.1:8000"},
    ).headers["set-cookie"]
    assert cookie.startswith("pinchpoint-session=")  # no TLS on loopback: not Secure, no __Host- prefix
    assert "secure" not in cookie.lower()
    store.close()
