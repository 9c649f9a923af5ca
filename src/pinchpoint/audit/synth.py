"""A synthetic FHIR Bulk Data export with its ground truth, for tests and benchmarks.

``synthesize`` writes one NDJSON file per resource type and ``truth.json``: every figure the
audit must report, known from how the data was made (not computed by the audit's logic). The
codes come from the audit definition (and through it from the knowledge's terminology table).

What it makes, per patient: an age and sex mix; for about a third of them an episode of low back
pain or sciatica (a second, later episode for some, and repeat diagnoses inside an episode);
exclusions inside and just outside their windows; lumbar imaging orders and studies inside and
outside the 28 days; warning signs (cauda equina, abscess, cord compression, cancer with new
neurology) with an MRI in time, late or never; resources the audit does not read. Noise: exact
duplicate lines, references to patients that do not exist, lines of the wrong resource type,
dates in the future, invalid JSON, an empty line, a truncated last line and one over-long line.
Patients with a warning sign have no episode, so that the two parts can be checked apart.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pinchpoint.audit.definition import AuditDefinition, CodeRow

__all__ = ["SYNTH_AS_OF", "synthesize"]

SYNTH_AS_OF = dt.date(2025, 1, 1)
_START = dt.date(2023, 1, 1)
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_TYPES = (
    "Patient",
    "Condition",
    "ServiceRequest",
    "ImagingStudy",
    "MedicationStatement",
    "Encounter",
    "Observation",
)
_OTHER_CODE = {"system": "http://hl7.org/fhir/sid/icd-10", "code": "J45.9", "display": "Asthma, unspecified"}
_WARNINGS_WITH_NEUROLOGY = "cancer_with_new_neurology"


@dataclass
class _Truth:
    lines: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    refusals: list[tuple[str, int, str]] = field(default_factory=list)
    funnel: Counter[str] = field(default_factory=Counter)
    organisations: dict[str, list[int]] = field(default_factory=dict)
    warnings: Counter[tuple[str, str]] = field(default_factory=Counter)
    orders: int = 0


class _Writer:
    def __init__(self, folder: Path, stack: ExitStack, truth: _Truth) -> None:
        self.files: dict[str, IO[str]] = {
            t: stack.enter_context((folder / f"{t}.ndjson").open("w", encoding="utf-8")) for t in _TYPES
        }
        self.line_no: Counter[str] = Counter()
        self.truth = truth
        self.first: dict[tuple[str, str], str] = {}

    def emit(self, file_type: str, text: str, status: str, reason: str, *, newline: bool = True) -> int:
        self.files[file_type].write(text + ("\n" if newline else ""))
        self.line_no[file_type] += 1
        name = f"{file_type}.ndjson"
        number = self.line_no[file_type]
        self.truth.lines[(name, status, reason)] += 1
        if status == "refused":
            self.truth.refusals.append((name, number, reason))
        return number

    def resource(
        self, resource: dict[str, Any], reason: str = "read by the audit", status: str = "used"
    ) -> str:
        kind = resource["resourceType"]
        text = json.dumps(resource, separators=(",", ":"))
        number = self.emit(kind, text, status, reason)
        self.first[(kind, resource["id"])] = f"{kind}.ndjson:{number}"
        return text


def synthesize(
    folder: Path, definition: AuditDefinition, *, patients: int, seed: int, long_line_bytes: int = 4096
) -> dict[str, Any]:
    """Write a synthetic export of ``patients`` patients into ``folder`` and return its ground truth.

    ``long_line_bytes`` is the length of the one over-long line (test with a smaller
    ``max_line_bytes`` than this). The truth is also written to ``folder/truth.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truth = _Truth()
    codes = _Codes(definition)
    organisations = [f"Organization/org-{i}" for i in range(max(3, patients // 1500))]
    practitioners = [
        (f"Practitioner/pr-{i}", organisations[i % len(organisations)])
        for i in range(max(6, patients // 150))
    ]
    with ExitStack() as stack:
        out = _Writer(folder, stack, truth)
        for index in range(patients):
            _patient(out, rng, codes, definition, pid=f"p{index}", practitioners=practitioners)
        _noise(out, rng, codes, long_line_bytes)
    result = {
        "as_of": SYNTH_AS_OF.isoformat(),
        "patients": patients,
        "seed": seed,
        "reconciliation": sorted([f, s, r, n] for (f, s, r), n in truth.lines.items()),
        "refusals": sorted(list(r) for r in truth.refusals),
        "funnel": dict(sorted(truth.funnel.items())),
        "organisations": dict(sorted(truth.organisations.items())),
        "warning_outcomes": sorted([w, o, n] for (w, o), n in truth.warnings.items()),
        "orders": truth.orders,
    }
    (folder / "truth.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    return result


class _Codes:
    def __init__(self, definition: AuditDefinition) -> None:
        self.definition = definition
        self.index = {key: self._of("index", key) for key in ("nonspecific_low_back_pain", "sciatica")}
        self.exclusions = {e.id: e for e in definition.exclusions}
        self.lumbar = definition.codes_of("imaging")
        self.mri = [c for c in definition.codes_of("mri") if c not in self.lumbar or c.key == "mri"]

    def _of(self, role: str, key: str) -> list[CodeRow]:
        return [c for c in self.definition.codes if c.role == role and c.key == key]

    def of(self, role: str, key: str) -> list[CodeRow]:
        return self._of(role, key)


def _concept(code: CodeRow) -> dict[str, Any]:
    return {"coding": [{"system": code.system, "code": code.code, "display": code.display}]}


def _day(day: dt.date) -> str:
    return day.isoformat()


def _condition(
    cid: str, patient: str, code: CodeRow | dict[str, Any], day: dt.date, **extra: Any
) -> dict[str, Any]:
    concept = _concept(code) if isinstance(code, CodeRow) else {"coding": [code]}
    resource = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
        "code": concept,
        "subject": {"reference": f"Patient/{patient}"},
        "recordedDate": _day(day),
    }
    resource.update(extra)
    return resource


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _patient(
    out: _Writer,
    rng: random.Random,
    codes: _Codes,
    definition: AuditDefinition,
    *,
    pid: str,
    practitioners: list[tuple[str, str]],
) -> None:
    practitioner, organisation = rng.choice(practitioners)
    age_now = rng.choice([rng.randint(5, 17)] + [rng.randint(18, 64)] * 7 + [rng.randint(65, 95)] * 2)
    birth = SYNTH_AS_OF - dt.timedelta(days=365 * age_now + rng.randint(0, 364))
    out.resource(
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": rng.choice(["female", "male"]),
            "birthDate": _day(birth),
            "managingOrganization": {"reference": organisation},
            "generalPractitioner": [{"reference": practitioner}],
        },
        "patient",
    )
    roll = rng.random()
    if roll < 0.012:
        _warning_sign(out, rng, codes, definition, pid)
    elif roll < 0.36:
        first = _START + dt.timedelta(days=rng.randint(0, 700))
        episodes = [
            _episode(
                out,
                rng,
                codes,
                definition,
                pid=pid,
                index=first,
                birth=birth,
                practitioner=practitioner,
                number=0,
            )
        ]
        if rng.random() < 0.1:
            repeat = first + dt.timedelta(days=rng.randint(30, 150))
            if repeat < SYNTH_AS_OF:
                out.resource(
                    _condition(
                        f"{pid}-rep", pid, rng.choice(codes.index["nonspecific_low_back_pain"]), repeat
                    )
                )
        if rng.random() < 0.08:
            second = first + dt.timedelta(days=rng.randint(400, 600))
            if second < SYNTH_AS_OF:
                episodes.append(
                    _episode(
                        out,
                        rng,
                        codes,
                        definition,
                        pid=pid,
                        index=second,
                        birth=birth,
                        practitioner=practitioner,
                        number=1,
                    )
                )
        records = [record for episode in episodes for record in episode.exclusions]
        for episode in episodes:
            _count(out.truth, definition, episode, records, organisation)
    if rng.random() < 0.05:
        out.resource(
            _condition(f"{pid}-other", pid, _OTHER_CODE, _START + dt.timedelta(days=rng.randint(0, 700))),
            "no code of the audit",
            "out of scope",
        )
    if rng.random() < 0.1:
        out.resource(
            {
                "resourceType": "Observation",
                "id": f"{pid}-obs",
                "status": "final",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                "effectiveDateTime": "2024-02-02",
                "valueQuantity": {"value": 36.8, "unit": "Cel"},
            },
            "resource type not audited",
            "out of scope",
        )


def _episode(
    out: _Writer,
    rng: random.Random,
    codes: _Codes,
    definition: AuditDefinition,
    *,
    pid: str,
    index: dt.date,
    birth: dt.date,
    practitioner: str,
    number: int,
) -> _Episode:
    presentation = "nonspecific_low_back_pain" if rng.random() < 0.7 else "sciatica"
    onset = index - dt.timedelta(days=rng.randint(0, 20) if rng.random() < 0.8 else rng.randint(43, 90))
    episode = f"{pid}-e{number}"
    out.resource(
        _condition(
            episode,
            pid,
            rng.choice(codes.index[presentation]),
            index,
            onsetDateTime=_day(onset),
            asserter={"reference": practitioner},
        )
    )
    out.resource(
        {
            "resourceType": "Encounter",
            "id": f"{episode}-enc",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"},
            "period": {"start": _day(index)},
        },
        "resource type not audited",
        "out of scope",
    )
    age = _age(birth, index)
    exclusions = _exclusions(out, rng, codes, pid=pid, episode=episode, index=index)
    imaged = _imaging(
        out,
        rng,
        codes,
        pid=pid,
        episode=episode,
        index=index,
        practitioner=practitioner,
        window=definition.imaging_window_days,
    )
    return _Episode(index, age, imaged, exclusions)


@dataclass(frozen=True)
class _Episode:
    index: dt.date
    age: int
    imaged: bool
    exclusions: list[tuple[str, dt.date, dt.date | None]]


def _count(
    truth: _Truth,
    definition: AuditDefinition,
    episode: _Episode,
    records: list[tuple[str, dt.date, dt.date | None]],
    organisation: str,
) -> None:
    """Add one episode to the truth, looking for exclusions among all the patient's records."""
    windows = {e.id: e for e in definition.exclusions}
    found = set()
    for key, day, end in records:
        exclusion = windows[key]
        offset = (day - episode.index).days
        if not -(exclusion.before if exclusion.before is not None else 10**6) <= offset <= exclusion.after:
            continue
        if (
            exclusion.medication_min_days is not None
            and ((end or SYNTH_AS_OF) - day).days < exclusion.medication_min_days
        ):
            continue
        found.add(key)
    eligible = definition.min_age <= episode.age <= definition.max_age
    complete = (SYNTH_AS_OF - episode.index).days >= definition.imaging_window_days
    denominator = eligible and complete and not found
    truth.funnel["episodes"] += 1
    truth.funnel["age in range"] += eligible
    truth.funnel["window complete"] += eligible and complete
    truth.funnel["not excluded (denominator)"] += denominator
    truth.funnel["imaged within the window (numerator)"] += denominator and episode.imaged
    if eligible and complete:
        for key in found:
            truth.funnel[f"excluded: {key}"] += 1
    if denominator:
        counts = truth.organisations.setdefault(organisation, [0, 0])
        counts[0] += 1
        counts[1] += episode.imaged


def _exclusions(
    out: _Writer, rng: random.Random, codes: _Codes, *, pid: str, episode: str, index: dt.date
) -> list[tuple[str, dt.date, dt.date | None]]:
    # At most one exclusion per episode, and none whose codes are all warning signs (those are
    # checked on patients of their own), so that every figure of the truth stays known.
    warning = {(c.system, c.code) for c in codes.definition.codes if c.role in ("warning", "neurology")}
    choices = [
        e
        for e in codes.definition.exclusions
        if any((c.system, c.code) not in warning for c in _codes_of(codes, e.id, e.medication_min_days))
    ]
    found: list[tuple[str, dt.date, dt.date | None]] = []
    for exclusion in [rng.choice(choices)] if rng.random() < 0.15 else []:
        inside = rng.random() < 0.75
        before = exclusion.before if exclusion.before is not None else 3000
        if inside:
            offset = (
                -rng.randint(0, min(before, 1000)) if rng.random() < 0.7 else rng.randint(0, exclusion.after)
            )
        elif exclusion.before is None and exclusion.after >= 28:
            offset = exclusion.after + rng.randint(5, 60)
        elif exclusion.before is None:
            offset = exclusion.after + rng.randint(1, 60)
        else:
            offset = -(before + rng.randint(5, 60))
        day = index + dt.timedelta(days=offset)
        if exclusion.medication_min_days is not None:
            if inside:
                day = index - dt.timedelta(days=rng.randint(0, min(before, 300)))
            long_enough = inside or rng.random() < 0.5
            length = (
                exclusion.medication_min_days + rng.randint(0, 60)
                if long_enough
                else rng.randint(5, exclusion.medication_min_days - 1)
            )
            if not inside and long_enough:
                day = index - dt.timedelta(days=before + rng.randint(5, 60))
            end = min(day + dt.timedelta(days=length), SYNTH_AS_OF)
            code = rng.choice(codes.of("medication", exclusion.id))
            out.resource(
                {
                    "resourceType": "MedicationStatement",
                    "id": f"{episode}-x-{exclusion.id.replace('_', '-')}",
                    "status": "completed",
                    "medicationCodeableConcept": _concept(code),
                    "subject": {"reference": f"Patient/{pid}"},
                    "effectivePeriod": {"start": _day(day), "end": _day(end)},
                }
            )
            found.append((exclusion.id, day, end))
        else:
            if day >= SYNTH_AS_OF:
                continue
            code = rng.choice(
                [c for c in codes.of("exclusion", exclusion.id) if (c.system, c.code) not in warning]
            )
            out.resource(_condition(f"{episode}-x-{exclusion.id.replace('_', '-')}", pid, code, day))
            found.append((exclusion.id, day, None))
    return found


def _codes_of(codes: _Codes, key: str, medication: int | None) -> list[CodeRow]:
    return codes.of("medication" if medication is not None else "exclusion", key)


def _imaging(
    out: _Writer,
    rng: random.Random,
    codes: _Codes,
    *,
    pid: str,
    episode: str,
    index: dt.date,
    practitioner: str,
    window: int,
) -> bool:
    roll = rng.random()
    if roll < 0.22:
        delay = rng.randint(0, window)
    elif roll < 0.30:
        delay = rng.randint(window + 1, window + 60)
    else:
        return False
    day = index + dt.timedelta(days=delay)
    if day >= SYNTH_AS_OF:
        return False
    code = rng.choice(codes.lumbar)
    out.resource(
        {
            "resourceType": "ServiceRequest",
            "id": f"{episode}-order",
            "status": "completed",
            "intent": "order",
            "code": _concept(code),
            "subject": {"reference": f"Patient/{pid}"},
            "authoredOn": _day(day),
            "requester": {"reference": practitioner},
        }
    )
    out.truth.orders += 1
    if rng.random() < 0.1:
        return False
    study = day + dt.timedelta(days=rng.randint(0, 3))
    if study >= SYNTH_AS_OF:
        return False
    out.resource(
        {
            "resourceType": "ImagingStudy",
            "id": f"{episode}-study",
            "status": "available",
            "subject": {"reference": f"Patient/{pid}"},
            "started": _day(study),
            "procedureCode": [_concept(code)],
        }
    )
    return (study - index).days <= window


def _warning_sign(
    out: _Writer, rng: random.Random, codes: _Codes, definition: AuditDefinition, pid: str
) -> None:
    sign = rng.choice(definition.warning_signs)
    first = _START + dt.timedelta(days=rng.randint(0, 700))
    code = rng.choice(codes.of("warning", sign.id))
    if sign.id == _WARNINGS_WITH_NEUROLOGY and sign.neurology_within_days is not None:
        cancer_day = first - dt.timedelta(days=rng.randint(0, sign.neurology_within_days))
        out.resource(_condition(f"{pid}-w", pid, code, cancer_day))
        out.resource(_condition(f"{pid}-wn", pid, rng.choice(codes.of("neurology", sign.id)), first))
    else:
        out.resource(_condition(f"{pid}-w", pid, code, first))
    roll = rng.random()
    if roll < 0.6:
        delay: int | None = rng.randint(0, sign.max_days)
    elif roll < 0.85:
        delay = rng.randint(sign.max_days + 1, 30)
    else:
        delay = None
    if delay is not None:
        day = first + dt.timedelta(days=delay)
        if day < SYNTH_AS_OF:
            mri = rng.choice(codes.mri)
            out.resource(
                {
                    "resourceType": "ImagingStudy",
                    "id": f"{pid}-mri",
                    "status": "available",
                    "subject": {"reference": f"Patient/{pid}"},
                    "started": _day(day),
                    "procedureCode": [_concept(mri)],
                }
            )
        else:
            delay = None
    if delay is None:
        outcome = "not yet due" if (SYNTH_AS_OF - first).days <= sign.max_days else "missed: no MRI"
    else:
        outcome = "in time" if delay <= sign.max_days else "late"
    out.truth.warnings[(sign.id, outcome)] += 1


def _noise(out: _Writer, rng: random.Random, codes: _Codes, long_line_bytes: int) -> None:
    lbp = codes.index["nonspecific_low_back_pain"][0]
    count = max(3, out.line_no["Condition"] // 200)
    duplicates = rng.sample(sorted(k for k in out.first if k[0] == "Condition"), min(count, len(out.first)))
    for key in duplicates:
        # an exact copy, re-read from nothing: rebuild the same JSON from the original line is not kept,
        # so copy a fresh resource with the same type and id (a second version, as exports sometimes hold)
        text = json.dumps(_condition(key[1], "p0", lbp, _START), separators=(",", ":"))
        out.emit("Condition", text, "refused", f"duplicate of {out.first[key]}")
    for number in range(count):
        text = json.dumps(
            _condition(f"ghost-c{number}", f"ghost-{number}", lbp, _START), separators=(",", ":")
        )
        out.emit("Condition", text, "refused", f"reference to a missing patient: Patient/ghost-{number}")
    for number in range(count):
        future = SYNTH_AS_OF + dt.timedelta(days=rng.randint(1, 2000))
        text = json.dumps(_condition(f"future-{number}", "p0", lbp, future), separators=(",", ":"))
        out.emit("Condition", text, "refused", "date in the future")
    text = json.dumps(
        {"resourceType": "Observation", "id": "misfiled", "status": "final"}, separators=(",", ":")
    )
    out.emit("Condition", text, "refused", "wrong resource type: Observation in a file of Condition")
    out.emit("ServiceRequest", "this is not JSON", "refused", "not a JSON object (invalid or truncated JSON)")
    out.emit("ServiceRequest", "[1, 2, 3]", "refused", "not a JSON object (invalid or truncated JSON)")
    out.emit("ImagingStudy", "", "refused", "empty line")
    long_text = json.dumps(
        {"resourceType": "Observation", "id": "huge", "note": [{"text": "x" * long_line_bytes}]}
    )
    out.emit(
        "Observation", long_text, "refused", f"line too long ({len(long_text)} bytes; the limit is {{limit}})"
    )
    text = json.dumps(_condition("truncated", "p0", lbp, _START), separators=(",", ":"))
    out.emit(
        "Condition",
        text[: len(text) // 2],
        "refused",
        "not a JSON object (invalid or truncated JSON)",
        newline=False,
    )


def iter_truth_refusals(truth: dict[str, Any], limit: int) -> Iterator[tuple[str, int, str]]:
    """The truth's refusals with the configured line limit filled in."""
    for file, line, reason in truth["refusals"]:
        yield file, line, reason.replace("{limit}", str(limit))
