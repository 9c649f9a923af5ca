"""Benchmark: a batch run against its floor, a bare YAML parse of the same files.

Usage::

    python benchmarks/batch.py [CASES_DIR] [--files N]   # default: ../shared/cases, 5,000 files

It writes ``N`` case files (copies of the development cases, each with a distinct id) to
``benchmarks/.cases-5000/`` (git ignores it), then, in this one run and the same
environment, measures the wall time of two processes started by the same interpreter:

1. ``pinchpoint assess DIR --json > /dev/null``: the whole batch command, from start-up to
   the last line of JSON (the knowledge cache warm, as after any earlier run);
2. a bare parse: every file of the folder read and handed to ``yaml.load(...,
   Loader=yaml.CSafeLoader)``, nothing else (no checking, no knowledge, no assessment).

Each is run three times and the median is kept; the ratio of the two medians of wall time
is what issue 12 holds to at most 1.5. The ratio of CPU times is printed beside it: on a
machine shared with other work it is the steadier of the two. Both processes import this
checkout's ``src/`` (through ``PYTHONPATH``), so the figure is the code beside this file, not
an installed copy.

A benchmark, not a test: it asserts nothing. ``--check`` exits 1 when the ratio is above
the limit, for a manual gate.
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
GENERATED = REPO / "benchmarks" / ".cases-5000"
FILES = 5000
RUNS = 3
LIMIT = 1.5
_ID_LINE = re.compile(r"^id:.*$", re.MULTILINE)

ASSESS_PROCESS = "import sys; from pinchpoint.cli.main import main; sys.exit(main())"
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
    """Return the median wall time and the median CPU time (user + system) in seconds of ``RUNS`` runs.

    The CPU time is the child's own, so on a machine shared with other work it moves less than
    the wall time does.
    """
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(arguments, stdout=subprocess.DEVNULL, check=True, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    """Generate the files, time both processes, print the table; with ``--check``, 1 when over the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="?", type=Path, default=DEFAULT_CASES, help="a directory of case files"
    )
    parser.add_argument("--files", type=int, default=FILES, help=f"how many case files (default {FILES})")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is above {LIMIT}")
    args = parser.parse_args()
    folder = str(generate(args.cases, args.files))
    source = str(REPO / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}
    # One untimed run fills the knowledge cache (and the OS file cache) for both commands.
    subprocess.run(
        [sys.executable, "-c", ASSESS_PROCESS, "assess", folder, "--json"],
        stdout=subprocess.DEVNULL,
        check=True,
        env=env,
    )
    bare, bare_cpu = timed([sys.executable, "-c", BARE_PROCESS, folder], env)
    full, full_cpu = timed([sys.executable, "-c", ASSESS_PROCESS, "assess", folder, "--json"], env)
    ratio = full / bare
    rows = [
        (f"{args.files:,} case files, median of {RUNS} runs, Python {sys.version.split()[0]}", ""),
        ("  bare yaml.load (CSafeLoader), wall", f"{bare:.2f} s"),
        ("  pinchpoint assess DIR --json, wall", f"{full:.2f} s"),
        ("  per case, beyond the bare parse", f"{(full - bare) / args.files * 1e3:.3f} ms"),
        (f"  ratio of wall times (issue 12: at most {LIMIT})", f"{ratio:.2f}x"),
        ("  ratio of CPU times (user + system)", f"{full_cpu / bare_cpu:.2f}x"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:>10}" if value else label)
    return 1 if args.check and ratio > LIMIT else 0


if __name__ == "__main__":
    raise SystemExit(main())
