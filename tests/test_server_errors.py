"""A bug while answering: a 500 with the security headers, logged by route and kind, never with its values.

The audit of issue 14 found that a 500 carried no security headers (Starlette answers it outside
every middleware) and that its log line held the exception's message, which can hold a finding
and its value; and that the ``/api/v1`` routes were logged as ``?``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app
from pinchpoint.web.security import SECURITY_HEADERS

pytestmark = pytest.mark.core

_ORIGIN = "http://127.0.0.1:8000"
_SECRET = "urinary_retention=True"
_JSON = {"content-type": "application/json", "origin": _ORIGIN}


class _BrokenStore(Store):
    """A store whose reads and writes of records fail with a message holding a finding and its value."""

    def list_assessments(self, *, limit: int = 200, offset: int = 0) -> list[Any]:
        raise RuntimeError(_SECRET)

    def create_interview(self, state: Mapping[str, Any]) -> Any:
        raise ValueError(_SECRET)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The web app on a store that fails."""
    store = _BrokenStore(Store.open("sqlite://").engine)
    app = create_app(Settings(), knowledge=load_knowledge(), store=store)
    with TestClient(app, base_url=_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client
    store.close()


@pytest.mark.parametrize(
    ("method", "path", "body", "route"),
    [
        ("GET", "/history", b"", "GET /history 500"),
        ("POST", "/api/v1/interviews", b'{"mode": "self_check"}', "POST /api/v1/interviews 500"),
    ],
)
def test_a_bug_is_a_500_with_headers_and_a_log_without_values(  # noqa: PLR0917 (one table row)
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: bytes,
    route: str,
) -> None:
    """The 500 has every security header; the log names the route and the error's kind, not its message."""
    with caplog.at_level(logging.INFO, logger="pinchpoint"):
        response = client.request(method, path, headers=_JSON, content=body)
    assert response.status_code == 500
    assert _SECRET not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(str(record.exc_info) for record in caplog.records if record.exc_info)
    assert _SECRET not in logged
    assert "Error at " in logged  # the kind and place of the bug are logged
    assert any(record.getMessage().startswith(route) for record in caplog.records), logged


@pytest.mark.parametrize(
    ("method", "path", "body", "route"),
    [
        ("POST", "/api/v1/assess", b'{"findings": {}}', "POST /api/v1/assess 200"),
        ("GET", "/api/v1/interviews/" + "a" * 32, b"", "GET /api/v1/interviews/{interview_id} 404"),
        ("POST", "/cds-services/pinchpoint-triage", b"{}", "POST /cds-services/{service_id} 400"),
        ("POST", "/api/assess", b'{"findings": {"age": 1e400}}', "POST /api/assess 400"),
    ],
)
def test_api_routes_are_logged_by_their_template(  # noqa: PLR0917 (one table row)
    client: TestClient, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes, route: str
) -> None:
    """Each API request is logged with its route template (never ``?`` and never the id it carried)."""
    with caplog.at_level(logging.INFO, logger="pinchpoint.web"):
        client.request(method, path, headers=_JSON, content=body)
    lines = [record.getMessage() for record in caplog.records if record.name == "pinchpoint.web"]
    assert any(line.startswith(route) for line in lines), lines
