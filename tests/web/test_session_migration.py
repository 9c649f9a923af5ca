"""Migration 0002: sessions saved in either older format reopen and continue after it, all or none.

A database is built at revision 0001 and filled the way the code before 0002 filled it: a web
page's session (``{"format": "pinchpoint-web-interview", "interview": ..., "redo": [...]}``, with
an answer taken back), a REST API session (a bare ``Interview.to_dict()``) and a damaged row.
Opening the store migrates it; then the web page resumes its session (forward gives the answer
taken back again, and the interview goes on), the REST API resumes its own, and the damaged row
is left as it was. A migration that fails half-way changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from pinchpoint.api.app import create_api_app
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import StoreError
from pinchpoint.service import sessions
from pinchpoint.service.sessions import STATE_FORMAT, upgrade_state
from pinchpoint.service.store import Store, sqlite_url, upgrade
from pinchpoint.web.app import create_app
from pinchpoint.web.content import WebContent
from pinchpoint.web.settings import Settings

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}
_INTAKE = {"age": 52, "sex": "female", "pain_regions": ["low_back"]}
_WEB, _API, _DAMAGED = "a" * 32, "b" * 32, "c" * 32


def _old_web_state(knowledge: Knowledge) -> dict[str, Any]:
    """What the web pages saved before 0002: two answers, the last one taken back (redo)."""
    interview = Interview.start(knowledge, intake=_INTAKE)
    for _ in range(2):
        question = interview.next_question()
        assert question is not None
        interview.dont_know(question.id)
    taken = interview.back()
    redo = [{"question": taken.question, "value": None}]
    return {"format": "pinchpoint-web-interview", "interview": interview.to_dict(), "redo": redo}


def _old_api_state(knowledge: Knowledge) -> dict[str, Any]:
    """What the REST API (and the terminal) saved before 0002: the bare interview."""
    interview = Interview.start(knowledge, intake=_INTAKE)
    question = interview.next_question()
    assert question is not None
    interview.dont_know(question.id)
    return interview.to_dict()


def _database_at_0001(path: Path, rows: dict[str, str]) -> str:
    url = sqlite_url(path)
    engine = sa.create_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        for session_id, text in rows.items():
            connection.execute(
                sa.text(
                    "INSERT INTO interview_sessions (id, created_at, updated_at, state_json) "
                    "VALUES (:id, '2026-12-01 10:00:00', '2026-12-01 10:00:00', :state)"
                ),
                {"id": session_id, "state": text},
            )
    engine.dispose()
    return url


def _states(url: str) -> tuple[str, dict[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        rows = dict(connection.execute(sa.text("SELECT id, state_json FROM interview_sessions")).all())
    engine.dispose()
    return version, rows


@pytest.fixture
def old_rows(knowledge: Knowledge) -> dict[str, str]:
    return {
        _WEB: json.dumps(_old_web_state(knowledge)),
        _API: json.dumps(_old_api_state(knowledge)),
        _DAMAGED: "{not json",
    }


@pytest.fixture
def migrated(tmp_path: Path, old_rows: dict[str, str]) -> Iterator[Store]:
    store = Store.open(_database_at_0001(tmp_path / "old.sqlite3", old_rows))
    yield store
    store.close()


def test_both_old_formats_become_the_one_format(migrated: Store, old_rows: dict[str, str]) -> None:
    """Each old row is rewritten in the one format with its answers and redo stack; a damaged one is kept."""
    web = migrated.get_interview(_WEB)
    api = migrated.get_interview(_API)
    assert web is not None
    assert api is not None
    old_web, old_api = json.loads(old_rows[_WEB]), json.loads(old_rows[_API])
    assert web.state == upgrade_state(old_web)
    assert web.state["format"] == STATE_FORMAT
    assert web.state["interview"] == old_web["interview"]
    assert web.state["redo"] == old_web["redo"]
    assert web.state["asked"] is None  # not recorded before: chosen again when loaded
    assert api.state["interview"] == old_api
    assert api.state["redo"] == []
    _, rows = _states(sqlite_url(Path(str(migrated.engine.url.database))))
    assert rows[_DAMAGED] == "{not json"


def test_a_web_session_saved_before_reopens_and_continues(
    migrated: Store, knowledge: Knowledge, content: WebContent
) -> None:
    """The web page shows the old session's question, forward gives the answer taken back, answers go on."""
    app = create_app(Settings(), knowledge=knowledge, content=content, store=migrated)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        page = client.get(f"/check/interviews/{_WEB}")
        assert page.status_code == 200
        assert "Forward: keep my earlier answer" in page.text
        forward = client.post(
            f"/check/interviews/{_WEB}/forward", headers=_SAME_ORIGIN, follow_redirects=False
        )
        assert forward.status_code == 303
        state = migrated.get_interview(_WEB).state  # type: ignore[union-attr]
        assert len(state["interview"]["answers"]) == len(_INTAKE) + 2
        question = state["asked"]["question"]
        assert isinstance(question, str)  # recorded now, with the answer that led to it
        answered = client.post(
            f"/check/interviews/{_WEB}/answer",
            content=urlencode([("question", question), ("action", "dont_know")]),
            headers=_SAME_ORIGIN,
            follow_redirects=False,
        )
        assert answered.status_code == 303
    assert len(migrated.get_interview(_WEB).state["interview"]["answers"]) == len(_INTAKE) + 3  # type: ignore[union-attr]


