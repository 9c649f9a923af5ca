"""Run the population audit over a FHIR Bulk Data export and write its outputs.

``run_audit`` scans the files (line counts, over-long lines), hands the lines to an engine,
materialises the queries of ``audit.sql`` stage by stage, asks the CDS order card's review for
every distinct order signature between the two stages, and writes the tables (CSV and Parquet),
the HTML report and a FHIR MeasureReport. The counts reconcile when every line of every file is
counted exactly once as used, out of scope or refused.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinchpoint.audit.definition import AuditDefinition, load_definition
from pinchpoint.audit.engines import Engine, make_engine, queries
from pinchpoint.audit.source import DEFAULT_MAX_LINE_BYTES, SourceFile, scan_source
from pinchpoint.audit.verdicts import value_bands, verdicts_of
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import AdapterError

__all__ = [
    "OUTPUT_TABLES",
    "REPORT_ROWS",
    "AuditResult",
    "load_source",
    "parameters",
    "run_audit",
    "run_queries",
]

OUTPUT_TABLES: Mapping[str, str] = {
    "episode_measure": "episode_id",
    "order_verdicts": "order_id",
    "warning_signs": "patient_id, warning",
    "warning_outcomes": "warning, outcome",
    "rates": "dimension, value",
    "funnel": "step",
    "agreement": "measure_class, pinchpoint, verdict, card_warns",
    "refusals": "file, line_no",
    "reconciliation": "file, status, reason",
}
"""The tables the audit writes, with the columns that order their rows."""

REPORT_ROWS = 200
"""The most late or missed warning signs the report lists (all of them are in the warning_signs table)."""

_SMALL: Mapping[str, tuple[str, str]] = {
    "rates": ("report_rates", "dimension, value"),
    "funnel": ("funnel", "step"),
    "agreement": ("agreement", "measure_class, pinchpoint, verdict, card_warns"),
    "reconciliation": ("reconciliation", "file, status, reason"),
    "warning_outcomes": ("warning_outcomes", "warning, outcome"),
    "late_warnings": ("late_warnings", "first_date, patient_id, warning"),
}
"""What the audit reads back into Python for the report, each bounded by the codes, the organisations
and months, not by the number of patients: name, table or view, order."""


@dataclass
class AuditResult:
    """What an audit produced: the small tables (as rows of dicts), the line totals, the files written.

    The small tables are the rates (without the per-practitioner rows), the funnel, the agreement,
    the reconciliation, the warning-sign outcomes and the first late or missed warning signs: their
    size does not grow with the number of patients, so neither does the memory they take.
    """

    tables: dict[str, list[dict[str, Any]]]
    lines_per_file: dict[str, int]
    counted_per_file: dict[str, int]
    written: list[Path] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        """Whether every line of every file was counted exactly once."""
        return self.lines_per_file == self.counted_per_file


def parameters(definition: AuditDefinition, as_of: dt.date) -> dict[str, object]:
    """The numbers of the definition that ``audit.sql`` names in braces."""
    return {
        "as_of": as_of.isoformat(),
        "negative_history_days": definition.negative_history_days,
        "imaging_window_days": definition.imaging_window_days,
        "min_age": definition.min_age,
        "max_age": definition.max_age,
        "mri_lookback_days": definition.mri_lookback_days,
        "later_days": definition.later_days,
        "report_rows": REPORT_ROWS,
        "z": repr(statistics.NormalDist().inv_cdf(0.5 + definition.confidence / 2)),
    }


def load_source(engine: Engine, files: list[SourceFile]) -> None:
    """Hand the engine the files' lines, their names and the lines the scan set aside."""
    engine.load_lines(files)
    engine.register(
        "files", [("file_no", "BIGINT"), ("file", "VARCHAR")], [(n, f.name) for n, f in enumerate(files)]
    )
    engine.register(
        "set_aside",
        [("file_no", "BIGINT"), ("line_no", "BIGINT"), ("reason", "VARCHAR")],
        [(n, r.line_no, r.reason) for n, f in enumerate(files) for r in f.set_aside],
    )


