"""Hand-made bad inputs, each refused with a 4xx (or exit 2) and a message naming what was wrong.

The audit of issue 14 found readers that kept the last of two equal keys (so that
``{"urinary_retention": true, "urinary_retention": false}`` answered self-care), numbers that
were not finite or had thousands of digits, lone surrogates that ended in a 500, a 488-byte
YAML file that took 48 s and 2.3 GB, ``1:30`` read as 90, a named pipe that hung the CLI and
``.yml`` files skipped silently. Each row below is one such input, for every JSON route and for
the CLI, with the status (or exit code) and a fragment of the message it must get.
"""

from __future__ import annotations

import io
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pinchpoint.api.jsonbody import MAX_JSON_BYTES
from pinchpoint.cli.main import main
from pinchpoint.errors import InvalidCaseError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.io.readers import load_yaml
from pinchpoint.service.store import Store
from pinchpoint.web import Settings, create_app

pytestmark = pytest.mark.core

_ORIGIN = "http://127.0.0.1:8000"
_JSON = {"content-type": "application/json", "origin": _ORIGIN}
_FORM = {"content-type": "application/x-www-form-urlencoded", "origin": _ORIGIN}
_CDS = "/cds-services/pinchpoint-triage"
_TWICE = b'{"findings": {"urinary_retention": true, "urinary_retention": false}}'
_BUNDLE_TWICE = b'{"resourceType": "Bundle", "type": "collection", "type": "searchset"}'
_HOOK_TWICE = b'{"hook": "patient-view", "hook": "order-sign", "hookInstance": "x", "context": {}}'
_SURROGATE = b'{"id": "a", "findings": {"sex": "\\ud800"}}'
_HUGE = b'{"findings": {"duration_days": 1' + b"0" * 4000 + b"}}"
_ANSWERS = "/api/v1/interviews/" + "0" * 32 + "/answers"
_ANCIENT_ONSET = (
    b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Condition",'
    b' "id": "c1", "subject": {"reference": "Patient/p1"}, "code": {"coding": [{"system":'
    b' "http://snomed.info/sct", "code": "23056005"}]}, "clinicalStatus": {"coding": [{"system":'
    b' "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},'
    b' "onsetDateTime": "1800-01-01"}}]}'
)
_JSON_ROUTES = ["/api/v1/assess", "/api/assess", "/api/v1/fhir/assess", "/api/v1/fhir/plan", _CDS,
                "/api/v1/text", "/api/v1/interviews", _ANSWERS]  # fmt: skip

