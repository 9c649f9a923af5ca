"""Hostile inputs found by the session-10 sweep of every entry point but the population audit.

Each row is one input that once ended in a crash or a misleading message; each is now refused
with exit 2 (or its 4xx) and a message naming what was wrong and what was expected. The rows that
can kill the interpreter (a C stack overflow is a segmentation fault, no exception) run the
command in a child process, so that a failure is reported as a failure, not as a dead test run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from pinchpoint.cli.main import main
from pinchpoint.errors import InvalidCaseError, SchemaError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.io.readers import load_yaml
from pinchpoint.service.sessions import InterviewService, Session
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app

pytestmark = pytest.mark.core

_LEVELS = 100_000
"""Far deeper than the readers allow, and deep enough that libyaml's recursive composer overflows."""

# (name, text): YAML nesting 100,000 levels deep, each under the case reader's 1 MiB limit.
_DEEP_YAML = [
    ("flow-sequences", "[" * _LEVELS + "]" * _LEVELS),
    ("flow-mappings", "a: " + "{a: " * _LEVELS + "1" + "}" * _LEVELS),
    ("block-sequences", "- " * _LEVELS + "x\n"),
    # The fast reader steps aside at the anchor, before the depth: the full loader must not compose.
    ("anchor-then-deep", "a: &x 1\nb: " + "[" * _LEVELS + "]" * _LEVELS + "\n"),
    ("unclosed", "findings: " + "[" * _LEVELS),
]


