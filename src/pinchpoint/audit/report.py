"""The audit's readable outputs: an HTML report with two plots, and a FHIR MeasureReport.

The plots are small SVG drawn here (no plotting library): a funnel plot of each organisation's
imaging rate against its denominator, with the overall rate and its 95 % and 99.8 % control
limits, and the monthly rate with its confidence interval.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from fhir.resources.R4B.measurereport import MeasureReport

from pinchpoint.audit.run import REPORT_ROWS
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.fhir.terminology import CANONICAL_BASE
from pinchpoint.knowledge import schema as s

if TYPE_CHECKING:
    from pinchpoint.audit.definition import AuditDefinition
    from pinchpoint.audit.run import AuditResult

__all__ = ["funnel_svg", "measure_report", "trend_svg", "write_reports"]

_WIDTH, _HEIGHT, _PAD = 560, 300, 44
_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"


def write_reports(
    result: AuditResult,
    definition: AuditDefinition,
    knowledge: Knowledge,
    out: Path,
    *,
    as_of: dt.date,
    engine: str,
) -> list[Path]:
    """Write ``report.html`` and ``measure-report.json`` into ``out``; return their paths."""
    report = measure_report(result, definition, as_of=as_of)
    paths = [out / "report.html", out / "measure-report.json"]
    paths[0].write_text(_html(result, definition, knowledge, as_of=as_of, engine=engine), "utf-8")
    paths[1].write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    return paths


def measure_report(result: AuditResult, definition: AuditDefinition, *, as_of: dt.date) -> dict[str, Any]:
    """Return the summary MeasureReport (validated against FHIR R4B) as JSON."""
    funnel = {row["step"]: int(row["episodes"]) for row in result.tables["funnel"]}
    months = sorted(r["value"] for r in result.tables["rates"] if r["dimension"] == "month")
    start = f"{months[0]}-01" if months else as_of.isoformat()
    denominator = funnel.get("not excluded (denominator)", 0)
    numerator = funnel.get("imaged within the window (numerator)", 0)
    eligible = funnel.get("window complete", 0)

    def population(code: str, count: int) -> dict[str, Any]:
        return {"code": {"coding": [{"system": _POPULATION, "code": code}]}, "count": count}

    def stratum(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "value": {"text": str(row["value"])},
            "population": [
                population("denominator", int(row["denominator"])),
                population("numerator", int(row["numerator"])),
            ],
            "measureScore": {"value": float(row["rate"])},
        }

    stratifiers = [
        {
            "code": [{"text": dimension}],
            "stratum": [stratum(r) for r in result.tables["rates"] if r["dimension"] == dimension],
        }
        for dimension in ("organisation", "month", "age_band")
    ]
    group: dict[str, Any] = {
        "population": [
            population("initial-population", eligible),
            population("denominator", eligible),
            population("denominator-exclusion", eligible - denominator),
            population("numerator", numerator),
        ],
        "stratifier": [s for s in stratifiers if s["stratum"]],
    }
    if denominator:
        group["measureScore"] = {"value": numerator / denominator}
    data = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": f"{CANONICAL_BASE}/Measure/{definition.measure_id}",
        "date": f"{as_of.isoformat()}T00:00:00Z",
        "period": {"start": start, "end": as_of.isoformat()},
        "improvementNotation": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation",
                    "code": "decrease",
                }
            ]
        },
        "group": [group],
    }
    MeasureReport.model_validate(data)
    return data


def funnel_svg(
    rows: Sequence[dict[str, Any]], overall: float, confidence_levels: Sequence[float] = (0.95, 0.998)
) -> str:
    """An SVG funnel plot: each unit's rate against its denominator, with limits around ``overall``."""
    if not rows:
        return _empty("No organisation has an episode in the denominator.")
    most = max(int(r["denominator"]) for r in rows)
    top = min(1.0, max(*(float(r["rate"]) for r in rows), overall) * 1.3 + 0.02)
    x = _scale(0, most, _PAD, _WIDTH - 10)
    y = _scale(0, top, _HEIGHT - _PAD, 10)
    parts = [_axes(f"denominator (episodes), up to {most}", f"imaging rate, up to {top:.2f}")]
    parts.append(
        f'<line x1="{_PAD}" x2="{_WIDTH - 10}" y1="{y(overall):.1f}" y2="{y(overall):.1f}" stroke="#333"/>'
    )
    for level in confidence_levels:
        z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
        for sign in (-1, 1):
            points = []
            for step in range(1, 101):
                n = max(1.0, most * step / 100)
                limit = overall + sign * z * math.sqrt(overall * (1 - overall) / n)
                points.append(f"{x(n):.1f},{y(min(max(limit, 0.0), top)):.1f}")
            dash = "4 3" if level < 0.99 else "1 3"
            parts.append(
                f'<polyline fill="none" stroke="#888" stroke-dasharray="{dash}" points="{" ".join(points)}"/>'
            )
    for row in rows:
        label = html.escape(str(row["value"]))
        cx, cy = x(int(row["denominator"])), y(float(row["rate"]))
        title = f"<title>{label}: {row['numerator']}/{row['denominator']}</title>"
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#1f5fa8">{title}</circle>')
    return _svg("Funnel plot of imaging rates per organisation", parts)