# (method, path, headers, body, status, message fragment)
_API_ROWS = [
    *(("POST", route, _JSON, body, 400, "is written twice in one object")
      for route, body in [("/api/v1/assess", _TWICE), ("/api/assess", _TWICE), ("/api/v1/text", _TWICE),
                          ("/api/v1/interviews", _TWICE), (_ANSWERS, b'{"answer": 1, "answer": 2}'),
                          ("/api/v1/fhir/assess", _BUNDLE_TWICE),
                          ("/api/v1/fhir/plan", _BUNDLE_TWICE), (_CDS, _HOOK_TWICE)]),
    *(("POST", route, _JSON, _SURROGATE, 400, "a string holds a lone surrogate") for route in _JSON_ROUTES),
    *(("POST", route, _JSON, b'{"findings": {"exam.temperature_c": 1e400}}', 400, "is out of range")
      for route in ("/api/v1/assess", "/api/assess")),
    *(("POST", route, _JSON, b'{"findings": {"exam.temperature_c": NaN}}', 400, "NaN is not a JSON number")
      for route in ("/api/v1/assess", "/api/assess")),
    ("POST", "/api/v1/assess", _JSON, b'{"findings": {"age": -Infinity}}', 400,
     "-Infinity is not a JSON number"),
    *(("POST", route, _JSON, _HUGE, 400, "is too large") for route in ("/api/v1/assess", "/api/assess")),
    ("POST", "/api/v1/assess", _JSON, b'{"findings": {"duration_days": 9007199254740993}}', 400, "too large"),
    *(("POST", route, _JSON, b"[" * 100_000, 400, "nests too deeply") for route in ("/api/v1/assess", _CDS)),
    *(("POST", route, {**_JSON, "content-length": str(MAX_JSON_BYTES + 1)}, b"{}", 413, "too large")
      for route in _JSON_ROUTES),
    *(("POST", route, _JSON, b'{"x": "' + b"a" * MAX_JSON_BYTES + b'"}', 413, "too large")
      for route in ("/api/v1/assess", "/api/assess", _CDS)),
    *(("POST", route, {"content-type": "text/plain", "origin": _ORIGIN}, b'{"findings": {}}', 415,
       "not declared as JSON") for route in _JSON_ROUTES),
    ("POST", "/api/v1/assess", _JSON, b'{"findings": {}', 400, "not valid JSON"),
    ("POST", "/api/v1/assess", _JSON, b'{"findings": {"sex": "\xed\xa0\x80"}}', 400, "not UTF-8"),
    ("POST", "/check/form", _FORM, b"age=%ED%A0%80", 400, "not UTF-8"),
    ("POST", "/check/interviews", _FORM, b"age=%ED%A0%80", 400, "not UTF-8"),
    ("POST", "/api/v1/fhir/assess?date=%ED%A0%80", _JSON, b'{"resourceType": "Bundle", "type": "collection"}',
     422, "date"),
    ("GET", "/api/v1/interviews/%ED%A0%80", {}, b"", 422, "interview_id"),
    ("GET", "/assessments/%ED%A0%80", {}, b"", 404, "no saved assessment"),
    # A finite duration beyond any life (the maximum is 120 years, 43830 days; vocabulary.yaml says why).
    *(("POST", route, _JSON, b'{"findings": {"duration_days": %d}}' % days, 422, "from 0 to 43830")
      for route in ("/api/v1/assess", "/api/assess") for days in (43831, 10**12)),
    *(("POST", route, _FORM, b"duration_days=1000000000000", 422, "43830")
      for route in ("/check/form", "/clinician")),
    ("POST", "/check/form", _FORM, b"duration_days=1" + b"0" * 4000, 422, "duration_days"),
    ("POST", "/check/form", _FORM, b"exam.temperature_c=1e400", 422, "exam.temperature_c"),
    ("POST", "/check/form", _FORM, b"exam.temperature_c=nan", 422, "exam.temperature_c"),
    ("POST", "/api/v1/fhir/assess", _JSON, _ANCIENT_ONSET, 200, "from 0 to 43830, got"),  # warned, not used
    # Lone surrogates on the other text paths: JSON escapes, and their UTF-8 form in forms.
    ("POST", "/api/v1/text", _JSON, b'{"text": "leg pain \\ud800"}', 400, "a string holds a lone surrogate"),
    ("POST", "/api/v1/text", _JSON, b'{"\\udfff": "a"}', 400, "a string holds a lone surrogate"),
    (
        "POST", _CDS, _JSON,
        b'{"hook": "patient-view", "hookInstance": "x", "context": {"userId": "u", "patientId": "p"},'
        b' "prefetch": {"patient": {"resourceType": "Patient", "id": "\\ud800"}}}',
        400, "a string holds a lone surrogate",
    ),
    *(("POST", route, _FORM, body, 400, "not UTF-8")
      for route, body in [("/clinician", b"age=%ED%A0%80"), ("/check/text", b"text=%ED%A0%80"),
                          ("/check/text/confirm", b"text=%ED%A0%80")]),
    # Schema-valid free text is read; text the schema excludes is a 422 naming the character.
    ("POST", "/api/v1/text", _JSON, b'{"text": "my left foot slaps\\u3000when I walk"}', 200, "proposed"),
    ("POST", "/api/v1/text", _JSON, b'{"text": "leg\\u0004pain"}', 422, "character 3"),
    ("POST", "/api/v1/text", _JSON, b'{"text": " \\t "}', 422, "the text to read is empty"),
]  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The web app with the API and the CDS services, on an in-memory store."""
    store = Store.open("sqlite://")
    app = create_app(Settings(), knowledge=load_knowledge(), store=store)
    with TestClient(app, base_url=_ORIGIN, raise_server_exceptions=False) as test_client:
        yield test_client
    store.close()


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "fragment"),
    _API_ROWS,
    ids=[f"{row[0]} {row[1]} {row[4]} {row[5]}" for row in _API_ROWS],
)
def test_bad_request_gets_its_4xx_and_reason(  # noqa: PLR0917 (one table row)
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    fragment: str,
) -> None:
    """Each bad request is answered with its 4xx and a message naming what was wrong, never a 5xx."""
    response = client.request(method, path, headers=headers, content=body)
    assert response.status_code == status, response.text[:300]
    assert fragment in response.text


def test_a_key_written_twice_never_answers_self_care(client: TestClient) -> None:
    """The audit's request: urinary retention stated yes then no is refused, not read as no."""
    response = client.post("/api/v1/assess", headers=_JSON, content=_TWICE)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "body: key 'urinary_retention' is written twice in one object; expected each key at most once"
    )


