"""Write docs/evaluation.md and its reliability diagrams; with --record, raise the regression record too.

Usage:
    python tools/generate_evaluation.py                 write docs/evaluation.md and docs/evaluation/*.svg
    python tools/generate_evaluation.py --check         write nothing; exit 1 if they are out of date
    python tools/generate_evaluation.py --record        also raise docs/evaluation-record.json
    python tools/generate_evaluation.py --record --accept-drop "REASON"
                                                        accept a fall of a non-safety figure, with a reason

Every case set (development ../shared/cases, validation ../shared/validation, and the published
cases kept in this repository, validation/published) is evaluated with full information and through
both simulated interviews. The record holds the development and validation sets:
tests/test_evaluation_record.py fails when a fresh run falls below it. Writing the record never
lowers it on safety (a newly under-triaged case, a recognised emergency now missed): that is
refused whatever the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import PinchpointError
from pinchpoint.evaluation.record import raised_record
from pinchpoint.evaluation.report import CaseSet, evaluation_documents
from pinchpoint.evaluation.runs import RUN_MODES, run_set
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DIAGRAMS = "evaluation"
RECORD = DOCS / "evaluation-record.json"
RECORDED_SETS = ("development", "validation")


@dataclass(frozen=True, slots=True)
class SetSource:
    """Where a case set lives and how the report names it."""

    name: str
    title: str
    path: Path
    location: str
    about: str


SOURCES = (
    SetSource(
        "development",
        "Development cases",
        REPO.parent / "shared" / "cases",
        "../shared/cases",
        "the textbook cases the knowledge base was written and reviewed against; good figures here "
        "are expected and prove little.",
    ),
    SetSource(
        "validation",
        "Validation cases",
        REPO.parent / "shared" / "validation",
        "../shared/validation",
        "published case reports from other sources than the development cases, transcribed and "
        "labelled before the program ran; never a target for tuning.",
    ),
    SetSource(
        "published",
        "Published cases (this repository)",
        REPO / "validation" / "published",
        "validation/published",
        "case reports from the medical literature chosen, transcribed and labelled for this "
        "repository before the program ran (see its README); never a target for tuning.",
    ),
)


def evaluate(knowledge: Knowledge, names: Sequence[str] | None = None) -> list[CaseSet]:
    """Run every mode on every set (or the sets named) that exists on this machine."""
    sets = []
    for source in SOURCES:
        if (names is not None and source.name not in names) or not source.path.is_dir():
            continue
        cases = read_cases(source.path, knowledge.vocabulary)
        runs = tuple(run_set(source.name, cases, knowledge, mode) for mode in RUN_MODES)
        sets.append(CaseSet(source.name, source.title, source.location, source.about, runs))
    return sets


def documents(sets: Sequence[CaseSet]) -> dict[Path, str]:
    """Return the report's files by absolute path."""
    return {DOCS / name: text for name, text in evaluation_documents(sets, diagram_folder=DIAGRAMS).items()}


def read_record() -> dict[str, Any] | None:
    """Return the record in the repository, or None when there is none yet."""
    if not RECORD.exists():
        return None
    record: dict[str, Any] = json.loads(RECORD.read_text(encoding="utf-8"))
    return record


def record_text(record: dict[str, Any]) -> str:
    """Return the record as the file holds it: indented JSON with a final newline."""
    return json.dumps(record, indent=2) + "\n"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="generate_evaluation", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    parser.add_argument("--record", action="store_true", help="raise docs/evaluation-record.json too")
    parser.add_argument(
        "--accept-drop", metavar="REASON", help="with --record: accept a non-safety figure's fall"
    )
    args = parser.parse_args(argv)
    sets = evaluate(load_knowledge())
    files = documents(sets)
    if args.check:
        stale = [path for path, text in files.items() if not path.exists() or path.read_text("utf-8") != text]
        for path in stale:
            print(f"{path} is out of date; run python tools/generate_evaluation.py", file=sys.stderr)
        return 1 if stale else 0
    if args.record:
        runs = [run for case_set in sets if case_set.name in RECORDED_SETS for run in case_set.runs]
        try:
            record = raised_record(read_record(), runs, accept_drop=args.accept_drop)
        except PinchpointError as exc:
            print(f"generate_evaluation: the record was not written: {exc}", file=sys.stderr)
            return 1
        RECORD.write_text(record_text(record), encoding="utf-8")
        print(f"wrote {RECORD}")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
