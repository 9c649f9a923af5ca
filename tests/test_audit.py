"""The population audit against the ground truth of a synthetic export.

Its figures equal the truth, its counts reconcile, bad input is counted with its reason, and
DuckDB and Spark agree row for row.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)  # py4j leaves sockets to the garbage collector

from pinchpoint.api.cds_hooks import handle_request  # noqa: E402
from pinchpoint.audit.definition import load_definition  # noqa: E402
from pinchpoint.audit.engines import queries  # noqa: E402
from pinchpoint.audit.engines import spark_session as start  # noqa: E402
from pinchpoint.audit.run import OUTPUT_TABLES, parameters, run_audit  # noqa: E402
from pinchpoint.audit.source import scan_source  # noqa: E402
from pinchpoint.audit.synth import SYNTH_AS_OF, iter_truth_refusals, synthesize  # noqa: E402
from pinchpoint.cli.main import main  # noqa: E402
from pinchpoint.errors import SchemaError  # noqa: E402
from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: E402

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
    counts: dict[tuple[str, str], int] = {}
    for row in _rows(result, "warning_signs"):
        key = (row["warning"], row["outcome"])
        counts[key] = counts.get(key, 0) + 1
    assert sorted([w, o, n] for (w, o), n in counts.items()) == truth["warning_outcomes"]


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
    "no id": ("Condition", '{"resourceType":"Condition"}', "no id"),
    "invalid date": (
        "Condition",
        '{"resourceType":"Condition","id":"c7","subject":{"reference":"Patient/a"},"recordedDate":"2024-13-45"}',
        "invalid date",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_counted_with_its_reason(case, knowledge, tmp_path):
    resource_type, line, reason = BAD_INPUTS[case]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a","birthDate":"1970-01-01"}\n')
    (folder / f"{resource_type}.ndjson").write_text(
        f'{line}\n{{"resourceType":"{resource_type}","id":"ok","subject":{{"reference":"Patient/a"}}}}'
    )
    result = run_audit(
        folder, tmp_path / "out", knowledge, as_of=SYNTH_AS_OF, max_line_bytes=LIMIT, report=False
    )
    assert result.reconciled
    refused = [r for r in result.tables["reconciliation"] if r["status"] == "refused"]
    assert len(refused) == 1
    assert refused[0]["reason"].startswith(reason)
    assert refused[0]["file"] == f"{resource_type}.ndjson"


def test_a_line_longer_than_a_block_is_found(tmp_path):
    path = tmp_path / "Condition.ndjson"
    path.write_bytes(b'{"a":1}\n' + b"x" * 50 + b"\n" + b"y" * 7 + b"\n" + b"z" * 30)
    [scanned] = scan_source(path, tmp_path / "work", max_line_bytes=10)
    assert scanned.lines == 4
    assert [(r.line_no, r.size) for r in scanned.set_aside] == [(2, 50), (4, 30)]
    copy = scanned.read_path.read_bytes().split(b"\n")
    assert copy == [b'{"a":1}', b"", b"y" * 7, b""]


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
