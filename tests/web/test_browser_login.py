"""A real browser logs in, saves, sees only its own history, and logs out (chromium, a live server).

The in-process tests check the headers; this one checks that a browser really sends what the
server requires: the session cookie (``SameSite=Strict``) on the next pages, and an ``Origin`` of
the server's own (``Referrer-Policy: same-origin``, never ``null``) on every form it posts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher

from pinchpoint.service.accounts import Accounts
from pinchpoint.service.store import Store, sqlite_url
from pinchpoint.web import Settings, create_app
from tests.web.livebrowser import free_port

pytestmark = pytest.mark.browser

_FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_USERS = {"alice": "alice's long passphrase", "bob": "bob's long passphrase"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A live loopback server whose database has two accounts: everyone logs in."""
    store = Store.open(sqlite_url(tmp_path / "login.sqlite3"))
    accounts = Accounts(store.engine, hasher=_FAST)
    for name, password in _USERS.items():
        accounts.add_user(name, "clinician", password)
    port = free_port()
    app = create_app(
        Settings(port=port, secret_file=str(tmp_path / "secret")), store=store, accounts=accounts
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="none"
    )
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not live.started:
        assert time.monotonic() < deadline, "the server did not start"
        assert thread.is_alive(), "the server stopped"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        live.should_exit = True
        thread.join(timeout=10)
        store.close()


def _log_in(browser: Any, server: str, name: str) -> Any:
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.goto("/history")
    assert "/login" in page.url
    page.fill("#login-name", name)
    page.fill("#login-password", _USERS[name])
    page.click("button[type=submit]")
    page.wait_for_url("**/history")
    assert f"Signed in as {name}" in page.content()
    return page


def test_a_browser_logs_in_saves_sees_its_own_history_and_logs_out(browser: Any, server: str) -> None:
    """Alice's saved result is in her history, not in Bob's; after logging out the pages ask for a login."""
    alice = _log_in(browser, server, "alice")
    alice.goto("/check/form")
    alice.fill("input[name=age]", "51")
    alice.locator("form[action='/check/form'] button[type=submit]").last.click()
    alice.wait_for_url("**/assessments/*")
    record = alice.url.rsplit("/", 1)[1]
    alice.goto("/history")
    assert f'data-record="{record}"' in alice.content()
    bob = _log_in(browser, server, "bob")
    assert f'data-record="{record}"' not in bob.content()
    assert bob.goto(f"/assessments/{record}").status == 404
    alice.click("form.signed-in button[type=submit]")
    alice.wait_for_url("**/login")
    alice.goto("/history")
    assert "/login" in alice.url
