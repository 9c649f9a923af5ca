"""Benchmark: how long the free-text reader takes for one description.

Usage::

    python benchmarks/freetext.py [CORPUS.yaml ...]   # default: both parts of validation/text

Reads every description of the corpus once to build the pipeline (not timed), then reads each one
``--rounds`` times (default 5) in its own mode and prints the median, 90th percentile and maximum of
one reading in milliseconds. Issue 13 asks for a median under 20 ms. A benchmark, not a test: it
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from pinchpoint.cli.evaluate_text import load_corpus
from pinchpoint.io.freetext import read_text
from pinchpoint.io.knowledge.loader import load_knowledge

_CORPUS = Path(__file__).resolve().parents[1] / "validation" / "text"
_PERCENT = 100


def main() -> None:
    """Time the reading of every corpus description and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=sorted(_CORPUS.glob("*.yaml")))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    knowledge = load_knowledge()
    items = [item for path in args.paths for item in load_corpus(path, knowledge)[0]]
    start = time.perf_counter()
    for item in items:  # the first reading builds the pipeline
        read_text(item.text, knowledge, mode=item.mode)
    warm = time.perf_counter() - start
    times: list[float] = []
    for _ in range(args.rounds):
        for item in items:
            begin = time.perf_counter()
            read_text(item.text, knowledge, mode=item.mode)
            times.append((time.perf_counter() - begin) * 1000)
    times.sort()
    p90 = times[int(len(times) * 90 / _PERCENT)]
    print(f"{len(items)} descriptions x {args.rounds} rounds; first pass (builds the pipeline) {warm:.2f} s")
    print(f"one reading: median {statistics.median(times):.2f} ms, p90 {p90:.2f} ms, max {times[-1]:.2f} ms")


if __name__ == "__main__":
    main()
