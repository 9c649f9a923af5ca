"""Benchmark: how fast pinchpoint assesses cases, and what reasoning adds to parsing them.

Usage::

    python benchmarks/assess.py [CASES_DIR]      # default: ../shared/cases beside the repo

It measures two things and prints a table:

1. In one process, with the cases parsed beforehand: assessments per second, and the
   mean and 99th percentile of one assessment in milliseconds (reasoning only).
2. Whole processes over 1,000 case files (copies of the development cases with distinct
   ids, written to ``benchmarks/.cases/``, which git ignores): the wall time of
   ``pinchpoint assess DIR --json > /dev/null`` against a process that only parses the
   same files with the same YAML loader (``read_cases``, no knowledge, no assessment),
   and one that parses them and loads the knowledge base; median of 3 runs each. The
   ratio is the reasoning overhead.

A benchmark, not a test: it asserts nothing and takes well under two minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pinchpoint import assess
from pinchpoint.casefile import read_cases
from pinchpoint.knowledge.loader import load_knowledge

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
GENERATED = REPO / "benchmarks" / ".cases"
FILES = 1000
RUNS = 3
IN_PROCESS_SECONDS = 3.0
_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)

# Each process gets the directory as its last argument; all import from the installed package.
ASSESS_PROCESS = "import sys; from pinchpoint.cli import main; sys.exit(main())"
PARSE_PROCESS = """
import sys
from importlib.resources import files
import yaml
from pinchpoint.casefile import read_cases
from pinchpoint.vocabulary import Vocabulary
text = files("pinchpoint").joinpath("knowledge/data/vocabulary.yaml").read_bytes()
vocabulary = Vocabulary.from_mapping(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
read_cases(sys.argv[1], vocabulary)
"""
LOAD_PROCESS = """
import sys
from pinchpoint.casefile import read_cases
from pinchpoint.knowledge.loader import load_knowledge
read_cases(sys.argv[1], load_knowledge().vocabulary)
"""


def in_process(cases_dir: Path) -> dict[str, float]:
    """Time each assessment of the pre-parsed cases, repeated for a few seconds."""
    knowledge = load_knowledge()
    cases = read_cases(cases_dir, knowledge.vocabulary)
    for case in cases:  # warm caches before timing
        assess(case, knowledge)
    timings: list[int] = []
    deadline = time.perf_counter() + IN_PROCESS_SECONDS
    while time.perf_counter() < deadline:
        for case in cases:
            start = time.perf_counter_ns()
            assess(case, knowledge)
            timings.append(time.perf_counter_ns() - start)
    return {
        "cases": len(cases),
        "assessments": len(timings),
        "per_second": len(timings) / (sum(timings) / 1e9),
        "mean_ms": statistics.fmean(timings) / 1e6,
        "p99_ms": statistics.quantiles(timings, n=100)[98] / 1e6,
    }


def generate(cases_dir: Path, count: int) -> Path:
    """Write ``count`` copies of the cases, each with a distinct id, into a fresh folder."""
    sources = [path.read_text(encoding="utf-8") for path in sorted(cases_dir.glob("*.yaml"))]
    shutil.rmtree(GENERATED, ignore_errors=True)
    GENERATED.mkdir(parents=True)
    for number in range(count):
        case_id = f"bench-{number:04d}"
        text = sources[number % len(sources)]
        text = (
            _ID_LINE.sub(f"id: {case_id}", text, count=1)
            if _ID_LINE.search(text)
            else f"id: {case_id}\n{text}"
        )
        (GENERATED / f"{case_id}.yaml").write_text(text, encoding="utf-8")
    return GENERATED


def wall_time(arguments: list[str]) -> float:
    """Return the median wall time in seconds of running a process, its output discarded."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(arguments, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="?", type=Path, default=DEFAULT_CASES, help="a directory of case files"
    )
    cases_dir = parser.parse_args().cases
    version = load_knowledge().version
    reasoning = in_process(cases_dir)
    folder = str(generate(cases_dir, FILES))
    parse = wall_time([sys.executable, "-c", PARSE_PROCESS, folder])
    load = wall_time([sys.executable, "-c", LOAD_PROCESS, folder])
    full = wall_time([sys.executable, "-c", ASSESS_PROCESS, "assess", folder, "--json"])
    rows = [
        (f"in one process, {reasoning['cases']:.0f} cases pre-parsed, reasoning only", ""),
        ("  assessments per second", f"{reasoning['per_second']:,.0f}"),
        ("  mean per assessment", f"{reasoning['mean_ms']:.3f} ms"),
        ("  p99 per assessment", f"{reasoning['p99_ms']:.3f} ms"),
        (f"whole process over {FILES:,} case files, median of {RUNS}", ""),
        ("  parse only (read_cases)", f"{parse:.2f} s"),
        ("  parse and load knowledge", f"{load:.2f} s"),
        ("  pinchpoint assess DIR --json", f"{full:.2f} s"),
        ("  reasoning overhead over parsing", f"{(full - parse) / parse:+.0%}"),
    ]
    print(f"pinchpoint benchmark: knowledge {version}, Python {sys.version.split()[0]}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>10}" if value else label)


if __name__ == "__main__":
    main()