def run_queries(
    engine: Engine,
    files: list[SourceFile],
    definition: AuditDefinition,
    knowledge: Knowledge,
    as_of: dt.date,
) -> None:
    """Load the files into the engine and materialise every query of ``audit.sql``."""
    load_source(engine, files)
    engine.register(
        "codes",
        [("system", "VARCHAR"), ("code", "VARCHAR"), ("role", "VARCHAR"), ("key", "VARCHAR")],
        sorted({(c.system, c.code, c.role, c.key) for c in definition.codes}),
    )
    engine.register(
        "exclusion_windows",
        [("key", "VARCHAR"), ("before_days", "BIGINT"), ("after_days", "BIGINT"), ("min_days", "BIGINT")],
        [
            (e.id, 10**6 if e.before is None else e.before, e.after, e.medication_min_days)
            for e in definition.exclusions
        ],
    )
    engine.register(
        "warning_defs",
        [("key", "VARCHAR"), ("demands", "VARCHAR"), ("max_days", "BIGINT"), ("neurology_within", "BIGINT")],
        [(w.id, w.demands, w.max_days, w.neurology_within_days) for w in definition.warning_signs],
    )
    steps = queries(engine.dialect, parameters(definition, as_of), value_bands(knowledge))
    for query in (q for q in steps if q.stage == 1):
        (engine.view if query.view else engine.materialise)(query.name, query.sql)
    # The distinct signatures are few (their numbers are banded), whatever the population's size.
    signatures = [
        row[0]
        for row in engine.fetch("SELECT signature FROM orders UNION SELECT later_signature FROM orders")
    ]
    engine.register(
        "verdicts",
        [
            ("signature", "VARCHAR"),
            ("verdict", "VARCHAR"),
            ("card_warns", "BOOLEAN"),
            ("plan_offers", "BOOLEAN"),
            ("reasons", "VARCHAR"),
        ],
        [
            (v.signature, v.verdict, v.card_warns, v.plan_offers, v.reasons)
            for v in verdicts_of(signatures, knowledge)
        ],
    )
    for query in (q for q in steps if q.stage == 2):
        (engine.view if query.view else engine.materialise)(query.name, query.sql)


def run_audit(
    source: Path,
    out: Path,
    knowledge: Knowledge,
    *,
    engine_name: str = "duckdb",
    as_of: dt.date | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    work: Path | None = None,
    engine_options: Mapping[str, Any] | None = None,
    report: bool = True,
) -> AuditResult:
    """Audit the export at ``source`` and write the outputs to ``out``.

    Args:
        source: A folder of NDJSON files (or one file).
        out: The folder for the outputs (created if missing).
        knowledge: The knowledge base (terminology, imaging rules).
        engine_name: ``duckdb`` (default) or ``spark``.
        as_of: The date the audit is made on: later dates are refused, and windows that end
            after it are not complete. Today (UTC) by default.
        max_line_bytes: The longest line read; longer lines are refused.
        work: A folder for intermediate data (a temporary folder by default).
        engine_options: Options of the engine (DuckDB ``memory_limit``, ``threads``; Spark ``master``).
        report: Whether to write the HTML report and the MeasureReport.

    Raises:
        InputError: The source is missing or holds no NDJSON file, or the engine is unavailable.
    """
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    definition = load_definition(knowledge)
    out.mkdir(parents=True, exist_ok=True)
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="pinchpoint-audit-")) if work is None else work
    try:
        files = scan_source(source, work / "source", max_line_bytes=max_line_bytes)
        engine = make_engine(engine_name, work / "engine", **dict(engine_options or {}))
        try:
            run_queries(engine, files, definition, knowledge, as_of)
            written: list[Path] = []
            (out / "tables").mkdir(parents=True, exist_ok=True)
            for name, order in OUTPUT_TABLES.items():
                written += engine.write(name, order, out / "tables")
            tables = {name: _fetch_dicts(engine, view, order) for name, (view, order) in _SMALL.items()}
        except engine.errors as exc:
            raise AdapterError(
                f"the {engine_name} engine stopped before the audit was complete",
                got=str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                hint="give the engine more memory (--memory-limit) or a work folder with more free disk, "
                "and run the audit again; the outputs written so far are incomplete",
            ) from exc
        finally:
            engine.close()
        counted: dict[str, int] = {}
        for row in tables["reconciliation"]:
            counted[row["file"]] = counted.get(row["file"], 0) + int(row["lines"])
        result = AuditResult(
            tables,
            {f.name: f.lines for f in files},
            {f.name: counted.get(f.name, 0) for f in files},
            written,
        )
        if report:
            from pinchpoint.audit.report import write_reports  # noqa: PLC0415 (jinja2 and fhir only when reporting)

            result.written += write_reports(
                result, definition, knowledge, out, as_of=as_of, engine=engine_name
            )
        summary = {
            "engine": engine_name,
            "as_of": as_of.isoformat(),
            "reconciled": result.reconciled,
            "lines_per_file": result.lines_per_file,
            "counted_per_file": result.counted_per_file,
            "funnel": {row["step"]: row["episodes"] for row in tables["funnel"]},
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", "utf-8")
        result.written.append(out / "summary.json")
        return result
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


def _fetch_dicts(engine: Engine, name: str, order: str) -> list[dict[str, Any]]:
    columns = [row[0] for row in engine.fetch(f"DESCRIBE {name}")] if engine.dialect == "duckdb" else None
    if columns is None:
        columns = [row[0] for row in engine.fetch(f"DESCRIBE TABLE {name}")]
    rows = engine.fetch(f"SELECT * FROM {name} ORDER BY {order}")
    return [dict(zip(columns, row, strict=True)) for row in rows]
