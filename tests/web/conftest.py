"""Fixtures of the web tests: the knowledge, the pages' data, and an app on an in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.content import WebContent, load_content


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


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``browser`` marker (the suite runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        "browser: drives Debian's chromium through Playwright; skipped only outside CI when it is missing",
    )
