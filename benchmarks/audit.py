"""Benchmark: the population audit on a large synthetic export, DuckDB and Spark, against a floor.

Usage::

    python benchmarks/audit.py --patients 1000000 [--seed 1] [--work benchmarks/.audit]
                               [--engines duckdb,spark] [--duckdb-memory 2GB] [--spark-memory 2g]

It writes the export with ``pinchpoint synth`` (once; kept in the work folder, which git ignores),
then runs, each in a fresh process: the floor (DuckDB merely reading every line of the same files
with the same reader: the scan of the source for line counts and over-long lines, then every line
read as text and its length summed, no JSON parsed), the start-up (the same process and imports,
reading nothing), the parse (the audit's first step alone: every line read and its JSON parsed into
the fields the audit checks, kept as a table, with nothing joined), the DuckDB audit and the Spark
audit (``local[*]``). For each it prints the wall
time, the peak resident memory of the whole process tree (sampled every 0.2 s from /proc, so the
Spark JVM counts), the CPU seconds, the ratios of wall and CPU time to the floor's, and whether the
audit's figures equal the export's ground truth; then each engine's ratios net of the start-up.
The floor and the audits run one after the other in one invocation, so that on a shared machine
they see about the same load. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_SAMPLE = 0.2
_TABLES = ("episode_measure", "order_verdicts", "warning_signs", "rates", "funnel", "agreement", "refusals")
_TIMED_OUT = -1000
_TICKS = os.sysconf("SC_CLK_TCK")
_NET_MIN = 1.0  # CPU seconds of reading below which a ratio net of the start-up means nothing
_MAX_LINE = 2000  # bytes: shorter than the export's one over-long line, longer than every other line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / ".audit")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--duckdb-memory", default="2GB")
    parser.add_argument("--spark-memory", default="2g")
    parser.add_argument("--timeout", type=float, default=None, help="stop a run after this many seconds")
    parser.add_argument(
        "--child", choices=["floor", "start-up", "parse", "duckdb", "spark"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    export = args.work / f"export-{args.patients}-{args.seed}"
    if args.child:
        return _child(args, export)
    truth_file = export / "truth.json"
    if not truth_file.exists():
        started = time.perf_counter()
        command = [sys.executable, "-m", "pinchpoint", "synth", "--patients", str(args.patients)]
        subprocess.run([*command, "--seed", str(args.seed), "--out", str(export)], check=True)
        print(f"synth: {args.patients} patients in {time.perf_counter() - started:.0f} s")
    size = sum(p.stat().st_size for p in export.glob("*.ndjson"))
    print(f"export: {export} ({size / 2**20:.0f} MiB of NDJSON)")
    print(f"{'run':<8} {'wall s':>8} {'x floor':>8} {'cpu s':>8} {'x floor':>8} {'peak MiB':>9}  figures")
    floor: tuple[float, float] | None = None
    measured: dict[str, tuple[float, float]] = {}
    engines = args.engines.split(",")
    for mode in ["floor", "start-up", "parse", *engines]:
        command = [sys.executable, __file__, *sys.argv[1:], "--child", mode]
        wall, cpu, peak, code = _measure(command, args.timeout)
        floor = floor or (wall, cpu)
        measured[mode] = (wall, cpu)
        verdict = (
            "-"
            if mode in ("floor", "start-up", "parse")
            else _check(args.work / f"out-{mode}", truth_file, code)
        )
        print(
            f"{mode:<8} {wall:8.1f} {wall / floor[0]:8.2f} {cpu:8.1f} {cpu / floor[1]:8.2f}"
            f" {peak / 2**20:9.0f}  {verdict}",
            flush=True,
        )
    start = measured["start-up"]
    for mode in ["parse", *engines] if floor[1] - start[1] >= _NET_MIN else ():
        wall = (measured[mode][0] - start[0]) / (floor[0] - start[0])
        cpu = (measured[mode][1] - start[1]) / (floor[1] - start[1])
        print(
            f"{mode}: net of the start-up both pay, {wall:.2f} x the floor's wall time, {cpu:.2f} x its CPU"
        )
    if len(engines) == 2:
        differ = [
            name
            for name in _TABLES
            if _table(args.work, engines[0], name) != _table(args.work, engines[1], name)
        ]
        print("engines agree row for row on every table" if not differ else f"engines DIFFER on {differ}")
    return 0


def _table(work: Path, engine: str, name: str) -> list[tuple[object, ...]]:
    import duckdb  # noqa: PLC0415

    path = work / f"out-{engine}" / "tables" / f"{name}.parquet"
    if not path.exists():
        return []
    pattern = f"{path}/*.parquet" if path.is_dir() else str(path)
    return duckdb.sql(f"SELECT * FROM read_parquet('{pattern}') ORDER BY ALL").fetchall()


def _child(args: argparse.Namespace, export: Path) -> int:
    from pinchpoint.audit.engines import DuckDBEngine  # noqa: PLC0415 (the child imports what it measures)
    from pinchpoint.audit.run import run_audit  # noqa: PLC0415
    from pinchpoint.audit.source import scan_source  # noqa: PLC0415
    from pinchpoint.audit.synth import SYNTH_AS_OF  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    work = args.work / f"work-{args.child}"
    if args.child == "start-up":
        DuckDBEngine(work, memory_limit=args.duckdb_memory).close()
        return 0
    if args.child == "floor":
        engine = DuckDBEngine(work, memory_limit=args.duckdb_memory)
        engine.load_lines(scan_source(export, work / "source", max_line_bytes=_MAX_LINE))
        lines, characters = engine.fetch("SELECT count(*), sum(length(line)) FROM raw_lines")[0]
        engine.close()
        print(f"floor read {lines} lines, {characters} characters", file=sys.stderr)
        return 0
    if args.child == "parse":
        return _parse(export, work, args.duckdb_memory)
    options: dict[str, object] = {}
    if args.child == "duckdb":
        options["memory_limit"] = args.duckdb_memory
    else:
        from pinchpoint.audit.engines import spark_session  # noqa: PLC0415

        options["session"] = spark_session("local[*]", driver_memory=args.spark_memory)
    knowledge = load_knowledge()
    gc.freeze()  # as the audit command does at start-up
    result = run_audit(
        export,
        args.work / f"out-{args.child}",
        knowledge,
        engine_name=args.child,
        as_of=SYNTH_AS_OF,
        max_line_bytes=_MAX_LINE,
        work=work,
        engine_options=options,
    )
    return 0 if result.reconciled else 1


def _parse(export: Path, work: Path, memory: str) -> int:
    from pinchpoint.audit.definition import load_definition  # noqa: PLC0415
    from pinchpoint.audit.engines import DuckDBEngine, queries  # noqa: PLC0415
    from pinchpoint.audit.run import load_source, parameters  # noqa: PLC0415
    from pinchpoint.audit.source import scan_source  # noqa: PLC0415
    from pinchpoint.audit.synth import SYNTH_AS_OF  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    steps = {q.name: q for q in queries("duckdb", parameters(load_definition(load_knowledge()), SYNTH_AS_OF))}
    engine = DuckDBEngine(work, memory_limit=memory)
    load_source(engine, scan_source(export, work / "source", max_line_bytes=_MAX_LINE))
    for name in ("lines", "coded"):
        engine.view(name, steps[name].sql)
    engine.materialise("parsed", "SELECT * FROM coded")
    lines, refused = engine.fetch("SELECT count(*), count(problem) FROM parsed")[0]
    engine.close()
    print(f"parse read {lines} lines, {refused} of them with a problem", file=sys.stderr)
    return 0


def _check(out: Path, truth_file: Path, code: int) -> str:
    from pinchpoint.audit.synth import iter_truth_refusals  # noqa: PLC0415

    if code == _TIMED_OUT:
        return "stopped: did not finish within --timeout"
    if code != 0:
        return f"exit code {code}"
    truth = json.loads(truth_file.read_text("utf-8"))
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    counted: dict[str, int] = {}
    for file, _, _, lines in truth["reconciliation"]:
        counted[file] = counted.get(file, 0) + lines
    same = summary["funnel"] == truth["funnel"] and summary["counted_per_file"] == counted
    same = same and summary["reconciled"] and _refusals(out) == sorted(iter_truth_refusals(truth, _MAX_LINE))
    return (
        "reconciled; funnel, line counts and refused lines equal the truth"
        if same
        else "DIFFER from the truth"
    )


def _refusals(out: Path) -> list[tuple[str, int, str]]:
    import duckdb  # noqa: PLC0415

    path = out / "tables" / "refusals.parquet"
    pattern = f"{path}/*.parquet" if path.is_dir() else str(path)
    rows = duckdb.sql(f"SELECT file, line_no, reason FROM read_parquet('{pattern}') ORDER BY ALL").fetchall()
    return [(str(file), int(line), str(reason)) for file, line, reason in rows]


def _measure(command: list[str], timeout: float | None) -> tuple[float, float, int, int]:
    """Run a child in its own process group: wall seconds, CPU seconds, peak memory and exit code.

    The CPU seconds are user and system time: from ``wait4`` (the child's, and those of the processes
    it waited for), or the sum of what every process of the tree had used when last sampled, if that
    is more (the Spark JVM is not waited for by the Python child). On a machine shared with other work
    they vary less than the wall time. The child is stopped (its group, and only it) after ``timeout``.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    peak = 0
    ticks: dict[int, int] = {}
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss, seen = _tree_usage(process.pid)
        peak = max(peak, rss)
        ticks.update(seen)
        if timeout is not None and time.perf_counter() - started > timeout:
            os.killpg(process.pid, signal.SIGTERM)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu = max(usage.ru_utime + usage.ru_stime, sum(ticks.values()) / _TICKS)
            return time.perf_counter() - started, cpu, peak, _TIMED_OUT
        time.sleep(_SAMPLE)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = max(usage.ru_utime + usage.ru_stime, sum(ticks.values()) / _TICKS)
    return time.perf_counter() - started, cpu, peak, process.returncode


def _tree_usage(root: int) -> tuple[int, dict[int, int]]:
    """The resident memory of the process tree under ``root`` and the CPU ticks each of its processes used."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, ticks, stack = 0, {}, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime and stime
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total, ticks


if __name__ == "__main__":
    raise SystemExit(main())
