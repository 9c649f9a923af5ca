"""The population audit against the ground truth of a synthetic export.

Its figures equal the truth, its counts reconcile, bad input is counted with its reason, and
DuckDB and Spark agree row for row.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)  # py4j leaves sockets to the garbage collector

from pinchpoint.api.cds_hooks import handle_request  # noqa: E402
from pinchpoint.audit import run as audit_run  # noqa: E402
from pinchpoint.audit import source as audit_source  # noqa: E402
from pinchpoint.audit.definition import load_definition  # noqa: E402
from pinchpoint.audit.engines import queries  # noqa: E402
from pinchpoint.audit.engines import spark_session as start  # noqa: E402
from pinchpoint.audit.run import OUTPUT_TABLES, REPORT_ROWS, parameters, run_audit  # noqa: E402
from pinchpoint.audit.source import scan_source  # noqa: E402
from pinchpoint.audit.synth import SYNTH_AS_OF, iter_truth_refusals, synthesize  # noqa: E402
from pinchpoint.audit.verdicts import value_bands, verdict_of, verdicts_of  # noqa: E402
from pinchpoint.cli.main import main  # noqa: E402
from pinchpoint.errors import SchemaError  # noqa: E402
from pinchpoint.io.fhir.record import read_resources  # noqa: E402
from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: E402
from pinchpoint.service.orders import review_lumbar_order  # noqa: E402

PATIENTS = 3000
LIMIT = 2000  # bytes: the synthetic over-long line is longer


@pytest.fixture(scope="session")
def knowledge():
    return load_knowledge()


@pytest.fixture(scope="session")
def definition(knowledge):
    return load_definition(knowledge)


@pytest.fixture(scope="session")
def export(tmp_path_factory, definition):
    folder = tmp_path_factory.mktemp("export")
    truth = synthesize(folder, definition, patients=PATIENTS, seed=7)
    return folder, truth


@pytest.fixture(scope="session")
def duck(export, knowledge, tmp_path_factory):
    folder, _ = export
    out = tmp_path_factory.mktemp("duckdb-out")
    result = run_audit(folder, out, knowledge, as_of=SYNTH_AS_OF, max_line_bytes=LIMIT)
    return result, out


def _rows(result, name):
    return result.tables[name]


def test_counts_reconcile(duck, export):
    result, _ = duck
    _, truth = export
    assert result.reconciled, (result.lines_per_file, result.counted_per_file)
    got = sorted(
        [r["file"], r["status"], r["reason"], int(r["lines"])] for r in _rows(result, "reconciliation")
    )
    expected = sorted([f, s, r.replace("{limit}", str(LIMIT)), n] for f, s, r, n in truth["reconciliation"])
    assert got == expected


def test_every_refused_line_is_listed_with_its_reason(duck, export):
    _, out = duck
    _, truth = export
    rows = duckdb.sql(
        f"SELECT file, line_no, reason FROM '{out}/tables/refusals.parquet' ORDER BY ALL"
    ).fetchall()
    assert [tuple(r) for r in rows] == sorted(iter_truth_refusals(truth, LIMIT))


def test_measure_funnel_equals_truth(duck, export):
    result, _ = duck
    _, truth = export
    assert {r["step"]: int(r["episodes"]) for r in _rows(result, "funnel")} == truth["funnel"]


def test_rates_per_organisation_equal_truth(duck, export):
    result, _ = duck
    _, truth = export
    got = {
        r["value"]: [int(r["denominator"]), int(r["numerator"])]
        for r in _rows(result, "rates")
        if r["dimension"] == "organisation"
    }
    assert got == truth["organisations"]
    for row in _rows(result, "rates"):
        assert row["low"] <= row["rate"] <= row["high"]


def test_warning_sign_outcomes_equal_truth(duck, export):
    result, _ = duck
    _, truth = export
    got = sorted([r["warning"], r["outcome"], int(r["patients"])] for r in _rows(result, "warning_outcomes"))
    assert got == truth["warning_outcomes"]
    late = _rows(result, "late_warnings")
    missed = sum(n for _, outcome, n in truth["warning_outcomes"] if outcome in ("late", "missed: no MRI"))
    assert len(late) == min(missed, REPORT_ROWS)
    assert {r["outcome"] for r in late} <= {"late", "missed: no MRI"}


def test_every_order_has_a_verdict(duck, export):
    result, _ = duck
    _, truth = export
    assert sum(int(r["orders"]) for r in _rows(result, "agreement")) == truth["orders"]


def test_verdicts_equal_the_cds_order_card(duck, export, knowledge):
    """For every order, card_warns is what the order-sign hook answers on that date.

    The hook's prefetch is built from the export's own lines: the patient and every Condition
    recorded by the order date.
    """
    folder, _ = export
    _, out = duck
    orders = duckdb.sql(
        "SELECT order_id, patient_id, order_date, card_warns "
        f"FROM '{out}/tables/order_verdicts.parquet' ORDER BY 1"
    ).fetchall()
    patients = _by_id(folder / "Patient.ndjson")
    conditions: dict[str, list[dict]] = {}
    for resource in _by_id(folder / "Condition.ndjson").values():
        conditions.setdefault(resource["subject"]["reference"].split("/", 1)[1], []).append(resource)
    requests = _by_id(folder / "ServiceRequest.ndjson")
    assert orders
    for order_id, patient_id, order_date, card_warns in orders:
        on = dt.date.fromisoformat(str(order_date))
        seen = [
            c
            for c in conditions.get(patient_id, [])
            if dt.date.fromisoformat(c.get("recordedDate") or c["onsetDateTime"]) <= on
        ]
        body = {
            "hook": "order-sign",
            "hookInstance": f"audit-{order_id}",
            "context": {
                "userId": "Practitioner/pr-0",
                "patientId": patient_id,
                "draftOrders": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": requests[order_id]}],
                },
            },
            "prefetch": {
                "patient": patients[patient_id],
                "conditions": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": c} for c in seen],
                }
                if seen
                else None,
                "observations": None,
            },
        }
        cards = handle_request("pinchpoint-lumbar-imaging-sign", body, knowledge, today=on)["cards"]
        assert bool(cards) == card_warns, order_id


def _by_id(path: Path) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for line in path.read_text("utf-8").splitlines():
        try:
            resource = json.loads(line)
        except ValueError:
            continue
        if isinstance(resource, dict) and resource.get("resourceType") == path.stem and "id" in resource:
            found.setdefault(resource["id"], resource)
    return found


def test_outputs_are_written(duck):
    _, out = duck
    for name in OUTPUT_TABLES:
        assert (out / "tables" / f"{name}.csv").exists()
        assert (out / "tables" / f"{name}.parquet").exists()
    assert (out / "report.html").read_text("utf-8").count("<svg") >= 2
    report = json.loads((out / "measure-report.json").read_text("utf-8"))
    assert report["resourceType"] == "MeasureReport"
    assert json.loads((out / "summary.json").read_text("utf-8"))["reconciled"] is True


BAD_INPUTS = {
    "not JSON": ("Condition", "{not json", "not a JSON object (invalid or truncated JSON)"),
    "truncated": (
        "Condition",
        '{"resourceType":"Condition","id":"x","subj',
        "not a JSON object (invalid or truncated JSON)",
    ),
    "wrong type": (
        "Condition",
        '{"resourceType":"Patient","id":"q"}',
        "wrong resource type: Patient in a file of Condition",
    ),
    "missing patient": (
        "Condition",
        '{"resourceType":"Condition","id":"c9","subject":{"reference":"Patient/nobody"}}',
        "reference to a missing patient: Patient/nobody",
    ),
    "future date": (
        "Condition",
        '{"resourceType":"Condition","id":"c8","subject":{"reference":"Patient/a"},"recordedDate":"2099-01-01"}',
        "date in the future",
    ),
    "long line": (
        "Condition",
        '{"resourceType":"Condition","id":"big","note":"' + "x" * 5000 + '"}',
        "line too long",
    ),
    "empty line": ("Condition", "", "empty line"),
    "not UTF-8": ("Condition", '{"resourceType":"Condition","id":"c6","note":"caf\udce9"}', "not UTF-8 text"),
    "no id": ("Condition", '{"resourceType":"Condition"}', "no id"),
    "invalid date": (
        "Condition",
        '{"resourceType":"Condition","id":"c7","subject":{"reference":"Patient/a"},"recordedDate":"2024-13-45"}',
        "invalid date",
    ),
}


CODED_ELEMENTS = {
    "Condition": ("code", "index", '"recordedDate":"2024-05-01"'),
    "ServiceRequest": ("code", "imaging", '"status":"active","authoredOn":"2024-05-01"'),
    "ImagingStudy": ("procedureCode", "imaging", '"status":"available","started":"2024-05-01"'),
    "MedicationStatement": (
        "medicationCodeableConcept",
        "medication",
        '"status":"active","effectiveDateTime":"2024-05-01"',
    ),
    "MedicationRequest": (
        "medicationCodeableConcept",
        "medication",
        '"status":"active","authoredOn":"2024-05-01"',
    ),
}
"""Each audited resource type, the element holding its code (FHIR R4), a role its code may play, a date."""


@pytest.mark.parametrize("resource_type", sorted(CODED_ELEMENTS))
def test_each_audited_type_is_read_for_the_code_of_its_own_element(
    resource_type, definition, knowledge, tmp_path
):
    element, role, extra = CODED_ELEMENTS[resource_type]
    code = next(c for c in definition.codes if c.role == role)
    concept = f'{{"coding":[{{"system":"{code.system}","code":"{code.code}"}}]}}'
    if element == "procedureCode":
        concept = f"[{concept}]"
    line = (
        f'{{"resourceType":"{resource_type}","id":"r1","subject":{{"reference":"Patient/a"}},'
        f'"{element}":{concept},{extra}}}'
    )
    folder = _one_patient_export(tmp_path, resource_type, line)
    result = run_audit(folder, tmp_path / "out", knowledge, as_of=SYNTH_AS_OF, report=False)
    assert [
        (r["status"], r["reason"]) for r in result.tables["reconciliation"] if r["file"] != "Patient.ndjson"
    ] == [("used", "read by the audit")]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_counted_with_its_reason(case, knowledge, tmp_path):
    resource_type, line, reason = BAD_INPUTS[case]
    ok = f'{{"resourceType":"{resource_type}","id":"ok","subject":{{"reference":"Patient/a"}}}}'
    folder = _one_patient_export(tmp_path, resource_type, f"{line}\n{ok}")
    result = run_audit(
        folder, tmp_path / "out", knowledge, as_of=SYNTH_AS_OF, max_line_bytes=LIMIT, report=False
    )
    assert result.reconciled
    refused = [r for r in result.tables["reconciliation"] if r["status"] == "refused"]
    assert len(refused) == 1
    assert refused[0]["reason"].startswith(reason)
    assert refused[0]["file"] == f"{resource_type}.ndjson"


def _one_patient_export(tmp_path: Path, resource_type: str, text: str) -> Path:
    """An export of Patient ``a`` and a file of ``resource_type`` holding ``text``.

    A lone surrogate in ``text`` is written as the byte it stands for, which is not UTF-8.
    """
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a","birthDate":"1970-01-01"}\n')
    (folder / f"{resource_type}.ndjson").write_bytes(f"{text}\n".encode("utf-8", "surrogateescape"))
    return folder


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_a_line_longer_than_the_readers_buffer_is_read_and_an_empty_measure_is_reported(knowledge, tmp_path):
    """A 3 MB line under the limit is read like any other; a population with no episode gets its report."""
    note = "x" * 3_000_000
    line = f'{{"resourceType":"Condition","id":"c1","subject":{{"reference":"Patient/a"}},"note":"{note}"}}'
    folder = _one_patient_export(tmp_path, "Condition", line)
    result = run_audit(folder, tmp_path / "out", knowledge, as_of=SYNTH_AS_OF)
    assert result.reconciled
    assert [(r["file"], r["status"]) for r in result.tables["reconciliation"]] == [
        ("Condition.ndjson", "out of scope"),
        ("Patient.ndjson", "used"),
    ]
    assert "<svg" in (tmp_path / "out" / "report.html").read_text("utf-8")


def test_a_line_longer_than_a_block_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_source, "_BLOCK", 16)
    path = tmp_path / "Condition.ndjson"
    path.write_bytes(b'{"a":1}\n' + b"x" * 50 + b"\n" + b"y" * 7 + b"\n" + b"z" * 30)
    [scanned] = scan_source(path, tmp_path / "work", max_line_bytes=10)
    assert scanned.lines == 4
    assert [(r.line_no, r.size) for r in scanned.set_aside] == [(2, 50), (4, 30)]
    copy = scanned.read_path.read_bytes().split(b"\n")
    assert copy == [b'{"a":1}', b"", b"y" * 7, b""]


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(
        st.sampled_from(
            [b"a", b"bb", b"\n", b"\x01", b"ccc", b"\n\n", "é".encode(), "€".encode(), b"\xff", b"\xe2"]
        ),
        max_size=30,
    ).map(b"".join),
    limit=st.integers(0, 8),
    block=st.sampled_from([1, 2, 3, 5, 8, 64]),
)
def test_the_scan_finds_the_lines_a_plain_split_finds(data, limit, block, tmp_path_factory):
    """Whatever the block size (one that cuts a character too), the scan sets aside what a split finds."""
    folder = tmp_path_factory.mktemp("scan")
    path = folder / "Condition.ndjson"
    path.write_bytes(data)
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") or not data else data.split(b"\n")
    expected = [
        (number, len(line))
        for number, line in enumerate(lines, start=1)
        if len(line) > limit or b"\x01" in line or not _is_utf8(line)
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_source, "_BLOCK", block)
        [scanned] = scan_source(path, folder / "work", max_line_bytes=limit)
    assert scanned.lines == len(lines)
    assert [(r.line_no, r.size) for r in scanned.set_aside] == expected
    assert scanned.longest == min(max(map(len, lines), default=0), limit)
    if expected:
        dropped = {number for number, _ in expected}
        kept = [b"" if number in dropped else line for number, line in enumerate(data.split(b"\n"), start=1)]
        assert scanned.read_path.read_bytes() == b"\n".join(kept)


def test_the_sql_is_one_text_for_both_engines(definition):
    duck_names = [q.name for q in queries("duckdb", parameters(definition, SYNTH_AS_OF))]
    spark_names = [q.name for q in queries("spark", parameters(definition, SYNTH_AS_OF))]
    assert duck_names == spark_names
    assert all("@" not in q.sql for q in queries("spark", parameters(definition, SYNTH_AS_OF)))


@pytest.fixture(scope="module")
def spark_session():
    """One Spark session for the tests that need it; py4j's sockets are collected inside this module."""
    pytest.importorskip("pyspark")
    session = start("local[2]", shuffle_partitions=2, driver_memory="1g")
    yield session
    session.stop()
    gc.collect()


