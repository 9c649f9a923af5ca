"""Tests of :mod:`pinchpoint.service.store`: records round-trip, writes are atomic, errors are typed."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pinchpoint.errors import AdapterError, StoreError
from pinchpoint.service.store import Store, sqlite_url

_RESULT = {"triage": "soon", "knowledge_version": "0.1.0+abc", "sites": [{"id": "root.L5.left", "p": 0.8}]}
_CASE = {"id": "web", "findings": {"age": 40, "pain_regions": ["buttock.left"]}}
_NOON = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store on a fresh SQLite file, with a fixed clock."""
    opened = Store.open(sqlite_url(tmp_path / "data" / "pinchpoint.sqlite3"), clock=lambda: _NOON)
    yield opened
    opened.close()


def _rows(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_an_assessment_round_trips(store: Store) -> None:
    """What is saved is returned unchanged, with its time, triage and knowledge version."""
    saved = store.save_assessment(case=_CASE, result=_RESULT, mode="self_check")
    again = store.get_assessment(saved.id)
    assert again == saved
    assert again.case == _CASE
    assert again.result == _RESULT
    assert (again.triage, again.knowledge_version, again.mode) == ("soon", "0.1.0+abc", "self_check")
    assert again.created_at == _NOON


def test_history_lists_newest_first_and_deletes(tmp_path: Path) -> None:
    """The list is ordered by time, newest first; a deleted record is gone and deleting it again says so."""
    # The first reading of the clock is the store's start-up (it deletes expired interview sessions).
    times = iter([datetime(2026, 1, day, tzinfo=UTC) for day in (1, 1, 3, 2)])
    store = Store.open(sqlite_url(tmp_path / "h.sqlite3"), clock=lambda: next(times))
    first, second, third = (
        store.save_assessment(case=_CASE, result=_RESULT, mode="clinician") for _ in range(3)
    )
    assert [record.id for record in store.list_assessments()] == [second.id, third.id, first.id]
    assert store.count_assessments() == 3
    assert store.delete_assessment(second.id) is True
    assert store.delete_assessment(second.id) is False
    assert store.get_assessment(second.id) is None
    assert [record.id for record in store.list_assessments(limit=1)] == [third.id]
    store.close()


def test_interview_sessions_round_trip(store: Store) -> None:
    """An interview's state is saved, replaced, linked to the assessment it ends in, and deleted."""
    created = store.create_interview({"answers": {"age": 40}, "position": 1})
    updated = store.update_interview(created.id, {"answers": {"age": 40, "fever": False}, "position": 2})
    assert store.get_interview(created.id) == updated
    assert updated.state == {"answers": {"age": 40, "fever": False}, "position": 2}
    record = store.save_assessment(case=_CASE, result=_RESULT, mode="self_check", interview_id=created.id)
    assert store.get_interview(created.id).assessment_id == record.id
    assert store.delete_assessment(record.id) is True
    assert store.get_interview(created.id).assessment_id is None
    assert store.delete_interview(created.id) is True
    assert store.get_interview(created.id) is None


def test_a_failure_in_the_middle_of_a_save_leaves_nothing(store: Store) -> None:
    """A crash after the assessment row is written but before the transaction ends saves nothing at all."""
    interview = store.create_interview({"position": 3})

    def crash(*_args: object) -> None:
        raise OSError("disk unplugged")

    # The session link is written after the assessment row has been flushed: fail there.
    sa.event.listen(store.engine, "before_cursor_execute", _fail_on("UPDATE interview_sessions", crash))
    with pytest.raises(StoreError) as raised:
        store.save_assessment(case=_CASE, result=_RESULT, mode="self_check", interview_id=interview.id)
    assert str(raised.value) == (
        "saving an assessment: the database failed: OSError; expected a reachable, writable database "
        "(got 'disk unplugged'); check the --database URL, the file's permissions and the free disk space"
    )
    assert isinstance(raised.value.__cause__, OSError)
    assert _rows(store, "assessments") == 0
    assert store.get_interview(interview.id).assessment_id is None


def _fail_on(prefix: str, crash):
    def listener(_conn, _cursor, statement: str, *_rest: object) -> None:
        if statement.startswith(prefix):
            crash()

    return listener


def test_saving_with_an_unknown_interview_saves_nothing(store: Store) -> None:
    """An interview id that does not exist refuses the whole save."""
    with pytest.raises(StoreError, match="there is no interview session with this id"):
        store.save_assessment(case=_CASE, result=_RESULT, mode="self_check", interview_id="0" * 32)
    assert _rows(store, "assessments") == 0


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            {"knowledge_version": "v"},
            "result.triage: the assessment to save has no triage; expected the contract JSON of "
            "an assessment",
        ),
        (
            {"triage": "soon"},
            "result.knowledge_version: the assessment to save has no knowledge_version; expected "
            "the contract JSON of an assessment",
        ),
        (
            {"triage": "soon", "knowledge_version": "v", "x": float("nan")},
            "result: the result cannot be saved as JSON; expected JSON values: text, numbers, "
            "true/false, lists and mappings (got 'Out of range float values are not JSON "
            "compliant",
        ),  # the rest is Python's wording
    ],
)
def test_a_result_that_is_not_an_assessment_is_refused(store: Store, result: dict, message: str) -> None:
    """A result without triage or knowledge version, or that is not JSON, is refused before writing."""
    with pytest.raises(StoreError) as raised:
        store.save_assessment(case=_CASE, result=result, mode="self_check")
    assert str(raised.value).startswith(message)
    assert _rows(store, "assessments") == 0


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("nonsense://x", "the database driver is not installed"),  # no such dialect
        ("not a url", "the database URL is not valid"),
        ("postgresql+nodriver://u@127.0.0.1:1/db", "the database driver is not installed"),
    ],
)
def test_a_bad_database_url_is_a_store_error(url: str, fragment: str) -> None:
    """Every failure to open a database is a StoreError (an AdapterError) naming the URL."""
    with pytest.raises(StoreError) as raised:
        Store.open(url)
    assert isinstance(raised.value, AdapterError)
    assert fragment in str(raised.value)
    assert str(raised.value).startswith("opening the database ")


def test_a_database_in_an_unwritable_place_is_a_store_error(tmp_path: Path) -> None:
    """A path under a file (not a folder) cannot hold the database: a StoreError, not an OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="the database failed"):
        Store.open(sqlite_url(blocker / "db.sqlite3"))


def test_migrations_run_once_and_reopening_keeps_the_data(tmp_path: Path) -> None:
    """Opening migrates to head; opening again finds head and keeps every record."""
    url = sqlite_url(tmp_path / "m.sqlite3")
    first = Store.open(url)
    saved = first.save_assessment(case=_CASE, result=_RESULT, mode="self_check")
    first.close()
    second = Store.open(url)
    with second.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
    assert second.get_assessment(saved.id) == saved
    second.close()


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    """The database file holds health data: only its owner may read it."""
    path = tmp_path / "new" / "p.sqlite3"
    Store.open(sqlite_url(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_in_memory_database_is_shared_between_calls() -> None:
    """``sqlite://`` keeps one database for the store's lifetime (tests and benchmarks use it)."""
    store = Store.open("sqlite://")
    saved = store.save_assessment(case=_CASE, result=_RESULT, mode="self_check")
    assert store.list_assessments() == [saved]
    store.close()
