"""The ``pinchpoint audit`` and ``pinchpoint synth`` commands."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from pinchpoint.errors import InputError

__all__ = ["add_audit_commands"]

_OK, _NOT_RECONCILED = 0, 1


def add_audit_commands(commands: Any) -> None:
    """Add ``audit`` and ``synth`` to the command line's subcommands."""
    audit = commands.add_parser(
        "audit",
        help="audit a FHIR Bulk Data export: low-value lumbar imaging and missed warning signs",
        description=(
            "Read a folder of NDJSON files (Patient.ndjson, Condition.ndjson ...), build episodes of "
            "low back pain and leg nerve pain, and write the imaging measure, pinchpoint's verdict on "
            "each lumbar imaging order, missed or late warning signs and reconciled line counts "
            "(HTML, CSV, Parquet, MeasureReport)."
        ),
    )
    audit.add_argument("source", type=Path, help="the export folder (or one NDJSON file)")
    audit.add_argument("--out", type=Path, required=True, help="the folder to write the outputs to")
    audit.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb", help="default: duckdb")
    audit.add_argument("--master", default="local[*]", help="Spark master URL (default: local[*])")
    audit.add_argument(
        "--as-of", type=_date, default=None, help="the audit date, YYYY-MM-DD (default: today)"
    )
    audit.add_argument(
        "--max-line-bytes", type=int, default=None, help="refuse longer lines (default: 64 MiB)"
    )
    audit.add_argument("--memory-limit", default=None, help="DuckDB memory limit, such as 2GB")
    audit.set_defaults(command=_audit, resident=True)
    synth = commands.add_parser("synth", help="write a synthetic Bulk Data export with its ground truth")
    synth.add_argument("--patients", type=int, required=True, help="how many patients")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.add_argument("--out", type=Path, required=True, help="the folder to write to")
    synth.set_defaults(command=_synth, resident=True)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from exc


def _audit(args: argparse.Namespace) -> int:
    from pinchpoint.audit.run import run_audit  # noqa: PLC0415 (duckdb and pyspark load only for an audit)
    from pinchpoint.audit.source import DEFAULT_MAX_LINE_BYTES  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    options: dict[str, Any] = {}
    if args.engine == "spark":
        options["master"] = args.master
    elif args.memory_limit:
        options["memory_limit"] = args.memory_limit
    result = run_audit(
        args.source,
        args.out,
        load_knowledge(),
        engine_name=args.engine,
        as_of=args.as_of,
        max_line_bytes=args.max_line_bytes or DEFAULT_MAX_LINE_BYTES,
        engine_options=options,
    )
    funnel = {row["step"]: row["episodes"] for row in result.tables["funnel"]}
    refused = sum(int(r["lines"]) for r in result.tables["reconciliation"] if r["status"] == "refused")
    sys.stdout.write(
        f"audit written to {args.out}: {funnel.get('episodes', 0)} episodes, "
        f"{funnel.get('not excluded (denominator)', 0)} in the denominator, "
        f"{funnel.get('imaged within the window (numerator)', 0)} imaged within the window; "
        f"{sum(result.lines_per_file.values())} lines read, {refused} refused "
        f"({'counts reconcile' if result.reconciled else 'COUNTS DO NOT RECONCILE'})\n"
    )
    return _OK if result.reconciled else _NOT_RECONCILED


def _synth(args: argparse.Namespace) -> int:
    from pinchpoint.audit.definition import load_definition  # noqa: PLC0415
    from pinchpoint.audit.synth import synthesize  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    if args.patients < 1:
        raise InputError("the number of patients must be positive", location="--patients", got=args.patients)
    truth = synthesize(args.out, load_definition(load_knowledge()), patients=args.patients, seed=args.seed)
    sys.stdout.write(
        f"wrote {args.patients} patients to {args.out} (ground truth in truth.json, as of {truth['as_of']})\n"
    )
    return _OK