@pytest.fixture(scope="module")
def spark_out(export, knowledge, spark_session, tmp_path_factory):
    folder, _ = export
    out = tmp_path_factory.mktemp("spark-out")
    result = run_audit(
        folder,
        out,
        knowledge,
        engine_name="spark",
        as_of=SYNTH_AS_OF,
        max_line_bytes=LIMIT,
        engine_options={"session": spark_session},
    )
    return result, out


@pytest.mark.parametrize("table", sorted(OUTPUT_TABLES))
def test_duckdb_and_spark_agree_row_for_row(table, duck, spark_out):
    _, duck_folder = duck
    spark_result, spark_folder = spark_out
    assert spark_result.reconciled
    duck_rows = duckdb.sql(f"SELECT * FROM '{duck_folder}/tables/{table}.parquet' ORDER BY ALL").fetchall()
    spark_rows = duckdb.sql(
        f"SELECT * FROM '{spark_folder}/tables/{table}.parquet/*.parquet' ORDER BY ALL"
    ).fetchall()
    assert duck_rows, table if table not in ("agreement",) else None
    assert spark_rows == duck_rows


def test_the_readme_names_every_code_of_the_measure(definition):
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## Population audit", 1)[1]
    missing = sorted({c.code for c in definition.codes if c.role != "card" and c.code not in section})
    assert not missing


