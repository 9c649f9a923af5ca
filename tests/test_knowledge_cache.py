"""Tests of the per-user knowledge cache: a cached knowledge base reasons exactly as a fresh one.

Each test points ``PINCHPOINT_CACHE`` at its own folder and calls the loader behind its
in-process memo (``load_knowledge.__wrapped__``), so that every call really reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pinchpoint import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.io.knowledge import cache
from pinchpoint.io.knowledge.loader import knowledge_version, load_knowledge
from pinchpoint.service.contract import to_contract
from tests.corpus import shared_case_params

_load = load_knowledge.__wrapped__


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def _entry(folder: Path) -> Path:
    (entry,) = folder.glob("knowledge-*.pickle")
    return entry


def test_cached_knowledge_assesses_every_case_as_a_fresh_load(cache_folder: Path) -> None:
    """The first load writes the cache; the second reads it and gives the same assessments."""
    fresh = _load()
    assert _entry(cache_folder).stat().st_size > 0
    cached = _load()
    assert cached.model is not fresh.model
    assert cached.version == fresh.version
    for param in shared_case_params():
        case = read_case(param.values[0], fresh.vocabulary)  # type: ignore[arg-type]
        assert to_contract(assess(case, cached)) == to_contract(assess(case, fresh)), case.id


def test_unreadable_cache_entry_is_rebuilt(cache_folder: Path, knowledge: Knowledge) -> None:
    """A damaged entry is ignored: the knowledge is loaded from its files and the entry rewritten."""
    _load()
    entry = _entry(cache_folder)
    entry.write_bytes(b"not a pickle")
    assert _load().version == knowledge.version
    assert cache.read(entry) is not None


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PINCHPOINT_CACHE=off`` loads from the files and writes nothing."""
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    monkeypatch.chdir(tmp_path)
    assert cache.cache_path(knowledge_version()) is None
    assert _load().model.units
    assert list(tmp_path.iterdir()) == []


def test_unwritable_cache_folder_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder that cannot be created leaves loading to the data files."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    assert _load().model.units


def test_cache_key_follows_the_knowledge_version(cache_folder: Path) -> None:
    """Another knowledge version (a changed data file) has another cache entry."""
    version = knowledge_version()
    assert cache.cache_path(version) != cache.cache_path(version + "-changed")
    assert cache.cache_path(version) == cache.cache_path(version)


def test_only_the_newest_entry_is_kept(cache_folder: Path) -> None:
    """Writing an entry removes the entries of other versions, so the folder does not grow."""
    _load()
    current = _entry(cache_folder)
    stale = cache_folder / "knowledge-0123456789abcdef.pickle"
    stale.write_bytes(current.read_bytes())
    current.unlink()
    _load()
    assert [path.name for path in cache_folder.glob("knowledge-*.pickle")] == [current.name]
