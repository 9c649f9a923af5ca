"""The knowledge engine owns what is built from it: each part once, shared by threads, never by engines."""

from __future__ import annotations

import threading
import time

from pinchpoint.core.knowledge import Knowledge, build_knowledge
from pinchpoint.io.knowledge.loader import load_knowledge


def _another(knowledge: Knowledge) -> Knowledge:
    """A second engine over the same tables and the same compiled model."""
    return build_knowledge(knowledge.tables, knowledge.vocabulary, knowledge.version, model=knowledge.model)


def test_parts_are_built_once_per_engine_and_never_shared(knowledge: Knowledge) -> None:
    """The predictor, the screen and the wordings are the engine's own, built on first use."""
    other = _another(knowledge)
    for name in ("predictor", "screen", "wordings"):
        assert getattr(knowledge, name) is getattr(knowledge, name), name
        assert getattr(other, name) is not getattr(knowledge, name), name
    assert other.predictor.knowledge is other


def test_a_part_is_built_once_when_threads_ask_for_it_together() -> None:
    """Threads of a server asking a new engine for a slow part at once get one part, built once."""
    engine = _another(load_knowledge())
    built: list[object] = []

    def build(_: Knowledge) -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        made = object()
        built.append(made)
        return made

    got: list[object] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        got.append(engine.part(build))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert got == built * 8
