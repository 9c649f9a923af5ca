"""A reliability diagram as a standalone SVG picture, written without a plotting library.

Two panels, top-1 site and top-1 cause. In each, the x axis is the probability
pinchpoint gave its top-ranked answer, the y axis how often that answer was right; a
well-calibrated answer lies on the diagonal, an overconfident one below it. Every
series (one per assessment mode) joins its non-empty bins; a marker's area grows with
the number of cases in its bin. The output is plain text and deterministic (coordinates
rounded to 0.1 px), so a regenerated picture differs only when the figures do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from pinchpoint.evaluation.calibration import Calibration

__all__ = ["Series", "reliability_svg"]

_PANEL = 300.0
_MARGIN_LEFT = 60.0
_MARGIN_TOP = 50.0
_GAP = 70.0
_MARGIN_BOTTOM = 120.0
_LEGEND_TOP = 58.0
"""The legend's first line, below the panels' bottom edge."""
_TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
_MARKER_MIN = 2.5
_MARKER_SCALE = 1.6
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
"""Colour-blind-safe (Okabe-Ito) colours, one per series in order."""


@dataclass(frozen=True, slots=True)
class Series:
    """One mode's reliability: its label and the calibration of its top-1 site and cause."""

    label: str
    site: Calibration
    cause: Calibration


def reliability_svg(title: str, series: Sequence[Series]) -> str:
    """Return an SVG document with the site and cause reliability panels of ``series``."""
    width = _MARGIN_LEFT + 2 * _PANEL + _GAP + 20.0
    height = _MARGIN_TOP + _PANEL + _MARGIN_BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for index, (heading, pick) in enumerate((("top-1 site", _site), ("top-1 cause", _cause))):
        left = _MARGIN_LEFT + index * (_PANEL + _GAP)
        parts += _panel(left, heading, [(s.label, pick(s)) for s in series])
    parts += _legend(series, _MARGIN_TOP + _PANEL + _LEGEND_TOP)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _site(series: Series) -> Calibration:
    return series.site


def _cause(series: Series) -> Calibration:
    return series.cause


def _panel(left: float, heading: str, curves: Sequence[tuple[str, Calibration]]) -> list[str]:
    top = _MARGIN_TOP
    bottom = top + _PANEL
    parts = [
        f'<text x="{left + _PANEL / 2:.1f}" y="{top - 10:.1f}" text-anchor="middle">{escape(heading)}</text>',
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{_PANEL:.1f}" height="{_PANEL:.1f}" '
        'fill="none" stroke="#333"/>',
        f'<line x1="{left:.1f}" y1="{bottom:.1f}" x2="{left + _PANEL:.1f}" y2="{top:.1f}" '
        'stroke="#999" stroke-dasharray="4 4"/>',
    ]
    for tick in _TICKS:
        x, y = _point(left, tick, tick)
        parts += [
            f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{bottom + 5:.1f}" stroke="#333"/>',
            f'<text x="{x:.1f}" y="{bottom + 18:.1f}" text-anchor="middle">{tick:.1f}</text>',
            f'<line x1="{left - 5:.1f}" y1="{y:.1f}" x2="{left:.1f}" y2="{y:.1f}" stroke="#333"/>',
            f'<text x="{left - 8:.1f}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}</text>',
        ]
    parts += [
        f'<text x="{left + _PANEL / 2:.1f}" y="{bottom + 36:.1f}" text-anchor="middle">'
        "probability given to the top-1 answer</text>",
        f'<text x="{left - 40:.1f}" y="{top + _PANEL / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {left - 40:.1f} {top + _PANEL / 2:.1f})">share right</text>',
    ]
    for index, (label, curve) in enumerate(curves):
        parts += _curve(left, _COLOURS[index % len(_COLOURS)], label, curve)
    return parts


def _curve(left: float, colour: str, label: str, curve: Calibration) -> list[str]:
    points = [(_point(left, b.mean_p, b.accuracy), b) for b in curve.bins]
    path = " ".join(f"{x:.1f},{y:.1f}" for (x, y), _ in points)
    parts = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>']
    for (x, y), b in points:
        radius = _MARKER_MIN + _MARKER_SCALE * math.sqrt(b.count)
        tip = f"{label}: {b.count} cases, mean p {b.mean_p:.2f}, {b.accuracy:.0%} right"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" fill-opacity="0.55" '
            f'stroke="{colour}"><title>{escape(tip)}</title></circle>'
        )
    return parts


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts: list[str] = []
    x = _MARGIN_LEFT
    for index, s in enumerate(series):
        colour = _COLOURS[index % len(_COLOURS)]
        text = f"{s.label} (ECE site {s.site.ece:.2f}, cause {s.cause.ece:.2f})"
        parts += [
            f'<circle cx="{x + 6:.1f}" cy="{y - 4:.1f}" r="5" fill="{colour}" fill-opacity="0.55" '
            f'stroke="{colour}"/>',
            f'<text x="{x + 16:.1f}" y="{y:.1f}">{escape(text)}</text>',
        ]
        y += 16.0
    parts.append(
        f'<text x="{x:.1f}" y="{y + 2:.1f}" fill="#555">marker area: cases in the bin; '
        "dashed line: perfect calibration; below it: overconfident</text>"
    )
    return parts


def _point(left: float, p: float, accuracy: float) -> tuple[float, float]:
    """Map (probability, accuracy) in [0, 1]² to panel pixels (y grows downwards)."""
    return left + p * _PANEL, _MARGIN_TOP + (1.0 - accuracy) * _PANEL