@pytest.mark.parametrize(("name", "text"), _DEEP_YAML, ids=[row[0] for row in _DEEP_YAML])
def test_deep_yaml_is_refused_without_killing_the_process(tmp_path: Path, name: str, text: str) -> None:
    """`assess` of YAML nested 100,000 deep exits 2 naming the depth (before: a segmentation fault)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PINCHPOINT_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "pinchpoint", "assess", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert done.stderr.startswith(f"pinchpoint: error: {path}"), done.stderr[-500:]
    assert "Traceback" not in done.stderr
    assert "nests too deeply" in done.stderr or "not valid YAML" in done.stderr, done.stderr[-500:]


@pytest.mark.parametrize("error", [InvalidCaseError, SchemaError])
def test_deep_yaml_names_the_line_and_the_limit(error: type[InvalidCaseError | SchemaError]) -> None:
    """Every reader of YAML (case files, knowledge files, corpora) refuses it with its own error class."""
    text = "a: 1\nb: &x 2\nc: " + "[" * 200 + "]" * 200 + "\n"
    with pytest.raises(error, match=r"the YAML nests too deeply; expected at most 64 levels") as caught:
        load_yaml(text, origin="deep.yaml", error=error, expected="YAML")
    assert caught.value.location == "deep.yaml: line 3, column 67"  # the 65th level, the mapping counted


# --- `pinchpoint users log --limit`: a number the database cannot take is the user's error ---------


@pytest.mark.parametrize("limit", ["0", "-1", str(2**53), str(2**63), "9" * 30])
def test_users_log_limit_out_of_range_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    """A --limit beyond what SQLite's integer holds was reported as a broken database; now as --limit."""
    database = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert main(["users", "log", "--limit", limit, "--database", database]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pinchpoint: error: --limit: the limit is out of range; expected 1 to"), error
    assert "database" not in error


@pytest.mark.parametrize("record", ["a\x00b", "\x1b[2J", "line\nbreak"])
def test_users_log_record_with_a_control_character_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], record: str
) -> None:
    """PostgreSQL refuses NUL in text: `--record` with one was reported as a database failure."""
    database = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert main(["users", "log", "--record", record, "--database", database]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pinchpoint: error: --record: the record id holds a character no record id has")


def test_users_log_takes_the_largest_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert main(["users", "log", "--limit", str(2**53 - 1), "--database", database]) == 0
    assert capsys.readouterr().err == ""


# --- concurrent steps of one interview: none is lost ----------------------------------------------

_ORIGIN = "http://127.0.0.1:8000"
_JSON = {"content-type": "application/json", "origin": _ORIGIN}
_FORM = {"content-type": "application/x-www-form-urlencoded", "origin": _ORIGIN}
_AT_ONCE = 6


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The web app on a SQLite file, each session load pausing so that concurrent steps overlap.

    Without the pause the race is a matter of luck; with it every step loads before any saves,
    unless the steps of one session wait for each other.
    """
    real_load: Callable[[InterviewService, str], Session] = InterviewService.load

    def slow_load(service: InterviewService, session_id: str) -> Session:
        session = real_load(service, session_id)
        time.sleep(0.05)
        return session

    monkeypatch.setattr(InterviewService, "load", slow_load)
    store = Store.open(f"sqlite:///{tmp_path / 'pinchpoint.sqlite3'}")
    app = create_app(Settings(), knowledge=load_knowledge(), store=store)
    with TestClient(app, base_url=_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client
    store.close()


def _at_once(requests: list[Callable[[], Any]]) -> list[int]:
    """Send the requests from threads at the same moment; return their statuses, in request order."""
    statuses: dict[int, int] = {}
    start = threading.Barrier(len(requests))

    def send(number: int, request: Callable[[], Any]) -> None:
        start.wait()
        statuses[number] = request().status_code

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return [statuses.get(number, 0) for number in range(len(requests))]


# (what is sent at once: answers to one question, or answers and backs mixed)
_API_RACES = {
    "answers": [("answers", {"question": "age", "value": 20 + n}) for n in range(_AT_ONCE)],
    "answers-and-backs": [("answers", {"question": "age", "value": 40}), ("back", None)] * (_AT_ONCE // 2),
}


@pytest.mark.parametrize("race", list(_API_RACES))
def test_concurrent_api_steps_lose_no_answer(client: TestClient, race: str) -> None:
    """Steps sent at once to one session are applied one after another, each seeing the one before.

    Each is taken (200) or refused as a conflict (409); the session then holds the answers taken less
    those taken back. Before, every answer was told 200 and the last save kept one of them.
    """
    started = client.post("/api/v1/interviews", headers=_JSON, json={"mode": "self_check"})
    session = f"/api/v1/interviews/{started.json()['id']}"
    steps = _API_RACES[race]
    sends = [
        (lambda step=step, body=body: client.post(f"{session}/{step}", headers=_JSON, json=body))
        for step, body in steps
    ]
    statuses = _at_once(sends)
    assert set(statuses) <= {200, 409}, statuses
    taken = [step for (step, _), status in zip(steps, statuses, strict=True) if status == 200]
    assert client.get(session).json()["answers"] == taken.count("answers") - taken.count("back"), statuses
    if race == "answers":
        assert taken == ["answers"], statuses


def test_concurrent_web_answers_lose_no_answer(client: TestClient) -> None:
    """The web pages' answers to one question at once: one is taken, the others are 409 pages."""
    started = client.post(
        "/check/interviews",
        content=urlencode([("mode", "self_check")]),
        headers=_FORM,
        follow_redirects=False,
    )
    session = started.headers["location"]
    sends = [
        (
            lambda age=age: client.post(
                f"{session}/answer",
                content=urlencode([("question", "age"), ("age", str(age))]),
                headers=_FORM,
                follow_redirects=False,
            )
        )
        for age in range(30, 30 + _AT_ONCE)
    ]
    statuses = sorted(_at_once(sends))
    assert statuses == [303] + [409] * (_AT_ONCE - 1), statuses
    answers = client.get(session.replace("/check/interviews/", "/api/v1/interviews/")).json()["answers"]
    assert answers == 1


# --- a Bundle is one patient's record: another patient's resource is refused, not read --------------

_SNOMED, _LOINC = "http://snomed.info/sct", "http://loinc.org"


def _patient(patient_id: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1975-03-02"}


def _retention(subject: str) -> dict[str, Any]:
    """An active Condition of urinary retention (a red flag) of ``subject``."""
    return {"resourceType": "Condition", "id": "c1", "subject": {"reference": subject},
            "code": {"coding": [{"system": _SNOMED, "code": "267064002"}]},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]}}  # fmt: skip


def _fever(subject: str) -> dict[str, Any]:
    quantity = {"value": 38.5, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}
    code = {"coding": [{"system": _LOINC, "code": "8310-5"}]}
    return {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": subject},
            "code": code, "valueQuantity": quantity}  # fmt: skip


