"""The result page shows the SAVED result; assessing again with today's knowledge is an explicit action."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.casefile import read_case
from pinchpoint.service.contract import to_contract
from pinchpoint.service.store import Store
from pinchpoint.web.views import saved_assessment
from tests.corpus import shared_case_params

_SAME_ORIGIN = {"origin": "http://127.0.0.1:8000", "content-type": "application/x-www-form-urlencoded"}
_RESULT = re.compile(r"^/assessments/([0-9a-f]{32})$")


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("path", shared_case_params())
def test_a_saved_result_reads_back_as_it_was_saved(knowledge: Knowledge, path: Path) -> None:
    """The contract JSON read back into an assessment gives the same contract JSON again."""
    contract = _json(to_contract(assess(read_case(path, knowledge.vocabulary), knowledge)))
    assert _json(to_contract(saved_assessment(contract, knowledge))) == contract


def _saved_form_result(client: TestClient) -> str:
    items = [("age", "73"), ("urinary_retention", "no"), ("pain_regions", "thigh_posterior.left")]
    response = client.post(
        "/check/form", content=urlencode(items), headers=_SAME_ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303
    found = _RESULT.match(response.headers["location"])
    assert found is not None
    return found.group(1)


def _as_if_saved_by_older_knowledge(store: Store, record_id: str, triage: str) -> dict[str, Any]:
    """Rewrite a record as an older knowledge version saved it, with another triage than today's."""
    record = store.get_assessment(record_id)
    assert record is not None
    result = {**record.result, "knowledge_version": "0.0.1+older", "triage": triage}
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE assessments SET knowledge_version = :v, triage = :t, result_json = :r WHERE id = :id"
            ),
            {"v": "0.0.1+older", "t": triage, "r": json.dumps(result), "id": record_id},
        )
    return result


def test_a_result_saved_with_older_knowledge_is_shown_as_saved(client: TestClient, store: Store) -> None:
    """The page shows the triage that was saved, says so, and offers to assess again; none is recomputed."""
    record_id = _saved_form_result(client)
    today = store.get_assessment(record_id).triage  # type: ignore[union-attr]
    other = "emergency" if today != "emergency" else "self_care"
    _as_if_saved_by_older_knowledge(store, record_id, other)
    page = client.get(f"/assessments/{record_id}").text
    assert f'data-triage="{other}"' in page
    assert f'data-triage="{today}"' not in page
    assert "This is the result as it was saved, with knowledge version 0.0.1+older" in page
    assert f'action="/assessments/{record_id}/reassess"' in page
    assert "Knowledge version 0.0.1+older" in page


def test_re_assessing_saves_a_new_result_and_keeps_the_old_one(
    client: TestClient, store: Store, knowledge: Knowledge
) -> None:
    """The explicit action assesses the saved case with the current knowledge, as a new record."""
    record_id = _saved_form_result(client)
    today = store.get_assessment(record_id).triage  # type: ignore[union-attr]
    old = _as_if_saved_by_older_knowledge(
        store, record_id, "emergency" if today != "emergency" else "self_care"
    )
    response = client.post(f"/assessments/{record_id}/reassess", headers=_SAME_ORIGIN, follow_redirects=False)
    assert response.status_code == 303
    found = _RESULT.match(response.headers["location"])
    assert found is not None
    assert found.group(1) != record_id
    new = store.get_assessment(found.group(1))
    assert new is not None
    assert new.triage == today
    assert new.knowledge_version == knowledge.version
    assert store.get_assessment(record_id).result == old  # type: ignore[union-attr]
    page = client.get(response.headers["location"]).text
    assert f'data-triage="{today}"' in page
    assert "/reassess" not in page  # made with the knowledge in use: nothing to offer


def test_a_result_with_the_current_knowledge_offers_no_re_assessment(client: TestClient) -> None:
    record_id = _saved_form_result(client)
    assert "/reassess" not in client.get(f"/assessments/{record_id}").text
