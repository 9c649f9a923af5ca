"""Benchmark: how fast pinchpoint assesses cases, and what reasoning adds to parsing them.

Usage::

    python benchmarks/assess.py [CASES_DIR]      # default: ../shared/cases beside the repo

It measures three things and prints a table:

1. In one process, with the cases parsed beforehand, one ``assess()`` call at a time:
   assessments per second, and the mean, median (which a shared machine's pauses move
   less) and 99th percentile of one assessment in milliseconds, with the findings for
   and against the leading hypotheses weighed (the default: the readable report, the web
   pages, ``--detail``) and without (the contract JSON of a batch run).
2. The same cases assessed together by ``assess_many`` in chunks, as a batch run does:
   the mean time per case.
3. Whole processes over 1,000 case files (copies of the development cases with distinct
   ids, written to ``benchmarks/.cases/``, which git ignores): the wall time of
   ``pinchpoint assess DIR --json > /dev/null`` against a process that only parses the
   same files with the same YAML loader (``read_cases``, no knowledge, no assessment),
   and one that parses them and loads the knowledge base; median of 3 runs each. The
   ratio is the reasoning overhead. The knowledge cache (``PINCHPOINT_CACHE``) is warm,
   as after any earlier run; the cold figure runs with the cache off.

A benchmark, not a test: it asserts nothing and takes well under two minutes.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pinchpoint import assess, assess_many
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
GENERATED = REPO / "benchmarks" / ".cases"
FILES = 1000
RUNS = 3
IN_PROCESS_SECONDS = 3.0
CHUNK = 256
_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)

# Each process gets the directory as its last argument; all import from the installed package.
ASSESS_PROCESS = "from pinchpoint.cli.main import run; run()"
PARSE_PROCESS = """
import sys
from importlib.resources import files
import yaml
from pinchpoint.io.casefile import read_cases
from pinchpoint.core.vocabulary import Vocabulary
text = files("pinchpoint").joinpath("knowledge/data/vocabulary.yaml").read_bytes()
vocabulary = Vocabulary.from_mapping(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
read_cases(sys.argv[1], vocabulary)
"""
LOAD_PROCESS = """
import sys
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge
read_cases(sys.argv[1], load_knowledge().vocabulary)
"""


def in_process(cases_dir: Path, *, explain_findings: bool) -> dict[str, float]:
    """Time each assessment of the pre-parsed cases, repeated for a few seconds.

    The knowledge is loaded as the web server and the batch commands load it (set aside
    from garbage collection at start-up).
    """
    knowledge = load_knowledge()
    gc.freeze()
    cases = read_cases(cases_dir, knowledge.vocabulary)
    for case in cases:  # warm caches before timing
        assess(case, knowledge, explain_findings=explain_findings)
    timings: list[int] = []
    deadline = time.perf_counter() + IN_PROCESS_SECONDS
    while time.perf_counter() < deadline:
        for case in cases:
            start = time.perf_counter_ns()
            assess(case, knowledge, explain_findings=explain_findings)
            timings.append(time.perf_counter_ns() - start)
    return {
        "cases": len(cases),
        "assessments": len(timings),
        "per_second": len(timings) / (sum(timings) / 1e9),
        "mean_ms": statistics.fmean(timings) / 1e6,
        "median_ms": statistics.median(timings) / 1e6,
        "p99_ms": statistics.quantiles(timings, n=100)[98] / 1e6,
    }


def batched(cases_dir: Path) -> float:
    """Return the mean milliseconds per case of assessing the generated cases in chunks."""
    knowledge = load_knowledge()
    cases = read_cases(cases_dir, knowledge.vocabulary)
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        for first in range(0, len(cases), CHUNK):
            assess_many(cases[first : first + CHUNK], knowledge, explain_findings=False)
        best = min(best, time.perf_counter() - start)
    return best / len(cases) * 1e3


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


def wall_time(arguments: list[str], env: dict[str, str] | None = None) -> float:
    """Return the median wall time in seconds of running a process, its output discarded."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(arguments, stdout=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="?", type=Path, default=DEFAULT_CASES, help="a directory of case files"
    )
    cases_dir = parser.parse_args().cases
    version = load_knowledge().version
    explained = in_process(cases_dir, explain_findings=True)
    bare = in_process(cases_dir, explain_findings=False)
    folder = str(generate(cases_dir, FILES))
    per_case_batched = batched(Path(folder))
    assess_command = [sys.executable, "-c", ASSESS_PROCESS, "assess", folder, "--json"]
    parse = wall_time([sys.executable, "-c", PARSE_PROCESS, folder])
    load = wall_time([sys.executable, "-c", LOAD_PROCESS, folder])
    full = wall_time(assess_command)
    cold = wall_time(assess_command, env={**os.environ, "PINCHPOINT_CACHE": "off"})
    rows = [
        (f"in one process, {explained['cases']:.0f} cases pre-parsed, one assess() at a time", ""),
        ("  with reasons: assessments per second", f"{explained['per_second']:,.0f}"),
        ("  with reasons: mean per assessment", f"{explained['mean_ms']:.3f} ms"),
        ("  with reasons: median per assessment", f"{explained['median_ms']:.3f} ms"),
        ("  with reasons: p99 per assessment", f"{explained['p99_ms']:.3f} ms"),
        ("  without reasons: mean per assessment", f"{bare['mean_ms']:.3f} ms"),
        ("  without reasons: median per assessment", f"{bare['median_ms']:.3f} ms"),
        ("  without reasons: p99 per assessment", f"{bare['p99_ms']:.3f} ms"),
        (f"in one process, {FILES:,} cases in chunks of {CHUNK} (assess_many)", ""),
        ("  mean per case", f"{per_case_batched:.3f} ms"),
        (f"whole process over {FILES:,} case files, median of {RUNS}", ""),
        ("  parse only (read_cases)", f"{parse:.2f} s"),
        ("  parse and load knowledge", f"{load:.2f} s"),
        ("  pinchpoint assess DIR --json", f"{full:.2f} s"),
        ("  the same, knowledge cache off", f"{cold:.2f} s"),
        ("  reasoning overhead over parsing", f"{(full - parse) / parse:+.0%}"),
    ]
    print(f"pinchpoint benchmark: knowledge {version}, Python {sys.version.split()[0]}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>10}" if value else label)


if __name__ == "__main__":
    main()
