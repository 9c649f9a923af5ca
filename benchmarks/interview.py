"""Benchmark: how long the interview takes to choose its next question.

Usage::

    python benchmarks/interview.py [CASES_DIR]      # default: ../shared/cases beside the repo

Every development case is interviewed as a simulated patient (from age, sex and pain
regions, answering from the case, "don't know" where it is silent), in clinician mode and
in self-check mode. The first call of ``Interview.next_question()`` after each answer is
timed (that call computes the choice; later calls on the same state reuse it); the table
gives the median, 99th percentile and maximum in milliseconds,
against the target of issue 4: p99 under 50 ms.

A benchmark, not a test: it asserts nothing and takes well under a minute.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from pinchpoint.core.interview import Interview
from pinchpoint.evaluation.simulation import simulated_answer
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
TARGET_P99_MS = 50.0
REPEATS = 3


def time_choices(cases_dir: Path, mode: str) -> list[float]:
    """Return the milliseconds of every next-question choice over the simulated interviews."""
    knowledge = load_knowledge()
    bank = knowledge.questions
    cases = read_cases(cases_dir, knowledge.vocabulary)
    timings: list[float] = []
    for _ in range(REPEATS):
        for case in cases:
            intake = {q: simulated_answer(bank[q], case.findings) for q in bank.intake}
            interview = Interview.start(knowledge, mode=mode, intake=intake)  # type: ignore[arg-type]
            while True:
                start = time.perf_counter()
                question = interview.next_question()
                timings.append((time.perf_counter() - start) * 1000.0)
                if question is None:
                    break
                interview.answer(question.id, simulated_answer(question, case.findings))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", type=Path, default=DEFAULT_CASES)
    args = parser.parse_args()
    load_knowledge()
    print(f"next-question choice over {args.cases} ({REPEATS} passes); target p99 < {TARGET_P99_MS:g} ms")
    print(f"{'mode':<12}{'choices':>9}{'median ms':>11}{'p99 ms':>9}{'max ms':>9}  verdict")
    for mode in ("clinician", "self_check"):
        timings = time_choices(args.cases, mode)
        p99 = float(np.percentile(timings, 99))
        verdict = "ok" if p99 < TARGET_P99_MS else "TOO SLOW"
        print(
            f"{mode:<12}{len(timings):>9}{statistics.median(timings):>11.2f}{p99:>9.2f}"
            f"{max(timings):>9.2f}  {verdict}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
