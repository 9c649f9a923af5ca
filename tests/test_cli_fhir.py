"""Tests of ``pinchpoint assess`` on FHIR JSON files (QuestionnaireResponse, Bundle)."""

from __future__ import annotations

import json

import pytest

from pinchpoint import assess
from pinchpoint.cli.main import SAFETY_NOTE, main
from pinchpoint.io.casefile import read_case
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.response import case_to_response
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.contract import to_contract
from tests.corpus import USER_EXAMPLES

pytestmark = pytest.mark.core

_ERROR = 2


@pytest.mark.parametrize("example", sorted(p.stem for p in USER_EXAMPLES.glob("*.yaml")))
def test_questionnaire_response_file_is_assessed_like_the_case(tmp_path, capsys, example):
    """A QuestionnaireResponse file gives the contract JSON that its case gives."""
    knowledge = load_knowledge()
    case = read_case(USER_EXAMPLES / f"{example}.yaml", knowledge.vocabulary)
    path = tmp_path / "response.json"
    path.write_text(json.dumps(to_json(case_to_response(case, knowledge))), encoding="utf-8")
    assert main(["assess", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == to_contract(assess(case, knowledge))


def test_bundle_file_gives_a_report_with_warnings(tmp_path, capsys):
    """A Bundle file is assessed; codes pinchpoint does not know are listed as warnings."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "267064002"}]}}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}}},
        ],
    }  # fmt: skip
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["assess", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(SAFETY_NOTE)
    assert "Triage: EMERGENCY" in out
    assert (
        f"Warning: {path}: $.entry[1].resource.code: no code of this Condition is in pinchpoint's table"
        in out
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b'{"resourceType": "QuestionnaireResponse", "item": []}',
                     "$.status: the FHIR resource is not valid (1 error(s)); first: Value for the field "
                     "'status' is required.; expected a valid FHIR R4 QuestionnaireResponse",
                     id="missing-status"),
        pytest.param(b'{"resourceType": "Observation"}',
                     "$.resourceType: pinchpoint cannot assess this FHIR resource type; expected "
                     "QuestionnaireResponse or Bundle (got 'Observation')", id="other-type"),
        pytest.param(b'{"resourceType": ', "line 1, column 18: the text is not valid JSON", id="broken-json"),
    ],
)  # fmt: skip
def test_bad_fhir_exits_2_with_a_clear_message(tmp_path, capsys, content, message):
    """Bad FHIR input exits 2 with one line naming the file and the JSON path, no traceback."""
    path = tmp_path / "input.json"
    path.write_bytes(content)
    assert main(["assess", str(path)]) == _ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"pinchpoint: error: {path}: {message}")
    assert captured.err.count("\n") == 1
