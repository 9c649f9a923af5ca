"""Fixtures of the web tests: the knowledge, the pages' data, and an app on an in-memory store."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.content import WebContent, load_content
from tests.web.livebrowser import CHROMIUM, chromium, live_server


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    """The packaged knowledge."""
    return load_knowledge()


@pytest.fixture(scope="session")
def content(knowledge: Knowledge) -> WebContent:
    """The packaged pages' data, checked against the knowledge."""
    return load_content(knowledge)


@pytest.fixture
def store() -> Iterator[Store]:
    """A fresh in-memory store."""
    opened = Store.open("sqlite://")
    yield opened
    opened.close()


@pytest.fixture
def client(knowledge: Knowledge, content: WebContent, store: Store) -> Iterator[TestClient]:
    """A test client of the app, addressed as the browser would on loopback."""
    app = create_app(Settings(), knowledge=knowledge, content=content, store=store)
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=True) as test_client:
        yield test_client


# --- the browser tests: one chromium and one live server for the whole session -------------------

_MISSING = [
    reason
    for reason, missing in (
        (f"{CHROMIUM} is not installed (apt-get install chromium)", not CHROMIUM.exists()),
        ("the playwright package is not installed", importlib.util.find_spec("playwright") is None),
    )
    if missing
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, for the test session.

    Outside CI it is skipped, with the reason, when ``/usr/bin/chromium`` or Playwright is
    missing; in CI (``CI=true``) a missing browser fails the test instead.
    """
    if _MISSING:
        if os.environ.get("CI") == "true":
            pytest.fail("browser tests must run in CI: " + "; ".join(_MISSING))
        pytest.skip("; ".join(_MISSING))
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live pinchpoint server on a free loopback port, with its own SQLite file."""
    with live_server(tmp_path_factory.mktemp("browser") / "pinchpoint.sqlite3") as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``browser`` marker (the suite runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium through Playwright; skipped only outside CI when it is missing",
    )
