"""Fixtures and markers shared by the whole suite."""

from __future__ import annotations

import os
import tempfile

import pytest

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.io.knowledge.cache import CACHE_ENV
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import PACKAGED_VOCABULARY, load_vocabulary


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``core`` marker; give the run (and its subprocesses) a fresh knowledge cache.

    A fresh cache folder makes every run compile the knowledge base from its files once, and
    keeps test runs out of the user's own cache.
    """
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="pinchpoint-test-cache-")
    config.addinivalue_line(
        "markers",
        "core: needs the reasoning core (load_knowledge and assess); never skipped",
    )


@pytest.fixture(scope="session")
def vocabulary() -> Vocabulary:
    """The packaged case vocabulary, read without loading the rest of the knowledge base."""
    return load_vocabulary(PACKAGED_VOCABULARY)


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    """The packaged knowledge base, loaded once for the whole run."""
    return load_knowledge()