def trend_svg(rows: Sequence[dict[str, Any]]) -> str:
    """An SVG line of the monthly rate with its confidence band."""
    if not rows:
        return _empty("No month has an episode in the denominator.")
    ordered = sorted(rows, key=lambda r: str(r["value"]))
    top = min(1.0, max(float(r["high"]) for r in ordered) * 1.1 + 0.01)
    x = _scale(0, max(1, len(ordered) - 1), _PAD, _WIDTH - 10)
    y = _scale(0, top, _HEIGHT - _PAD, 10)
    band = [f"{x(i):.1f},{y(float(r['high'])):.1f}" for i, r in enumerate(ordered)]
    band += [f"{x(i):.1f},{y(float(r['low'])):.1f}" for i, r in reversed(list(enumerate(ordered)))]
    line = [f"{x(i):.1f},{y(float(r['rate'])):.1f}" for i, r in enumerate(ordered)]
    parts = [
        _axes(f"month, {ordered[0]['value']} to {ordered[-1]['value']}", f"imaging rate, up to {top:.2f}"),
        f'<polygon fill="#cfe0f3" points="{" ".join(band)}"/>',
        f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{" ".join(line)}"/>',
    ]
    return _svg("Imaging rate by month with its confidence interval", parts)


_STEPS = ("episodes", "age in range", "window complete", "excluded: ", "not excluded", "imaged within")


def _step_order(row: dict[str, Any]) -> tuple[int, str]:
    """Funnel steps in the order episodes pass them (exclusions, alphabetically, before the denominator)."""
    step = str(row["step"])
    return next((i for i, prefix in enumerate(_STEPS) if step.startswith(prefix)), len(_STEPS)), step


def _scale(low: float, high: float, start: float, end: float) -> Any:
    span = (high - low) or 1.0
    return lambda value: start + (float(value) - low) / span * (end - start)


def _axes(x_label: str, y_label: str) -> str:
    bottom = _HEIGHT - _PAD
    return (
        f'<line x1="{_PAD}" y1="{bottom}" x2="{_WIDTH - 10}" y2="{bottom}" stroke="#000"/>'
        f'<line x1="{_PAD}" y1="10" x2="{_PAD}" y2="{bottom}" stroke="#000"/>'
        f'<text x="{_WIDTH / 2}" y="{_HEIGHT - 8}" text-anchor="middle" font-size="12">'
        f"{html.escape(x_label)}</text>"
        f'<text x="12" y="{_HEIGHT / 2}" transform="rotate(-90 12 {_HEIGHT / 2})" text-anchor="middle" '
        f'font-size="12">{html.escape(y_label)}</text>'
    )