def _record(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


# (name, Bundle, where the second patient is named, that patient); each is refused. Before: read as one.
_SUBJECT = "$.entry[1].resource.subject.reference"
_MIXED = [
    ("observation-of-another", _record(_patient("p1"), _fever("Patient/p2")), _SUBJECT, "Patient/p2"),
    ("condition-of-another", _record(_retention("Patient/p2"), _patient("p1")), "$.entry[1].resource.id",
     "Patient/p1"),
    ("absolute-reference", _record(_patient("p1"), _fever("https://ehr.example/fhir/Patient/p2")), _SUBJECT,
     "Patient/p2"),
    ("no-patient-two-subjects", _record(_retention("Patient/a"), _fever("Patient/b")), _SUBJECT, "Patient/b"),
]  # fmt: skip
# (name, Bundle): one patient's record, written in the ways a record may name its patient; each is read.
_ONE_PATIENT = [
    ("relative", _record(_patient("p1"), _fever("Patient/p1"), _retention("Patient/p1"))),
    ("absolute-with-history", _record(_patient("p1"), _fever("https://ehr.example/fhir/Patient/p1/_history/2"))),
    ("urn-uuid", _record(_patient("p1"), _fever("urn:uuid:0f9d7a4e-1c1b-4f0e-9d59-1b7e0d1c2b3a"))),
    ("no-patient", _record(_fever("Patient/p9"), _retention("Patient/p9"))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "bundle", "where", "named"), _MIXED, ids=[row[0] for row in _MIXED])
def test_bundle_of_two_patients_is_refused(  # noqa: PLR0917 (one table row)
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    bundle: dict[str, Any],
    where: str,
    named: str,
) -> None:
    """`assess` of a Bundle mixing patients exits 2 naming the entry (before: the other's facts were used)."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["assess", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"pinchpoint: error: {path}: {where}: the record holds the"
        " resources of more than one patient; expected the resources of one patient"
    ), captured.err
    assert f"(got '{named}')" in captured.err


@pytest.mark.parametrize(("name", "bundle"), _ONE_PATIENT, ids=[row[0] for row in _ONE_PATIENT])
def test_bundle_of_one_patient_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, bundle: dict[str, Any]
) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["assess", str(path), "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["case"] == name


@pytest.mark.parametrize("route", ["/api/v1/fhir/assess", "/api/v1/fhir/plan"])
def test_api_refuses_a_bundle_of_two_patients(client: TestClient, route: str) -> None:
    response = client.post(route, headers=_JSON, json=_MIXED[0][1])
    assert response.status_code == 422, response.text[:300]
    assert "the record holds the resources of more than one patient" in response.json()["detail"]


def _cds_request(**prefetch: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/example", "patientId": "p1"},
            "prefetch": {"patient": None, "conditions": None, "observations": None, **prefetch}}  # fmt: skip


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


# (name, prefetch, where the other patient is named); each is refused. Before: cards from its facts.
_CDS_MIXED = [
    ("condition-of-another", {"conditions": _searchset(_retention("Patient/p2"))},
     "$.prefetch.conditions.entry[0].resource.subject.reference"),
    ("observation-of-another", {"patient": _patient("p1"), "observations": _searchset(_fever("Patient/p2"))},
     "$.prefetch.observations.entry[0].resource.subject.reference"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "prefetch", "where"), _CDS_MIXED, ids=[row[0] for row in _CDS_MIXED])
def test_cds_prefetch_of_another_patient_is_refused(
    client: TestClient, name: str, prefetch: dict[str, Any], where: str
) -> None:
    """A prefetched resource of another patient than the context's is a 4xx naming it, never a card."""
    response = client.post("/cds-services/pinchpoint-triage", headers=_JSON, json=_cds_request(**prefetch))
    assert 400 <= response.status_code < 500, response.text[:300]
    assert f"request: {where}: the record holds the resources of more than one patient" in response.text
    assert "Patient/p1, as $.context.patientId says" in response.text


def test_cds_prefetch_of_the_context_patient_is_read(client: TestClient) -> None:
    prefetch = {"patient": _patient("p1"), "conditions": _searchset(_retention("Patient/p1"))}
    response = client.post("/cds-services/pinchpoint-triage", headers=_JSON, json=_cds_request(**prefetch))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["cards"]


# --- `pinchpoint serve`: files that cannot serve are refused before serving, not mid-start ----------

_PEM_KEY, _PEM_CERT = "key.pem", "cert.pem"


def _pem_pair(folder: Path, stem: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = folder / f"{stem}-{_PEM_CERT}", folder / f"{stem}-{_PEM_KEY}"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _serve_argument(tmp_path: Path, kind: str) -> list[str]:
    """The options of one bad `serve` row."""
    if kind.startswith("tls-"):
        cert, key = _pem_pair(tmp_path, "a")
        if kind == "tls-not-pem":
            cert.write_bytes(b"caf\xe9: not a certificate\n")
        elif kind == "tls-other-key":
            key = _pem_pair(tmp_path, "b")[1]
        elif kind == "tls-folder":
            cert = key = tmp_path
        return ["--tls-cert", str(cert), "--tls-key", str(key)]
    jwks = tmp_path / "jwks.json"
    contents = {
        "jwks-list": b"[]",
        "jwks-latin1": b'{"keys": "caf\xe9"}',
        "jwks-twice": b'{"keys": [], "keys": []}',
    }
    if kind in contents:
        jwks.write_bytes(contents[kind])
    return ["--cds-issuer", f"iss={'/dev/zero' if kind == 'jwks-device' else jwks}"]


# (kind, message fragment); each exits 2 before serving. Before: a traceback of ssl or jwt, or a device
# read until memory ran out.
_SERVE_ROWS = [
    ("tls-not-pem", "are not a PEM certificate and its key"),
    ("tls-other-key", "are not a PEM certificate and its key (KEY_VALUES_MISMATCH)"),
    ("tls-folder", "is not a readable file"),
    ("jwks-list", "a CDS issuer's JWK Set is not a JSON object"),
    ("jwks-latin1", "the text is not UTF-8"),
    ("jwks-twice", "key 'keys' is written twice"),
    ("jwks-device", "the path is not a regular file (it is a character device)"),
]


@pytest.mark.parametrize(("kind", "fragment"), _SERVE_ROWS, ids=[row[0] for row in _SERVE_ROWS])
def test_serve_refuses_what_cannot_serve_before_serving(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    fragment: str,
) -> None:
    def serving(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started with settings it cannot serve with")

    monkeypatch.setattr("uvicorn.run", serving)
    database = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    options = ["--database", database, "--secret-file", str(tmp_path / "secret"), "--port", "18731"]
    assert main(["serve", *options, *_serve_argument(tmp_path, kind)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pinchpoint: error: "), error
    assert fragment in error, error


# --- `pinchpoint evaluate-text`: a malformed annotation is named, not a traceback or a silent miss ---

_CORPUS_HEAD = "format: pinchpoint-text-corpus\nversion: 1\npart: test\n"

# (name, the corpus after its head, message fragment); each exits 2. Before: a TypeError or ValueError
# traceback, or (wrong-typed values) read, so that the annotation could never match and lowered recall.
_CORPUS_ROWS = [
    ("red-flags-nested", "red_flags: [[fever]]\nitems: []\n", "red_flags is not a list of finding ids"),
    ("red-flags-mapping", "red_flags: {fever: true}\nitems: []\n", "red_flags is not a list of finding ids"),
    ("red-flags-zero", "red_flags: 0\nitems: []\n", "red_flags is not a list of finding ids"),
    ("findings-list", "items:\n- {id: a, text: leg pain, findings: [fever]}\n",
     "items[0].findings: a corpus item's findings are not a mapping"),
    ("findings-number", "items:\n- {id: a, text: leg pain, findings: 5}\n",
     "items[0].findings: a corpus item's findings are not a mapping"),
    ("region-nested", "items:\n- {id: a, text: leg pain, findings: {pain_regions: [[low_back]]}}\n",
     "the region list pain_regions names regions that do not exist"),
    ("region-mapping", "items:\n- {id: a, text: leg pain, findings: {pain_regions: [{a: 1}]}}\n",
     "the region list pain_regions names regions that do not exist"),
    ("denied-number", "items:\n- {id: a, text: leg pain, denied: 5}\n",
     "items[0].denied: denied is not a list"),
    ("denied-nested", "items:\n- {id: a, text: leg pain, denied: [[fever]]}\n", "denied is not a list"),
    ("others-text", "items:\n- {id: a, text: leg pain, others: fever}\n", "others is not a list"),
    ("age-text", "items:\n- {id: a, text: leg pain, findings: {age: forty}}\n",
     "items[0].findings.age: finding 'age' has a value it cannot take"),
    ("fever-number", "items:\n- {id: a, text: leg pain, findings: {fever: 1}}\n",
     "items[0].findings.fever: finding 'fever' has a value it cannot take"),
    ("age-out-of-range", "items:\n- {id: a, text: leg pain, findings: {age: 500}}\n",
     "finding 'age' has a value it cannot take; expected a whole number from 0 to 120"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "fragment"), _CORPUS_ROWS, ids=[row[0] for row in _CORPUS_ROWS])
def test_malformed_corpus_is_refused_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, body: str, fragment: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(_CORPUS_HEAD + body, encoding="utf-8")
    assert main(["evaluate-text", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"pinchpoint: error: {path}"), captured.err
    assert fragment in captured.err, captured.err


def test_well_formed_corpus_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(
        _CORPUS_HEAD + "red_flags: [fever]\nitems:\n- {id: a, text: 'I am 40 and have a fever', findings:"
        " {age: 40, fever: true, pain_regions: [low_back]}, denied: [saddle_numbness], others: []}\n",
        encoding="utf-8",
    )
    assert main(["evaluate-text", str(path), "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["parts"]["good"]["descriptions"] == 1
