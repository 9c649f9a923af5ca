"""Benchmark: a batch run against its floor, a bare YAML parse of the same files.

Usage::

    python benchmarks/batch.py [CASES_DIR] [--files N] [--runs R] [--as-is] [--check]

It writes ``N`` case files (copies of the development cases, each with a distinct id) to
``benchmarks/.cases-5000/`` (git ignores it), then, in this one run and the same
environment, measures the wall time and the CPU time of two processes started by the same
interpreter:

1. ``pinchpoint assess DIR --json > /dev/null``: the whole batch command, from start-up to
   the last line of JSON, with its default ``--jobs`` (every core it may run on: it forks
   that many worker processes for a folder of 1,000 files or more);
2. a bare parse, in one process: every file of the folder read and handed to
   ``yaml.load(..., Loader=yaml.CSafeLoader)``, nothing else (no checking, no knowledge, no
   assessment).

Both run warm, as after any earlier run: one untimed run of each first fills the OS file
cache, the knowledge cache and the bytecode of every module imported. The knowledge cache and
the bytecode are kept in a temporary folder of this run (``PINCHPOINT_CACHE`` and
``PYTHONPYCACHEPREFIX``, for both processes), so that other programs using the same user cache
cannot evict them mid-run, and so that an environment that writes no bytecode
(``PYTHONDONTWRITEBYTECODE``) does not recompile pinchpoint's source at every start, which an
installed copy never does. ``--as-is`` leaves both settings as the environment has them.

The two commands are timed alternately, ``R`` times each (default 5), and the medians are
kept, so that a change in the machine's load during the run weighs on both alike. The ratio
of the medians of wall time is what issue 12 holds to at most 1.5; the ratio of CPU times
(user + system, the workers' included) is printed beside it, since the batch command uses
several cores and the bare parse one. Both processes import this checkout's ``src/``
(through ``PYTHONPATH``), so the figure is the code beside this file, not an installed copy.

A benchmark, not a test: it asserts nothing. ``--check`` exits 1 when the ratio of wall
times is above the limit, for a manual gate.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
GENERATED = REPO / "benchmarks" / ".cases-5000"
FILES = 5000
RUNS = 5
LIMIT = 1.5
_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)

ASSESS_PROCESS = "from pinchpoint.cli.main import run; run()"
BARE_PROCESS = """
import sys
from pathlib import Path
import yaml
for file in sorted(Path(sys.argv[1]).glob("*.yaml")):
    yaml.load(file.read_bytes(), Loader=yaml.CSafeLoader)
"""


def generate(cases_dir: Path, count: int, folder: Path = GENERATED) -> Path:
    """Write ``count`` copies of the cases of ``cases_dir``, each with a distinct id, into ``folder``."""
    sources = [path.read_text(encoding="utf-8") for path in sorted(cases_dir.glob("*.yaml"))]
    if not sources:
        raise SystemExit(f"no *.yaml case files in {cases_dir}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for number in range(count):
        case_id = f"batch-{number:05d}"
        text = sources[number % len(sources)]
        text = (
            _ID_LINE.sub(f"id: {case_id}", text, count=1)
            if _ID_LINE.search(text)
            else f"id: {case_id}\n{text}"
        )
        (folder / f"{case_id}.yaml").write_text(text, encoding="utf-8")
    return folder


def timed(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run one process; return its wall time and its CPU time (user + system, its children's included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(arguments, stdout=subprocess.DEVNULL, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def environment(caches: Path | None) -> dict[str, str]:
    """The environment of both processes: this checkout's ``src/`` first, and the caches of this run."""
    source = str(REPO / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}
    if caches is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(caches / "bytecode")
        env["PINCHPOINT_CACHE"] = str(caches / "knowledge")
    return env


def measure(folder: Path, runs: int, caches: Path | None) -> dict[str, tuple[float, float]]:
    """Each command's median wall and CPU time over ``runs`` alternate runs, after one untimed run of each."""
    env = environment(caches)
    commands = {
        "bare": [sys.executable, "-c", BARE_PROCESS, str(folder)],
        "assess": [sys.executable, "-c", ASSESS_PROCESS, "assess", str(folder), "--json"],
    }
    for command in commands.values():  # warm: the file cache, the knowledge cache, the bytecode
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(timed(command, env))
    return {
        name: (statistics.median(w for w, _ in found), statistics.median(c for _, c in found))
        for name, found in times.items()
    }


def main() -> int:
    """Generate the files, time both processes, print the table; with ``--check``, 1 when over the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="?", type=Path, default=DEFAULT_CASES, help="a directory of case files"
    )
    parser.add_argument("--files", type=int, default=FILES, help=f"how many case files (default {FILES})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs of each command (default {RUNS})")
    parser.add_argument(
        "--as-is", action="store_true", help="keep the environment's knowledge cache and bytecode settings"
    )
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is above {LIMIT}")
    args = parser.parse_args()
    folder = generate(args.cases, args.files)
    load_before = os.getloadavg()[0]  # the machine's load weighs on the wall times: shown with them
    with tempfile.TemporaryDirectory(prefix="pinchpoint-batch-") as temporary:
        found = measure(folder, args.runs, None if args.as_is else Path(temporary))
    (bare, bare_cpu), (full, full_cpu) = found["bare"], found["assess"]
    ratio = full / bare
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    caches = "as the environment has them" if args.as_is else "private to this run, warm"
    rows = [
        (
            f"{args.files:,} case files, median of {args.runs} alternate runs,"
            f" Python {sys.version.split()[0]}",
            "",
        ),
        (
            f"  {cores} cores; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after;"
            f" caches {caches}",
            "",
        ),
        ("  bare yaml.load (CSafeLoader), 1 process, wall", f"{bare:.2f} s"),
        (f"  pinchpoint assess DIR --json, {cores} workers, wall", f"{full:.2f} s"),
        ("  per case, beyond the bare parse, wall", f"{(full - bare) / args.files * 1e3:.3f} ms"),
        (f"  ratio of wall times (issue 12: at most {LIMIT})", f"{ratio:.2f}x"),
        ("  bare yaml.load, CPU (user + system)", f"{bare_cpu:.2f} s"),
        ("  pinchpoint assess DIR --json, CPU (all processes)", f"{full_cpu:.2f} s"),
        ("  ratio of CPU times", f"{full_cpu / bare_cpu:.2f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>10}" if value else label)
    return 1 if args.check and ratio > LIMIT else 0


if __name__ == "__main__":
    raise SystemExit(main())
