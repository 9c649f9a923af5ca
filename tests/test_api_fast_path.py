"""``POST /api/v1/assess`` answers the usual body without FastAPI's per-request steps: the same answers.

The fast path (``pinchpoint.api.app._assess_route``) must be invisible to clients: for every
development case, and for bodies the request model refuses or reshapes, the status, headers and
bytes are those FastAPI's own handler gives (an app built with the plain route class), and the
OpenAPI document is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pinchpoint.api import app as api_module
from pinchpoint.api.jsonbody import JsonRoute
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from tests.corpus import shared_case_params

_PATHS = ("/api/v1/assess", "/api/assess")


@pytest.fixture(scope="module")
def clients(knowledge: Knowledge) -> Iterator[tuple[TestClient, TestClient]]:
    """A client of the API with the fast route, and one of the same API with FastAPI's plain route."""
    fast = api_module.create_api_app(knowledge)
    fast.include_router(api_module.assess_alias_router(knowledge))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_module, "_assess_route", lambda _knowledge: JsonRoute)
        plain = api_module.create_api_app(knowledge)
        plain.include_router(api_module.assess_alias_router(knowledge))
    with TestClient(fast) as fast_client, TestClient(plain) as plain_client:
        yield fast_client, plain_client


def _answer(client: TestClient, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    return response.status_code, sorted(response.headers.items()), response.content


def test_only_the_fast_app_takes_the_fast_path_and_the_openapi_is_the_same(
    clients: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    run_cpu = api_module.run_cpu

    async def counted(work: Any, *args: Any) -> Any:
        calls.append(work.__name__)
        return await run_cpu(work, *args)

    monkeypatch.setattr(api_module, "run_cpu", counted)
    fast, plain = clients
    body = json.dumps({"findings": {"age": 40}}).encode()
    for route in _PATHS:
        assert _answer(fast, route, body)[0] == 200
    assert calls == ["answer", "answer"]
    for route in _PATHS:
        assert _answer(plain, route, body)[0] == 200
    assert calls == ["answer", "answer"]  # FastAPI's own handler, not the fast path
    assert fast.get("/openapi.json").content == plain.get("/openapi.json").content


@pytest.mark.parametrize("path", shared_case_params())
def test_every_development_case_gets_the_same_bytes(
    clients: tuple[TestClient, TestClient], knowledge: Knowledge, path: Path
) -> None:
    case = read_case(path, knowledge.vocabulary)
    findings = {
        key: list(value) if isinstance(value, tuple) else value for key, value in case.findings.items()
    }
    for body in (
        {"id": case.id, "findings": findings},
        {"findings": findings},
        {"id": None, "findings": findings},
    ):
        encoded = json.dumps(body).encode()
        for route in _PATHS:
            fast, plain = (_answer(client, route, encoded) for client in clients)
            assert fast[0] == 200
            assert fast == plain


_OTHER_BODIES: list[Any] = [
    {"findings": {}},
    {"id": "Not-An-Id", "findings": {}},
    {"id": "ok-id\n", "findings": {}},
    {"id": 12, "findings": {}},
    {"id": "ok-id", "findings": {}, "extra": 1},
    {"findings": []},
    {"findings": None},
    {"findings": {"no_such_finding": True}},
    {"findings": {"age": 300}},
    {"findings": {"age": 42.0}},
    {"findings": {"age": "42"}},
    {"findings": {"pain_regions": None}},
    {},
    [],
    "findings",
    None,
]


@pytest.mark.parametrize("body", _OTHER_BODIES, ids=[json.dumps(body) for body in _OTHER_BODIES])
def test_refused_and_reshaped_bodies_get_the_same_answer(
    clients: tuple[TestClient, TestClient], body: Any
) -> None:
    encoded = json.dumps(body).encode()
    for route in _PATHS:
        fast, plain = (_answer(client, route, encoded) for client in clients)
        assert fast == plain


def test_a_request_without_a_body_gets_the_same_answer(clients: tuple[TestClient, TestClient]) -> None:
    fast, plain = (
        client.post("/api/v1/assess", headers={"content-type": "application/json"}) for client in clients
    )
    assert (fast.status_code, fast.content) == (plain.status_code, plain.content)
    assert fast.status_code == 422
