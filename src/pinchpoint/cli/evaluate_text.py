"""The ``pinchpoint evaluate-text CORPUS...`` command: how well free text is read, per finding.

A corpus file (``validation/text/*.yaml``, format in its README) lists descriptions written the way
people and clinicians write, each annotated with the findings it states, the findings it denies or
doubts (``denied``) and the findings it states about someone else (``others``). Every description is
read with :func:`pinchpoint.io.freetext.read_text` in its own mode and the proposals are compared
with the annotation, one *unit* per finding value (a region list gives one unit per region):

* recall: annotated units that were proposed with the annotated value;
* precision: proposed units that the annotation states (a ``false`` proposed for a denied finding
  that is not a red flag is neither right nor wrong: the annotation leaves it open);
* safety, which must be zero: a denied red flag proposed with any value, a red flag proposed absent,
  or another person's finding proposed present.

Figures are given overall, for the corpus's own list of red flags (``red_flags`` of the file) and per
finding; the median time to read one description is printed as a benchmark, not checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pinchpoint.core.case import check_value
from pinchpoint.errors import InvalidCaseError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.io.readers import load_yaml, read_regular_file

if TYPE_CHECKING:
    from pinchpoint.core.case import Case, FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode

__all__ = [
    "CorpusItem",
    "ItemScore",
    "TextScores",
    "add_evaluate_text_command",
    "corpus_files",
    "load_corpus",
    "part_lines",
    "score_corpus",
    "score_item",
    "story_first_report",
    "units",
]

_FORMAT = "pinchpoint-text-corpus"
_MAX_BYTES = 16 * 1024 * 1024
"""The largest corpus file read (the largest shipped corpus is some tens of kilobytes)."""
_ITEM_KEYS = frozenset({"id", "source", "mode", "text", "findings", "denied", "others", "note"})
_MODES: dict[str, Mode] = {"self_check": "self_check", "clinician": "clinician"}

Unit = tuple[str, object]
"""One scored fact: a finding id and one value (a region list gives one unit per region)."""


@dataclass(frozen=True, slots=True)
class CorpusItem:
    """One annotated description."""

    id: str
    text: str
    mode: Mode
    source: str
    findings: Mapping[str, FindingValue]
    denied: frozenset[str]
    others: frozenset[str]


@dataclass(frozen=True, slots=True)
class ItemScore:
    """What the reader got right, missed and added on one description."""

    item: CorpusItem
    hits: frozenset[Unit]
    missed: frozenset[Unit]
    extra: frozenset[Unit]
    unsafe: tuple[str, ...]
    seconds: float


@dataclass(slots=True)
class TextScores:
    """Counts over a corpus: overall, for the red flags and per finding (base id)."""

    items: list[ItemScore] = field(default_factory=list)
    red_flags: frozenset[str] = frozenset()

    def counts(self, base_of: Mapping[str, str], only: frozenset[str] | None = None) -> tuple[int, int, int]:
        """Return (hits, missed, extra) over the units whose base finding is in ``only`` (all if None)."""

        def keep(unit: Unit) -> bool:
            return only is None or base_of[unit[0]] in only

        hits = sum(1 for s in self.items for u in s.hits if keep(u))
        missed = sum(1 for s in self.items for u in s.missed if keep(u))
        extra = sum(1 for s in self.items for u in s.extra if keep(u))
        return hits, missed, extra

    @property
    def unsafe(self) -> list[str]:
        """Every safety failure, as ``item: what``."""
        return [f"{s.item.id}: {what}" for s in self.items for what in s.unsafe]


def units(findings: Mapping[str, FindingValue]) -> frozenset[Unit]:
    """Split findings into scored units: one per value, one per region of a region list."""
    out: set[Unit] = set()
    for key, value in findings.items():
        if isinstance(value, (tuple, list)):
            out.update((key, region) for region in value)
        else:
            out.add((key, float(value) if isinstance(value, float) else value))
    return frozenset(out)


def load_corpus(path: Path, knowledge: Knowledge) -> tuple[list[CorpusItem], frozenset[str]]:
    """Read a corpus file: its items and its list of red flags (base ids).

    Raises:
        InvalidCaseError: The file is not a corpus, or an item is malformed or names a finding
            that is not in the vocabulary.
    """
    data = load_yaml(
        read_regular_file(
            path,
            error=InvalidCaseError,
            what="the text corpus",
            expected="a YAML corpus file",
            limit=_MAX_BYTES,
        ),
        origin=str(path),
        error=InvalidCaseError,
        expected="a YAML corpus file",
        what="the text corpus",
    )
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("items"), list):
        raise InvalidCaseError(
            "the file is not a free-text corpus",
            location=str(path),
            expected=f"a mapping with format: {_FORMAT} and a list of items",
        )
    red_flags = _id_list(data, "red_flags", f"{path}: red_flags")
    _check_ids(red_flags, knowledge, f"{path}: red_flags", base=True)
    return [_item(raw, index, path, knowledge) for index, raw in enumerate(data["items"])], red_flags


def _item(raw: object, index: int, path: Path, knowledge: Knowledge) -> CorpusItem:
    where = f"{path}: items[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or "id" not in raw:
        raise InvalidCaseError(
            "a corpus item is malformed", location=where, expected="a mapping with id and text"
        )
    unknown = set(raw) - _ITEM_KEYS
    if unknown:
        raise InvalidCaseError(
            "a corpus item has unknown keys",
            location=where,
            expected=", ".join(sorted(_ITEM_KEYS)),
            got=sorted(unknown),
        )
    mode = _MODES.get(str(raw.get("mode", "self_check")))
    if mode is None:
        raise InvalidCaseError(
            "a corpus item's mode is unknown", location=where, expected="self_check or clinician"
        )
    findings = raw.get("findings") or {}
    if not isinstance(findings, dict) or not all(isinstance(key, str) for key in findings):
        raise InvalidCaseError(
            "a corpus item's findings are not a mapping of finding ids to values",
            location=f"{where}.findings",
            expected="a mapping such as {fever: true, pain_regions: [low_back]}",
            got=findings,
        )
    _check_ids(findings, knowledge, where, base=False)
    _check_regions(findings, knowledge, where)
    _check_values(findings, knowledge, where)
    denied = _id_list(raw, "denied", f"{where}.denied")
    others = _id_list(raw, "others", f"{where}.others")
    _check_ids(denied | others, knowledge, where, base=True)
    return CorpusItem(
        id=str(raw["id"]),
        text=raw["text"],
        mode=mode,
        source=str(raw.get("source", "")),
        findings={k: tuple(v) if isinstance(v, list) else v for k, v in findings.items()},
        denied=denied,
        others=others,
    )


def _id_list(table: Mapping[str, object], key: str, where: str) -> frozenset[str]:
    """The list of finding ids under ``key`` (absent or null: none), refusing anything but a list of text."""
    value = table.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidCaseError(
            f"{key} is not a list of finding ids",
            location=where,
            expected="a list of base finding ids",
            got=value,
        )
    return frozenset(value)


def _check_values(findings: Mapping[str, object], knowledge: Knowledge, where: str) -> None:
    """Every annotated value is one its finding can take: a wrong type would never match, silently."""
    vocabulary = knowledge.vocabulary
    for key, value in findings.items():
        check_value(vocabulary.findings[key], value, vocabulary, location=f"{where}.findings.{key}")


def _check_ids(ids: Iterable[str], knowledge: Knowledge, where: str, *, base: bool) -> None:
    findings = knowledge.vocabulary.findings
    known = {f.base for f in findings.values()} if base else set(findings)
    bad = sorted(set(ids) - known)
    if bad:
        raise InvalidCaseError(
            "a corpus item names findings that are not in the vocabulary",
            location=where,
            expected="finding ids of vocabulary.yaml" + (" (base ids, without side)" if base else ""),
            got=bad,
        )


def _check_regions(findings: Mapping[str, object], knowledge: Knowledge, where: str) -> None:
    """Every region of a region list is a vocabulary region, with its side unless it is midline."""
    vocabulary = knowledge.vocabulary
    named = {
        region if spec.midline else f"{region}.{side}"
        for region, spec in vocabulary.regions.items()
        for side in ("left", "right")
    }
    for key, value in findings.items():
        if vocabulary.findings[key].type != "regions":
            continue
        listed = isinstance(value, list) and all(isinstance(region, str) for region in value)
        bad = sorted(set(cast(list[str], value)) - named) if listed else [value]
        if bad:
            raise InvalidCaseError(
                f"the region list {key} names regions that do not exist",
                location=where,
                expected="vocabulary regions, each with .left or .right unless midline",
                got=bad,
            )


def score_item(item: CorpusItem, knowledge: Knowledge) -> ItemScore:
    """Read one description and compare what it proposes with its annotation."""
    # Imported on use: the free-text reader costs every other command's start-up nothing.
    from pinchpoint.io.freetext import read_text, red_flag_findings  # noqa: PLC0415

    start = time.perf_counter()
    reading = read_text(item.text, knowledge, mode=item.mode)
    seconds = time.perf_counter() - start
    proposed = reading.findings()
    vocabulary = knowledge.vocabulary.findings
    red = red_flag_findings(knowledge)
    expected = units(item.findings)
    got = units(proposed)
    open_false = {u for u in got if u[1] is False and vocabulary[u[0]].base in item.denied}
    unsafe: list[str] = []
    for key, value in proposed.items():
        base = vocabulary[key].base
        if base in item.denied and base in red:
            unsafe.append(f"denied red flag {key} proposed as {value!r}")
        elif base in red and value is False:
            unsafe.append(f"red flag {key} proposed absent")
        if base in item.others and value not in (False, ()):
            unsafe.append(f"another person's {key} proposed as the patient's")
    return ItemScore(
        item=item,
        hits=expected & got,
        missed=expected - got,
        extra=frozenset(got - expected - open_false),
        unsafe=tuple(unsafe),
        seconds=seconds,
    )


def score_corpus(items: Sequence[CorpusItem], knowledge: Knowledge, red_flags: frozenset[str]) -> TextScores:
    """Score every item of a corpus."""
    return TextScores(items=[score_item(item, knowledge) for item in items], red_flags=red_flags)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summary(scores: TextScores, knowledge: Knowledge) -> dict[str, Any]:
    """Return the figures of a scored corpus as JSON-ready data."""
    base_of = {key: spec.base for key, spec in knowledge.vocabulary.findings.items()}

    def block(only: frozenset[str] | None) -> dict[str, Any]:
        hits, missed, extra = scores.counts(base_of, only)
        return {
            "stated": hits + missed,
            "found": hits,
            "proposed": hits + extra,
            "recall": _ratio(hits, hits + missed),
            "precision": _ratio(hits, hits + extra),
        }

    bases = sorted({base_of[u[0]] for s in scores.items for u in (*s.hits, *s.missed, *s.extra)})
    seconds = [s.seconds for s in scores.items]
    proposals = [len(s.hits) + len(s.extra) for s in scores.items]
    return {
        "descriptions": len(scores.items),
        "clinician_notes": sum(1 for s in scores.items if s.item.mode == "clinician"),
        "overall": block(None),
        "red_flags": block(scores.red_flags),
        "per_finding": {base: block(frozenset({base})) for base in bases},
        "unsafe": scores.unsafe,
        "median_proposals": statistics.median(proposals) if proposals else 0,
        "median_ms": round(statistics.median(seconds) * 1000, 2) if seconds else None,
        "missed": {s.item.id: sorted(map(str, s.missed)) for s in scores.items if s.missed},
        "extra": {s.item.id: sorted(map(str, s.extra)) for s in scores.items if s.extra},
    }


def add_evaluate_text_command(commands: Any) -> None:
    """Add ``evaluate-text CORPUS... [--json] [--misses]`` to the CLI (an argparse subparsers object)."""
    command = commands.add_parser(
        "evaluate-text", help="score free-text reading on annotated corpora: recall and precision per finding"
    )
    command.add_argument(
        "paths",
        metavar="CORPUS",
        nargs="*",
        type=Path,
        help="corpus YAML files, or a folder of them (one part each)",
    )
    command.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    command.add_argument("--misses", action="store_true", help="also list every missed and extra unit")
    command.add_argument(
        "--narratives",
        metavar="CASES",
        type=Path,
        help="instead, interview the cases of CASES with a narrative story first and plainly, and compare",
    )
    command.add_argument(
        "--mode",
        choices=("self-check", "clinician"),
        default="self-check",
        help="with --narratives: who answers the interview (default: self-check)",
    )
    command.set_defaults(command=_evaluate_text_command)


def _evaluate_text_command(args: argparse.Namespace) -> int:
    knowledge = load_knowledge()
    if args.narratives is not None:
        return _story_first(args, knowledge)
    if not args.paths:
        raise InvalidCaseError(
            "nothing to evaluate", location="evaluate-text", expected="corpus files, or --narratives CASES"
        )
    items: list[CorpusItem] = []
    red_flags: set[str] = set()
    parts: dict[str, Any] = {}
    for path in corpus_files(args.paths):
        more, flags = load_corpus(path, knowledge)
        items.extend(more)
        red_flags |= flags
        part = summary(score_corpus(more, knowledge, flags), knowledge)
        parts[path.stem] = {k: part[k] for k in ("descriptions", "overall", "red_flags", "unsafe")}
    data = {**summary(score_corpus(items, knowledge, frozenset(red_flags)), knowledge), "parts": parts}
    if args.json:
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        lines = part_lines(parts) if len(parts) > 1 else []
        sys.stdout.write("\n".join([*lines, *summary_lines(data, misses=args.misses)]) + "\n")
    return 1 if data["unsafe"] else 0


def corpus_files(paths: Iterable[Path]) -> list[Path]:
    """The corpus files named: a folder stands for its ``*.yaml`` files (``validation/text``: both parts).

    Raises:
        InvalidCaseError: A folder holds no corpus file.
    """
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(path.glob("*.yaml"))
        if not found:
            raise InvalidCaseError(
                "the folder holds no corpus file",
                location=str(path),
                expected="one or more *.yaml corpus files",
            )
        files.extend(found)
    return files


def part_lines(parts: Mapping[str, Any]) -> list[str]:
    """A table of recall and precision per corpus part (file), overall and for the red flags."""
    lines = [
        "| part | descriptions | recall | precision | red-flag recall | red-flag precision"
        " | safety failures |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, part in parts.items():
        overall, red = part["overall"], part["red_flags"]
        found = overall["found"]
        lines.append(
            f"| {name} | {part['descriptions']} | {_pct(overall['recall'])} ({found}/{overall['stated']})"
            f" | {_pct(overall['precision'])} ({found}/{overall['proposed']}) | {_pct(red['recall'])}"
            f" | {_pct(red['precision'])} | {len(part['unsafe'])} |"
        )
    return [*lines, ""]


def _story_first(args: argparse.Namespace, knowledge: Knowledge) -> int:
    """Compare story-first and plain simulated interviews on the narratives of a case folder."""
    from pinchpoint.io.casefile import read_cases  # noqa: PLC0415 (only this option needs it)

    mode: Mode = "clinician" if args.mode == "clinician" else "self_check"
    return story_first_report(read_cases(args.narratives, knowledge.vocabulary), knowledge, mode, args.json)


def story_first_report(cases: Iterable[Case], knowledge: Knowledge, mode: Mode, as_json: bool) -> int:
    """Print the story-first comparison of ``cases``; return the exit status.

    ``evaluate-text --narratives`` and ``evaluate --interview --from-narrative`` both print through here.
    """
    from pinchpoint.evaluation.narrative import compare_story_first  # noqa: PLC0415 (only this report needs it)

    data = compare_story_first(cases, knowledge, mode=mode).to_json()
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return 0
    lines = [f"{data['cases']} cases with a narrative, interviewed in {data['mode']} mode", ""]
    lines.append("| | questions | under-triage | over-triage | emergency sensitivity | triage exact |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name in ("plain", "story_first"):
        row = data[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {row['questions_total']} | {_pct(row['under_triage'])} "
            f"| {_pct(row['over_triage'])} | {_pct(row['emergency_sensitivity'])} "
            f"| {_pct(row['triage_exact'])} |"
        )
    lines += ["", f"questions saved by the story: {_pct(data['questions_saved'])}"]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _pct(value: float | None) -> str:
    return "  -  " if value is None else f"{value * 100:5.1f}%"


def summary_lines(data: Mapping[str, Any], *, misses: bool = False) -> list[str]:
    """Return the readable report of :func:`summary` data: a Markdown table per finding."""
    lines = [
        f"{data['descriptions']} descriptions ({data['clinician_notes']} clinician notes); "
        f"median {data['median_proposals']} proposals and {data['median_ms']} ms per description",
        "",
        "| finding | stated | found | proposed | recall | precision |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [("**overall**", data["overall"]), ("**red flags**", data["red_flags"])]
    rows += list(data["per_finding"].items())
    for name, row in rows:
        lines.append(
            f"| {name} | {row['stated']} | {row['found']} | {row['proposed']} "
            f"| {_pct(row['recall'])} | {_pct(row['precision'])} |"
        )
    lines.append("")
    unsafe = data["unsafe"]
    lines.append(f"safety failures: {len(unsafe)}" + "".join(f"\n  - {u}" for u in unsafe))
    if misses:
        for heading, key in (("missed", "missed"), ("extra", "extra")):
            lines.append(f"{heading}:")
            lines += [f"  {item}: {', '.join(found)}" for item, found in data[key].items()]
    counts = Counter(len(v) for v in data["missed"].values())
    if counts:
        lines.append(f"descriptions with misses: {sum(counts.values())}")
    return lines