# --- the command line -------------------------------------------------------------------------------

_LAUGHS = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    b"%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n" % ((ord("a") + i + 1,) * 2 + (ord("a") + i,) * 9)
    for i in range(8)
)

# (file name, bytes, message fragment); each is assessed with `pinchpoint assess FILE` and exits 2.
_CLI_ROWS = [
    ("twice.yaml", b"findings:\n  urinary_retention: true\n  urinary_retention: false\n",
     "line 3, column 3: key 'urinary_retention' is written twice in one mapping (first on line 2)"),
    ("merge.yaml", b"base: &b {urinary_retention: true}\nfindings:\n  <<: *b\n  urinary_retention: false\n",
     "line 3, column 3: a merge key (<<) is not read"),
    ("merge-inline.yaml", b"findings:\n  <<: {urinary_retention: true}\n  urinary_retention: false\n",
     "line 2, column 3: a merge key (<<) is not read"),
    ("laughs.yaml", _LAUGHS, "an anchor is used again through an alias"),
    ("sexagesimal.yaml", b"findings:\n  duration_days: 1:30\n",
     "findings.duration_days: finding 'duration_days' has a value it cannot take; expected a whole number"),
    ("yes.yaml", b"findings:\n  urinary_retention: yes\n", "expected true or false (got 'yes')"),
    ("inf.yaml", b"findings:\n  exam.temperature_c: .inf\n", "findings.exam.temperature_c"),
    ("exponent.yaml", b"findings:\n  exam.temperature_c: 1e400\n",
     "line 2, column 23: the number 1e400 is out of range"),
    ("huge.yaml", b"findings:\n  duration_days: 1" + b"0" * 4000 + b"\n", "is too large"),
    ("date.yaml", b"findings:\n  duration_days: 2024-01-01\n", "findings.duration_days"),
    ("surrogate.yaml", b'findings:\n  sex: "\\ud800"\n',
     "line 2, column 11: the case file is not valid YAML"),
    ("twice.json", b'{"resourceType": "Bundle", "type": "collection", "type": "searchset"}',
     "key 'type' is written twice in one object"),
    ("surrogate.json", b'{"resourceType": "Patient", "id": "\\ud800"}', "a string holds a lone surrogate"),
    ("nan.json", b'{"resourceType": "Observation", "valueQuantity": {"value": NaN}}',
     "NaN is not a JSON number"),
]  # fmt: skip


