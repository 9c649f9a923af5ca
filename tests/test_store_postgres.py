"""The store on a real PostgreSQL server: migrations, round trips, links and all-or-nothing writes.

Opt-in by environment (see :mod:`tests.postgres`): runs when the PostgreSQL server binaries and
psycopg are installed, is skipped with the reason otherwise, and fails instead of skipping when
``PINCHPOINT_TEST_POSTGRES=1``. Each test gets its own empty database on one private server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pinchpoint.errors import StoreError
from pinchpoint.service.store import Store
from tests.postgres import REQUIRED, PostgresServer, missing, postgres_server

_RESULT = {"triage": "soon", "knowledge_version": "0.1.0+abc", "sites": [{"id": "root.L5.left", "p": 0.8}]}
_CASE = {"id": "web", "findings": {"age": 40, "pain_regions": ["buttock.left"], "note": "naïve ✓"}}
_START = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for this module."""
    reasons = missing()
    if reasons:
        if REQUIRED:
            pytest.fail("PINCHPOINT_TEST_POSTGRES=1 but " + "; ".join(reasons))
        pytest.skip("; ".join(reasons))
    with postgres_server() as running:
        yield running


@pytest.fixture
def url(server: PostgresServer) -> str:
    """The URL of a fresh, empty database."""
    return server.new_database()


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """A store on a fresh database, migrated, with a clock that advances a minute per call.

    The first reading is the store's start-up (it deletes expired interview sessions); the first
    record is made at ``_START``.
    """
    ticks = iter(_START + timedelta(minutes=n) for n in range(-1, 10_000))
    opened = Store.open(url, clock=lambda: next(ticks))
    yield opened
    opened.close()


def _tables(store: Store) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def test_opening_migrates_to_head_once_and_keeps_the_data(url: str) -> None:
    """The migrations create the tables on PostgreSQL; opening again finds head and keeps every record."""
    first = Store.open(url)
    assert first.engine.dialect.name == "postgresql"
    assert {"assessments", "interview_sessions", "alembic_version"} <= _tables(first)
    saved = first.save_assessment(case=_CASE, result=_RESULT, mode="self_check")
    first.close()
    second = Store.open(url)
    with second.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
    assert second.get_assessment(saved.id) == saved
    second.close()


def test_an_assessment_saves_loads_lists_and_deletes(store: Store) -> None:
    """Save, load (unchanged, with an aware UTC time), list newest first, count and delete."""
    first, second = (
        store.save_assessment(case=_CASE, result=_RESULT, mode=m) for m in ("self_check", "clinician")
    )
    again = store.get_assessment(first.id)
    assert again == first
    assert again is not None
    assert again.case == _CASE
    assert again.result == _RESULT
    assert again.created_at == _START
    assert again.created_at.utcoffset() == timedelta(0)
    assert [r.id for r in store.list_assessments()] == [second.id, first.id]
    assert [r.id for r in store.list_assessments(limit=1, offset=1)] == [first.id]
    assert store.count_assessments() == 2
    assert store.delete_assessment(first.id) is True
    assert store.delete_assessment(first.id) is False
    assert store.get_assessment(first.id) is None
    assert store.count_assessments() == 1


def test_an_interview_session_links_to_its_assessment(store: Store) -> None:
    """A session is created, updated, linked by the assessment that finishes it, unlinked on delete."""
    session = store.create_interview({"format": "x", "answers": [1, 2]})
    updated = store.update_interview(session.id, {"format": "x", "answers": [1, 2, 3]})
    assert updated.state == {"format": "x", "answers": [1, 2, 3]}
    assert updated.updated_at > session.updated_at
    record = store.save_assessment(case=_CASE, result=_RESULT, mode="self_check", interview_id=session.id)
    linked = store.get_interview(session.id)
    assert linked is not None
    assert linked.assessment_id == record.id
    found = store.interview_of_assessment(record.id)
    assert found is not None
    assert found.id == session.id
    assert store.delete_assessment(record.id) is True
    unlinked = store.get_interview(session.id)
    assert unlinked is not None
    assert unlinked.assessment_id is None
    assert store.delete_interview(session.id) is True
    assert store.get_interview(session.id) is None


def test_a_failed_save_leaves_nothing(store: Store) -> None:
    """Saving with an unknown interview is refused as a whole: no assessment row is left behind."""
    with pytest.raises(StoreError, match="interview session"):
        store.save_assessment(case=_CASE, result=_RESULT, mode="self_check", interview_id="0" * 32)
    assert store.count_assessments() == 0


def test_a_server_that_is_not_there_is_a_store_error(server: PostgresServer) -> None:
    """A database that does not exist on the server: a StoreError naming what was being done."""
    url = f"postgresql+psycopg://{server.user}@/no_such_database?host={server.socket_dir}"
    with pytest.raises(StoreError) as raised:
        Store.open(url)
    assert str(raised.value).startswith("opening the database postgresql+psycopg://")
    assert "the database failed: OperationalError" in str(raised.value)


def test_the_web_app_saves_and_shows_an_assessment_on_postgresql(store: Store) -> None:
    """A self-check sent through the page is saved in PostgreSQL, shown, listed and deleted."""
    from pinchpoint.web import Settings, create_app  # noqa: PLC0415 (only this test needs the web app)

    app = create_app(Settings(), store=store)
    headers = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        sent = client.post(
            "/check/form", content=urlencode([("age", "52")]), headers=headers, follow_redirects=False
        )
        assert sent.status_code == 303
        record_id = sent.headers["location"].rsplit("/", 1)[1]
        assert client.get(f"/assessments/{record_id}").status_code == 200
        assert record_id in client.get("/history").text
        assert (
            client.delete(f"/api/assessments/{record_id}", headers={"origin": headers["origin"]}).status_code
            == 204
        )
    assert store.count_assessments() == 0
