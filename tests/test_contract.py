"""The wire contract is defined once, and every front end answers with that one definition.

:mod:`pinchpoint.service.contract` writes the JSON of an assessment; its typed dictionaries
are the definition, the REST API's response model and the OpenAPI document. These tests hold
the JSON of every development case to the definition (with and without ``detail``), the
OpenAPI document to the reasoning's own enumerations, and the CLI's bytes to the definition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from pinchpoint import assess, assess_many
from pinchpoint.api.app import create_api_app
from pinchpoint.cli.main import main
from pinchpoint.core.careplan import Verdict
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.io.casefile import read_case, read_cases
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge.schema import AdviceKind
from pinchpoint.service.contract import AssessmentContract, contract_adapter, to_contract
from tests.corpus import SHARED_CASES, shared_case_params

pytestmark = pytest.mark.core


def _keys(model: type[Any]) -> tuple[set[str], set[str]]:
    """Return the required and the optional keys of a typed dictionary."""
    return set(model.__required_keys__), set(model.__optional_keys__)


@pytest.mark.parametrize("path", shared_case_params())
@pytest.mark.parametrize("detail", [True, False], ids=["detail", "batch"])
def test_every_case_answers_the_definition(path: Path, detail: bool) -> None:
    """The JSON of a development case passes the definition's strict check and keeps its key order."""
    knowledge = load_knowledge()
    contract = to_contract(assess(read_case(path, knowledge.vocabulary), knowledge), detail=detail)
    assert contract_adapter().validate_python(contract) == contract
    required, optional = _keys(AssessmentContract)
    assert required <= contract.keys() <= required | optional
    assert ("explanations" in contract) is detail
    items = [*contract["investigations"], *contract["plan"]["actions"]]
    assert items, "the check of plan items is not vacuous"
    assert all(("title" in item) is detail for item in items)


def test_a_value_outside_the_enumerations_is_refused() -> None:
    """The Literals are the reasoning's own ids: a triage or verdict that is not one of them fails."""
    knowledge = load_knowledge()
    case = read_cases(SHARED_CASES, knowledge.vocabulary)[0]
    contract: dict[str, Any] = dict(to_contract(assess(case, knowledge)))
    with pytest.raises(ValidationError, match="triage"):
        contract_adapter().validate_python({**contract, "triage": "whenever"})
    item = {**contract["plan"]["actions"][0], "verdict": "maybe"}
    with pytest.raises(ValidationError, match="verdict"):
        contract_adapter().validate_python({**contract, "investigations": [item]})


def test_the_openapi_document_names_the_reasonings_enumerations() -> None:
    """The OpenAPI document of /api/v1/assess is derived from Urgency, Verdict and the kinds of items."""
    document = create_api_app(load_knowledge()).openapi()
    schemas = document["components"]["schemas"]
    response = document["paths"]["/api/v1/assess"]["post"]["responses"]["200"]["content"]["application/json"]
    assert response["schema"] == {"$ref": "#/components/schemas/AssessmentContract"}
    assert schemas["AssessmentContract"]["properties"]["triage"]["enum"] == [level.id for level in Urgency]
    assert schemas["RuleFired"]["properties"]["level"]["enum"] == [level.id for level in Urgency]
    item = schemas["PlanItemContract"]
    assert item["properties"]["verdict"]["enum"] == [verdict.value for verdict in Verdict]
    assert item["properties"]["kind"]["enum"] == [*get_args(AdviceKind), "investigation"]
    assert set(item["required"]) == {"id", "kind", "verdict", "source"}
    assert "explanations" not in schemas["AssessmentContract"]["required"]


def test_the_api_and_the_cli_answer_the_same_object() -> None:
    """POST /api/v1/assess and ``pinchpoint assess --json --detail`` give equal JSON for one case."""
    knowledge = load_knowledge()
    path = sorted(SHARED_CASES.glob("*.yaml"))[0]
    case = read_case(path, knowledge.vocabulary)
    findings = {
        key: list(value) if isinstance(value, tuple) else value for key, value in case.findings.items()
    }
    client = TestClient(create_api_app(knowledge))
    answered = client.post("/api/v1/assess", json={"id": case.id, "findings": findings}).json()
    assert answered == json.loads(json.dumps(to_contract(assess(case, knowledge))))


def test_the_batch_lines_are_the_definitions_bytes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """Each line of ``assess DIR --json`` is the compact JSON of ``to_contract(..., detail=False)``."""
    knowledge = load_knowledge()
    cases = read_cases(SHARED_CASES, knowledge.vocabulary)
    assert main(["assess", str(SHARED_CASES), "--json"]) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    expected = [to_contract(a, detail=False) for a in assess_many(cases, knowledge, explain_findings=False)]
    assert [json.loads(line) for line in lines] == json.loads(json.dumps(expected))
    assert lines[0] == json.dumps(expected[0], separators=(",", ":"), ensure_ascii=False)