def test_a_source_the_definition_cites_must_exist(knowledge):
    text = (Path(__file__).parent.parent / "src/pinchpoint/audit/data/lbp_audit.yaml").read_text("utf-8")
    with pytest.raises(SchemaError, match="source"):
        load_definition(knowledge, text.replace("source: darouiche-2006", "source: no-such-paper"))
    with pytest.raises(SchemaError, match="terminology"):
        load_definition(
            knowledge, text.replace("conditions: [urinary_retention]", "conditions: [no_such_finding]", 1)
        )


def test_the_command_line_writes_an_export_and_audits_it(tmp_path, capsys):
    assert main(["synth", "--patients", "300", "--seed", "3", "--out", str(tmp_path / "export")]) == 0
    code = main(
        [
            "audit",
            str(tmp_path / "export"),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2025-01-01",
            "--max-line-bytes",
            str(LIMIT),
        ]
    )
    assert code == 0
    assert "counts reconcile" in capsys.readouterr().out
    truth = json.loads((tmp_path / "export" / "truth.json").read_text("utf-8"))
    assert json.loads((tmp_path / "out" / "summary.json").read_text("utf-8"))["funnel"] == truth["funnel"]


def test_a_missing_source_is_a_clear_error(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_engine_that_runs_out_of_memory_is_a_clear_error(export, tmp_path, capsys):
    folder, _ = export
    code = main(["audit", str(folder), "--out", str(tmp_path / "out"), "--memory-limit", "1KB"])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("pinchpoint: error: the duckdb engine stopped before the audit was complete")
    assert "Out of Memory" in error
    assert "--memory-limit" in error


# --- the review scales: each distinct question once, numbers in bands -------------------------------


def _card_codes(knowledge):
    """A few Condition codes the card reads: presentations, findings (current and ever), diagnoses."""
    terms = knowledge.tables["terminology"]
    url = {name: system.url for name, system in terms.systems.items()}
    rows = [
        *terms.presentations,
        *terms.conditions[:6],
        *terms.sites["cauda_equina"],
        *next(iter(terms.causes.values())),
    ]
    presentations = {(url[r.system], r.code) for r in terms.presentations}
    return [(url[r.system], r.code, (url[r.system], r.code) in presentations) for r in rows]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_number_of_a_band_gets_its_representatives_review(data):
    """The review of a signature with raw ages and days equals the review with their bands' representatives.

    Fails if a threshold of the knowledge is missing from value_bands (two numbers of one band
    reviewed differently).
    """
    knowledge = load_knowledge()
    bands = value_bands(knowledge)
    codes = _card_codes(knowledge)
    age = data.draw(st.integers(-3, 130), label="age")
    sex = data.draw(st.sampled_from(["female", "male", ""]), label="sex")
    chosen = data.draw(st.lists(st.sampled_from(codes), min_size=1, max_size=3, unique=True), label="codes")
    status = data.draw(st.sampled_from(["active", "resolved"]), label="status")
    days = [data.draw(st.integers(-3, 400), label="days") for _ in chosen]

    def represent(finding, value):
        return next(b.representative for b in bands if b.finding == finding and b.low <= value <= b.high)

    def signature(number):
        elements = [
            f"{system}|{code}|{status}||{number('duration_days', d) if presentation else ''}"
            for (system, code, presentation), d in zip(chosen, days, strict=True)
        ]
        return f"{number('age', age)}#{sex}#{';'.join(sorted(elements))}"

    raw, banded = signature(lambda _, v: v), signature(represent)
    one, other = verdict_of(raw, knowledge), verdict_of(banded, knowledge)
    assert (one.verdict, one.card_warns, one.plan_offers, one.reasons) == (
        other.verdict,
        other.card_warns,
        other.plan_offers,
        other.reasons,
    ), (raw, banded)


def test_bands_cover_every_number_once(knowledge):
    bands = value_bands(knowledge)
    for finding in {b.finding for b in bands}:
        mine = sorted((b for b in bands if b.finding == finding), key=lambda b: b.low)
        assert all(b.low <= b.representative <= b.high or b.low < 0 for b in mine)
        assert all(a.high + 1 == b.low for a, b in itertools.pairwise(mine)), finding
    ages = [b for b in bands if b.finding == "age"]
    assert len(ages) < 20  # the knowledge's age thresholds, not one band per year


def test_signatures_hold_only_band_representatives(export, knowledge, tmp_path, monkeypatch):
    """Every number of every signature the card reviews is the representative of its band.

    So the distinct signatures are bounded by the codes and the knowledge, not by the population.
    """
    folder, _ = export
    seen: list[str] = []

    def record(signatures, knowledge):
        seen.extend(signatures)
        return verdicts_of(signatures, knowledge)

    monkeypatch.setattr(audit_run, "verdicts_of", record)
    run_audit(folder, tmp_path, knowledge, as_of=SYNTH_AS_OF, max_line_bytes=LIMIT, report=False)
    representatives = {(b.finding, b.representative) for b in value_bands(knowledge)}
    orders = duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/tables/order_verdicts.parquet'").fetchall()[0][0]
    assert seen
    assert len(seen) < orders
    for signature in seen:
        age, _, conditions = signature.split("#", 2)
        assert ("age", int(age)) in representatives, signature
        for element in filter(None, conditions.split(";")):
            days = element.rsplit("|", 1)[1]
            assert not days or ("duration_days", int(days)) in representatives, signature


def _review_on(day, order_id, folder, knowledge, cache={}):  # noqa: B006 (a cache of the export's files)
    """The card's review of an order on ``day``: the patient and every Condition recorded by then."""
    if folder not in cache:
        conditions: dict[str, list[dict]] = {}
        for resource in _by_id(folder / "Condition.ndjson").values():
            conditions.setdefault(resource["subject"]["reference"].split("/", 1)[1], []).append(resource)
        cache[folder] = (
            _by_id(folder / "Patient.ndjson"),
            conditions,
            _by_id(folder / "ServiceRequest.ndjson"),
        )
    patients, conditions, requests = cache[folder]
    patient_id = requests[order_id]["subject"]["reference"].split("/", 1)[1]
    seen = [
        c
        for c in conditions.get(patient_id, [])
        if dt.date.fromisoformat(c.get("recordedDate") or c["onsetDateTime"]) <= day
    ]
    resources = [("Patient", patients[patient_id])] + [(f"Condition[{i}]", c) for i, c in enumerate(seen)]
    return review_lumbar_order(read_resources(resources, knowledge, today=day, origin="test"), knowledge)


def _expected_class(on_order, later):
    if on_order.decision.verdict == "indicated" or on_order.plan_offers_imaging:
        return "indicated"
    if not on_order.warns:
        return "undetermined"
    if later.decision.verdict == "indicated" or later.plan_offers_imaging:
        return "indicated later"
    return "not indicated"


def test_every_orders_verdict_is_the_cards_review_on_both_dates(duck, export, knowledge, definition):
    """The class of each order is the card's review of the export's own resources, on both dates.

    Read independently of the signatures: the patient and the Conditions recorded by the order
    date, then by the later date, each reviewed by service.orders as the CDS card reviews them.
    """
    folder, _ = export
    _, out = duck
    rows = duckdb.sql(
        "SELECT order_id, order_date, later_date, verdict_later, pinchpoint "
        f"FROM '{out}/tables/order_verdicts.parquet' ORDER BY 1"
    ).fetchall()
    assert {row[4] for row in rows} >= {"indicated", "not indicated", "indicated later", "undetermined"}
    for order_id, order_date, later_date, verdict_later, pinchpoint in rows:
        assert later_date == min(order_date + dt.timedelta(days=definition.later_days), SYNTH_AS_OF)
        on_order = _review_on(order_date, order_id, folder, knowledge)
        later = _review_on(later_date, order_id, folder, knowledge)
        assert pinchpoint == _expected_class(on_order, later), order_id
        assert verdict_later == later.decision.verdict, order_id


def _resource_line(resource):
    return json.dumps(resource, separators=(",", ":"))


def test_an_order_is_indicated_later_when_a_red_flag_is_recorded_after_it(knowledge, tmp_path):
    """A red flag recorded within 28 days after an order makes it "indicated later".

    Low back pain without red flags: imaging is not indicated on the order date. Urinary retention
    recorded 10 days later makes the order "indicated later"; recorded 40 days later (beyond the
    28 days looked at), or never, it stays "not indicated".
    """
    terms = knowledge.tables["terminology"]
    url = {name: system.url for name, system in terms.systems.items()}
    lbp = next(r for r in terms.presentations if r.presentation == "nonspecific_low_back_pain")
    retention = next(r for r in terms.conditions if r.finding == "urinary_retention")
    xray = next(r for r in terms.imaging_orders if r.region == "lumbar")
    folder = tmp_path / "in"
    folder.mkdir()
    order_day = dt.date(2024, 3, 1)
    patients, conditions, orders = [], [], []
    for name, flag_after in (("soon", 10), ("late", 40), ("never", None)):
        patients.append(
            {"resourceType": "Patient", "id": name, "gender": "female", "birthDate": "1980-05-05"}
        )
        conditions.append(
            {
                "resourceType": "Condition",
                "id": f"{name}-lbp",
                "subject": {"reference": f"Patient/{name}"},
                "code": {"coding": [{"system": url[lbp.system], "code": lbp.code}]},
                "recordedDate": (order_day - dt.timedelta(days=5)).isoformat(),
                "onsetDateTime": (order_day - dt.timedelta(days=7)).isoformat(),
            }
        )
        if flag_after is not None:
            conditions.append(
                {
                    "resourceType": "Condition",
                    "id": f"{name}-flag",
                    "subject": {"reference": f"Patient/{name}"},
                    "code": {"coding": [{"system": url[retention.system], "code": retention.code}]},
                    "recordedDate": (order_day + dt.timedelta(days=flag_after)).isoformat(),
                }
            )
        orders.append(
            {
                "resourceType": "ServiceRequest",
                "id": f"{name}-order",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{name}"},
                "code": {"coding": [{"system": url[xray.system], "code": xray.code}]},
                "authoredOn": order_day.isoformat(),
            }
        )
    for kind, resources in (("Patient", patients), ("Condition", conditions), ("ServiceRequest", orders)):
        (folder / f"{kind}.ndjson").write_text("".join(_resource_line(r) + "\n" for r in resources))
    result = run_audit(folder, tmp_path / "out", knowledge, as_of=dt.date(2025, 1, 1), report=False)
    assert result.reconciled
    got = dict(
        duckdb.sql(
            f"SELECT order_id, pinchpoint FROM '{tmp_path}/out/tables/order_verdicts.parquet'"
        ).fetchall()
    )
    assert got == {
        "soon-order": "indicated later",
        "late-order": "not indicated",
        "never-order": "not indicated",
    }