def _run_cli(args: list[str], seconds: float = 60) -> int:
    """Run the CLI in a thread and fail (instead of hanging the suite) if it does not end in time."""
    outcome: list[int] = []
    worker = threading.Thread(target=lambda: outcome.append(main(args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"pinchpoint {' '.join(args)} did not end within {seconds} s"
    return outcome[0]


@pytest.mark.parametrize(("name", "content", "fragment"), _CLI_ROWS, ids=[row[0] for row in _CLI_ROWS])
def test_bad_file_exits_2_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, fragment: str
) -> None:
    """Each bad case or FHIR file exits 2 with a message naming the file and what was wrong, quickly."""
    path = tmp_path / name
    path.write_bytes(content)
    started = time.perf_counter()
    assert _run_cli(["assess", str(path), "--json"]) == 2
    assert time.perf_counter() - started < 10
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"pinchpoint: error: {path}")
    assert fragment in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_named_pipe_is_refused_not_waited_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A named pipe given as a case file is refused at once (opening it would wait for a writer)."""
    pipe = tmp_path / "case.yaml"
    os.mkfifo(pipe)
    assert _run_cli(["assess", str(pipe)], seconds=20) == 2
    assert f"{pipe}: the path is not a regular file (it is a named pipe)" in capsys.readouterr().err


def test_device_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A device given as a case file is refused at once."""
    assert _run_cli(["assess", os.devnull], seconds=20) == 2
    assert "the path is not a regular file (it is a character device)" in capsys.readouterr().err


def test_yml_files_are_assessed_not_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`assess DIR` reads *.yml beside *.yaml: a broken .yml file is reported, not skipped."""
    (tmp_path / "a.yaml").write_text("findings: {age: 40}\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("findings:\n  age: 40\n  age: 41\n", encoding="utf-8")
    assert _run_cli(["assess", str(tmp_path), "--json"]) == 2
    assert f"{tmp_path / 'b.yml'}: line 3, column 3: key 'age' is written twice" in capsys.readouterr().err
    (tmp_path / "b.yml").write_text("findings: {age: 41}\n", encoding="utf-8")
    assert _run_cli(["assess", str(tmp_path), "--json"]) == 0
    assert [line[:12] for line in capsys.readouterr().out.splitlines()] == ['{"case":"a",', '{"case":"b",']


@pytest.mark.parametrize(
    ("text", "value"),
    [("012", 12), ("1_0", "1_0"), ("0x1F", "0x1F"), ("1:30", "1:30"), ("yes", "yes"), ("off", "off"),
     ("2024-01-01", "2024-01-01"), (".inf", ".inf"), ("1e3", 1000.0), ("~", None), ("True", True)],
)  # fmt: skip
def test_plain_scalars_are_read_as_yaml_1_2_core(text: str, value: object) -> None:
    """YAML 1.1's implicit conversions (sexagesimal, octal, yes/no, dates) never change a value.

    What YAML 1.2's core schema does not read as a number, boolean or null stays the text written,
    which the case's checks then refuse for a number or yes/no finding, naming the field.
    """
    assert load_yaml(f"key: {text}\n", origin="x", error=InvalidCaseError, expected="YAML") == {"key": value}


# --- every command that reads a file, with every kind of path that is not a readable file ---------

_NOT_A_FILE = "the path is not a regular file"
# (command with {path}, what the path is, message fragment); each exits 2 at once, without a traceback.
_COMMAND_ROWS = [
    *((command, kind, fragment)
      for command in ("assess {path}", "evaluate {path}", "evaluate-text {path}",
                      "interview --session {path}",
                      "evaluate-text --narratives {path}")
      for kind, fragment in [("fifo", f"{_NOT_A_FILE} (it is a named pipe)"),
                             ("device", f"{_NOT_A_FILE} (it is a character device)"),
                             ("unreadable", "cannot be read"),
                             ("laughs", "an anchor is used again through an alias")]
      if not (command.startswith("interview") and kind == "laughs")),
    ("assess {path}", "fifo.json", f"{_NOT_A_FILE} (it is a named pipe)"),
    ("interview --session {path}", "laughs.json", "the text is not valid JSON"),
    *((command, "missing-dir", "does not exist")
      for command in ("assess {path}", "evaluate {path}", "evaluate-text {path}",
                      "evaluate-text --narratives {path}")),
    ("assess {path}", "unreadable-dir", "the directory cannot be read"),
]  # fmt: skip


def _path_of_kind(tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make a path of the given kind: a named pipe, a device, an unreadable file or folder, and so on."""
    if kind.startswith("fifo"):
        path = tmp_path / ("case.json" if kind.endswith(".json") else "case.yaml")
        os.mkfifo(path)
        return str(path)
    if kind == "device":
        return "/dev/zero"  # never ends: read, it would fill the memory
    if kind.startswith("laughs"):
        path = tmp_path / ("case.json" if kind.endswith(".json") else "case.yaml")
        path.write_bytes(_LAUGHS if path.suffix == ".yaml" else b"{" + _LAUGHS)
        return str(path)
    if kind == "missing-dir":
        return str(tmp_path / "no-such-folder")
    # Unreadable: permission bits do not stop the superuser the tests may run as, so the refusal of
    # the operating system is what the test stands in for (the same PermissionError, errno 13).
    path = tmp_path / ("cases" if kind == "unreadable-dir" else "case.yaml")
    if kind == "unreadable-dir":
        path.mkdir()
        (path / "a.yaml").write_text("findings: {age: 40}\n", encoding="utf-8")
        real_iterdir = Path.iterdir

        def iterdir(self: Path) -> Iterator[Path]:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_iterdir(self)

        monkeypatch.setattr(Path, "iterdir", iterdir)
        return str(path)
    path.write_text("findings: {age: 40}\n", encoding="utf-8")
    real_open = os.open

    def refusing_open(name: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    return str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize(
    ("command", "kind", "fragment"), _COMMAND_ROWS, ids=[f"{r[0]} {r[1]}" for r in _COMMAND_ROWS]
)
def test_every_command_refuses_what_is_not_a_readable_file(  # noqa: PLR0917 (one table row)
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    kind: str,
    fragment: str,
) -> None:
    """A pipe, a device, an unreadable or missing path, an alias bomb: exit 2 at once, naming the path."""
    path = _path_of_kind(tmp_path, kind, monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    started = time.perf_counter()
    assert _run_cli(command.format(path=path).split(), seconds=30) == 2
    assert time.perf_counter() - started < 10
    error = capsys.readouterr().err
    assert error.startswith(f"pinchpoint: error: {path}"), error
    assert fragment in error
    assert "Traceback" not in error


def test_billion_laughs_is_refused_fast_in_little_memory() -> None:
    """The 488-byte alias bomb that took 48 s and 2.3 GB is refused in well under a second and 5 MB."""
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InvalidCaseError) as caught:
        load_yaml(_LAUGHS, origin="laughs.yaml", error=InvalidCaseError, expected="YAML")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (seconds < 1, peak < 5 * 1024 * 1024) == (True, True), (seconds, peak)
    assert len(str(caught.value)) < 300  # the message names the place; it never expands the aliases
    assert "lol" not in str(caught.value)


@pytest.mark.parametrize(
    ("stdin", "fragment"),
    [(b"leg pain \xed\xa0\x80", "character 9"), (b"\xff\xfe", "character 0"), (b"foot\x00drop", "U+0000")],
)
def test_read_text_refuses_undecodable_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: bytes, fragment: str
) -> None:
    """`read-text -` given bytes that are not text exits 2 naming the place, under any locale.

    Standard input is decoded strictly under a UTF-8 locale (the stand-in here): a traceback before.
    """
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="strict"))
    assert _run_cli(["read-text", "-"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pinchpoint: error: text, character"), error
    assert fragment in error