def test_an_api_session_saved_before_reopens_and_continues(migrated: Store, knowledge: Knowledge) -> None:
    """The REST API resumes its old session at the next question and takes the next answer."""
    client = TestClient(create_api_app(knowledge, sessions=migrated))
    view = client.get(f"/api/v1/interviews/{_API}").json()
    assert view["answers"] == len(_INTAKE) + 1
    answered = client.post(
        f"/api/v1/interviews/{_API}/answers", json={"question": view["question"]["id"], "value": None}
    )
    assert answered.status_code == 200
    assert answered.json()["answers"] == len(_INTAKE) + 2


def test_a_migration_that_fails_half_way_changes_nothing(
    tmp_path: Path, old_rows: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion fails on its second row: the first row is not left converted, the version stays 0001."""
    url = _database_at_0001(tmp_path / "crash.sqlite3", old_rows)
    converted: list[str] = []

    def crashing(state: dict[str, Any]) -> dict[str, Any] | None:
        if converted:
            raise RuntimeError("the power went out")
        converted.append(str(state.get("format")))
        return upgrade_state(state)

    monkeypatch.setattr(sessions, "upgrade_state", crashing)
    with pytest.raises(StoreError, match="RuntimeError"):
        Store.open(url)
    assert converted  # the first row was converted before the failure
    version, rows = _states(url)
    assert version == "0001"
    assert rows == old_rows


def test_one_format_a_session_started_on_either_front_end_continues_on_the_other(
    knowledge: Knowledge, content: WebContent
) -> None:
    """Web pages and REST API share the sessions of one store: each resumes what the other started."""
    store = Store.open("sqlite://")
    web = TestClient(
        create_app(Settings(), knowledge=knowledge, content=content, store=store),
        base_url="http://127.0.0.1:8000",
    )
    api = TestClient(create_api_app(knowledge, sessions=store))
    started = web.post(
        "/check/interviews",
        content=urlencode(
            [("mode", "self_check"), ("age", "52"), ("sex", "female"), ("pain_regions", "low_back")]
        ),
        headers=_SAME_ORIGIN,
        follow_redirects=False,
    )
    session_id = started.headers["location"].rsplit("/", 1)[1]
    view = api.get(f"/api/v1/interviews/{session_id}").json()
    answered = api.post(
        f"/api/v1/interviews/{session_id}/answers", json={"question": view["question"]["id"], "value": None}
    ).json()
    page = web.get(f"/check/interviews/{session_id}").text
    assert f'name="question" value="{answered["question"]["id"]}"' in page
    from_api = api.post("/api/v1/interviews", json={"intake": _INTAKE}).json()
    page = web.get(f"/check/interviews/{from_api['id']}").text
    assert f'name="question" value="{from_api["question"]["id"]}"' in page
    store.close()