def _svg(title: str, parts: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>{"".join(parts)}</svg>'
    )


def _empty(text: str) -> str:
    return _svg(
        text, [f'<text x="{_WIDTH / 2}" y="{_HEIGHT / 2}" text-anchor="middle">{html.escape(text)}</text>']
    )


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(
    result: AuditResult, definition: AuditDefinition, knowledge: Knowledge, *, as_of: dt.date, engine: str
) -> str:
    interop = cast(s.InteropTable, knowledge.tables["interop"])
    rates = result.tables["rates"]
    total = next((r for r in rates if r["dimension"] == "total"), None)
    overall = float(total["rate"]) if total and total["rate"] is not None else 0.0  # None: no denominator
    organisations = [r for r in rates if r["dimension"] == "organisation"]
    months = [r for r in rates if r["dimension"] == "month"]
    outcomes = result.tables["warning_outcomes"]
    late = result.tables["late_warnings"]
    reconciled = "every line is counted once" if result.reconciled else "THE COUNTS DO NOT RECONCILE"
    sections = [
        f"<h1>Population audit: {html.escape(definition.title)}</h1>",
        f'<p class="safety"><strong>{html.escape(interop.safety_note)}</strong></p>',
        f"<p>Audit date {as_of.isoformat()}; engine {html.escape(engine)}; "
        f"knowledge version {html.escape(knowledge.version)}. "
        "Rates are the share of episodes in the denominator imaged within "
        f"{definition.imaging_window_days} days (lower is better; HEDIS reports 1 minus this rate), with "
        f"{definition.confidence:.0%} Wilson intervals.</p>",
        "<h2>1. Imaging within the window</h2>",
        _table(sorted(result.tables["funnel"], key=_step_order), ["step", "episodes"]),
        "<h3>Rates per organisation (funnel plot)</h3>",
        funnel_svg(organisations, overall),
        "<h3>Rate by month</h3>",
        trend_svg(months),
        _table(
            [r for r in rates if r["dimension"] in ("total", "age_band", "organisation")],
            ["dimension", "value", "denominator", "numerator", "rate", "low", "high"],
        ),
        "<p>Per practitioner and per month: tables/rates.csv.</p>",
        "<h2>2. pinchpoint's verdict on each lumbar imaging order</h2>",
        "<p>The verdict is the CDS order card's own review (the same function) of the record "
        "as it stood on the order date; <em>card_warns</em> is whether the card would advise "
        "removing the order. <em>pinchpoint</em> sums it up: <em>indicated</em> (the imaging rules "
        "or pinchpoint's plan call for it), <em>undetermined</em> (left to the clinician), "
        "<em>not indicated</em> (the card warns), or <em>indicated later</em> (the card warns on "
        f"the order date, but its review of the record {definition.later_days} days later finds "
        "imaging indicated: the indication was written down after the order).</p>",
        _table(
            result.tables["agreement"], ["measure_class", "pinchpoint", "verdict", "card_warns", "orders"]
        ),
        "<h2>3. Warning signs: time from the first record to MRI</h2>",
        _table(outcomes, ["warning", "outcome", "patients"]),
        f"<h3>Late or missed (the first {REPORT_ROWS} by date; all of them: tables/warning_signs.csv)</h3>",
        _table(
            late, ["patient_id", "warning", "first_date", "demands", "max_days", "days_to_mri", "outcome"]
        ),
        f"<h2>4. Reconciliation: {reconciled}</h2>",
        _table(result.tables["reconciliation"], ["file", "status", "reason", "lines"]),
        "<p>Each refused line, with its file and line number: tables/refusals.csv.</p>",
        f'<p class="safety">{html.escape(interop.safety_note)}</p>',
    ]
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.safety{background:#fff3cd;padding:6px}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pinchpoint audit</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
