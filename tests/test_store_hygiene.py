"""The store's care of the data it keeps: private files, and unfinished sessions that expire."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pinchpoint.service.store import SESSION_IDLE_LIMIT, Store, sqlite_url

pytestmark = pytest.mark.core

_START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
_RESULT = {"triage": "routine", "knowledge_version": "k"}


class _Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = _START

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640])
def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path, mode: int) -> None:
    """A database file (and its WAL) left readable by others by an older version becomes 0600."""
    path = tmp_path / "old.sqlite3"
    Store.open(sqlite_url(path)).close()
    wal = path.with_name(path.name + "-wal")
    wal.touch()
    for file in (path, wal):
        file.chmod(mode)
    store = Store.open(sqlite_url(path))
    assert [stat.S_IMODE(file.stat().st_mode) for file in (path, wal)] == [0o600, 0o600]
    store.close()


def test_idle_unfinished_sessions_expire_and_finished_ones_stay(tmp_path: Path) -> None:
    """At start-up, sessions idle past the limit are deleted unless a saved assessment links to them."""
    clock = _Clock()
    url = sqlite_url(tmp_path / "s.sqlite3")
    store = Store.open(url, clock=clock)
    idle = store.create_interview({"n": 1})
    finished = store.create_interview({"n": 2})
    store.save_assessment(case={"id": "c", "findings": {}}, result=_RESULT, mode="self_check",
                          interview_id=finished.id)  # fmt: skip
    clock.now += SESSION_IDLE_LIMIT - timedelta(minutes=1)
    recent = store.create_interview({"n": 3})
    assert store.get_interview(idle.id) is not None  # one minute short of the limit
    clock.now += timedelta(minutes=2)
    assert store.get_interview(idle.id) is None  # expired: no longer answered, even before deletion
    store.close()
    reopened = Store.open(url, clock=clock)
    assert reopened.delete_expired_interviews() == 0  # the start-up deleted it already
    assert reopened.get_interview(finished.id) is not None
    assert reopened.get_interview(recent.id) is not None
    clock.now += SESSION_IDLE_LIMIT
    reopened.create_interview({"n": 4})  # a running store deletes expired sessions as it goes
    assert reopened.get_interview(recent.id) is None
    assert reopened.delete_expired_interviews() == 0
    assert reopened.get_interview(finished.id) is not None
    reopened.close()


def test_the_idle_limit_is_configurable() -> None:
    """A store opened with a shorter limit deletes sooner."""
    clock = _Clock()
    store = Store.open("sqlite://", clock=clock, session_idle_limit=timedelta(hours=2))
    session = store.create_interview({"n": 1})
    clock.now += timedelta(hours=1)
    assert store.delete_expired_interviews() == 0
    clock.now += timedelta(hours=1, seconds=1)
    assert store.delete_expired_interviews() == 1
    assert store.get_interview(session.id) is None
    store.close()
