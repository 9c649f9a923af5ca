"""Stateful schemathesis over the API: sequences of linked calls, zero 5xx and zero schema violations.

Schemathesis 4 infers the links between operations from the OpenAPI document (an interview's
``id`` in the answer of ``POST /api/v1/interviews`` is the ``interview_id`` of its answers, back
step, state and result; a CDS service's ``id`` from the discovery endpoint is the ``service_id``
of its hook and feedback calls) and chains them with data taken from real answers. Each step runs
every check schemathesis has (no server error, status codes, content types and bodies as
documented), except, as in ``test_api_schema.py``, the acceptance of schema-valid bodies where
the schema is not the whole contract: a FHIR resource or a CDS Hooks request is documented as an
object with its type and required keys, and the rest of its validity is the service's to refuse;
a story-first start's ``accepted`` indexes name proposals of its story, and an answer's value must
fit the question asked (a yes/no, a number in its range, regions), which no schema can say.
The run is derandomised and bounded so that it takes well under a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pinchpoint.api.app import create_api_app
from pinchpoint.io.knowledge.loader import load_knowledge

pytestmark = pytest.mark.core

_OPAQUE = ("/api/v1/fhir/", "/cds-services/")


def _state_machine() -> Any:
    app = create_api_app(load_knowledge(), clock=lambda: dt.date(2025, 3, 1))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    base: Any = schema.as_state_machine()

    class APIWorkflows(base):  # type: ignore[misc,valid-type]
        """The inferred state machine, with the checks of test_api_schema.py."""

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            body = case.body if isinstance(case.body, dict) else {}
            opaque = (
                case.operation.path.startswith(_OPAQUE)
                or case.operation.path.endswith("/answers")
                or body.get("accepted") is not None
            )
            case.validate_response(response, excluded_checks=[positive_data_acceptance] if opaque else None)

    return APIWorkflows


def test_the_api_has_links_to_follow() -> None:
    """The inferred links reach every interview operation from the one that creates an interview."""
    rules = {name for name in dir(_state_machine()) if name.startswith("POST_api_v1_interviews___201")}
    targets = {rule.rsplit("__", 1)[1] for rule in rules}
    assert targets >= {
        "GET_api_v1_interviews_interview_id_",
        "POST_api_v1_interviews_interview_id_answers",
        "POST_api_v1_interviews_interview_id_back",
        "GET_api_v1_interviews_interview_id_result",
    }


def test_linked_calls_never_fail_the_server_or_the_schema() -> None:
    """Sequences of up to 8 linked calls, 40 of them: every answer as documented, none a 5xx."""
    _state_machine().run(
        settings=settings(
            max_examples=40,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
