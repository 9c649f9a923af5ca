"""The REST API (``/api/v1``) and the CDS Hooks endpoints, as FastAPI routers.

Thin translators over the same functions the CLI uses:

* :func:`api_router` (prefix ``/api/v1``): ``POST /assess`` (a case with vocabulary ids -> the
  contract JSON of ``shared/contract/CASES.md``), ``GET /knowledge`` (version, triage levels,
  sites, causes, findings, sources), ``POST /text`` (free text -> proposed findings, see
  :mod:`pinchpoint.api.text`), ``POST /fhir/assess`` (a QuestionnaireResponse or Bundle ->
  RiskAssessment), ``POST /fhir/plan`` (-> CarePlan Bundle), ``GET /fhir/Questionnaire``.
* :func:`assess_alias_router`: ``POST /api/assess``, an alias of ``POST /api/v1/assess`` served by
  the web app (the same endpoint: body rules, limits, problem details and answer).
* :func:`cds_router`: ``GET /cds-services`` (discovery), ``POST /cds-services/{id}`` and
  ``POST /cds-services/{id}/feedback`` (CDS Hooks 2.0; logic in :mod:`pinchpoint.api.cds_hooks`).
* :func:`install_problem_handlers`: every error becomes an RFC 9457 ``application/problem+json``
  body naming the field (``field``, ``expected``, ``got`` from the error's attributes).
* :func:`create_api_app`: an app with both routers and the handlers, for tests, schemathesis and
  the benchmark; the web app includes the same routers and calls the same installer.

Every JSON body is read by :func:`pinchpoint.api.jsonbody.read_json_body` (declared JSON, at most
1 MiB, no duplicate key, no number out of range, no lone surrogate).

Status codes: malformed request 400, prefetch missing 412 (CDS Hooks), body too large 413, body
not JSON 415, input that cannot be used
(unknown finding, value out of range, invalid FHIR) 422, unknown path or service 404. A 500 is a
bug: it is logged with its traceback and answered with a problem body that reveals nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import traceback
from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinchpoint import __version__
from pinchpoint.api.cds_hooks import SERVICES, discovery, handle_request
from pinchpoint.api.cpu import run_cpu
from pinchpoint.api.interviews import StoreFor, add_interview_routes
from pinchpoint.api.jsonbody import JsonRoute, read_json_body
from pinchpoint.api.text import add_text_routes
from pinchpoint.core.case import parse_case
from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.errors import (
    FhirMappingError,
    InputError,
    InterviewConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PinchpointError,
    PrefetchMissingError,
    StoreError,
    UnsupportedMediaTypeError,
)
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.inputs import assess_fhir, read_fhir
from pinchpoint.io.fhir.questionnaire import build_questionnaire
from pinchpoint.io.fhir.results import assessment_plan_items, care_plan, care_plan_bundle, risk_assessment
from pinchpoint.service.contract import AssessmentContract, to_contract
from pinchpoint.service.store import InterviewStore, MemoryInterviewStore
from pinchpoint.service.values import whole_json_numbers

__all__ = [
    "API_PATHS",
    "ASSESS_ALIAS",
    "PROBLEM_JSON",
    "api_router",
    "assess_alias_router",
    "cds_router",
    "create_api_app",
    "describe_bug",
    "error_status",
    "install_problem_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
API_PATHS = ("/api/v1/", "/cds-services")
"""Path prefixes of the REST API and the CDS Hooks services: their errors are problem details."""
ASSESS_ALIAS = "/api/assess"
"""The path of the alias of ``POST /api/v1/assess`` (:func:`assess_alias_router`); its errors too."""
_PROBLEM_BASE = "https://pinchpoint.example.org/problems/"
_log = logging.getLogger(__name__)

Clock = Callable[[], dt.date]


# --- response models (they are the OpenAPI document that clients and schemathesis check) ---------
# The assessment's is the wire contract itself (pinchpoint.service.contract), defined once.


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, and for input errors the field, expectation and value."""

    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    expected: str | None = None
    got: str | None = None


class FindingOut(BaseModel):
    """One finding id of the vocabulary and the values it takes."""

    id: str
    type: Literal["bool", "int", "number", "enum", "regions"]
    description: str
    values: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None


class NamedOut(BaseModel):
    """An id of the vocabulary with its description."""

    id: str
    description: str


class SourceOut(BaseModel):
    """One entry of the bibliography."""

    id: str
    title: str
    kind: str
    year: int | None = None
    url: str | None = None


class KnowledgeOut(BaseModel):
    """What pinchpoint knows: version, triage levels, sites, causes, findings and sources."""

    version: str
    triage: list[NamedOut]
    sites: list[NamedOut]
    causes: list[NamedOut]
    findings: list[FindingOut]
    sources: list[SourceOut]


class FhirResourceOut(BaseModel):
    """A FHIR R4 resource as JSON (validated with fhir.resources before it is sent)."""

    model_config = ConfigDict(extra="allow")

    resourceType: str  # noqa: N815 (the FHIR element name)


class ServiceOut(BaseModel):
    """One CDS service of the discovery response."""

    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]


class DiscoveryOut(BaseModel):
    """The CDS Hooks discovery response."""

    services: list[ServiceOut]


class CardSource(BaseModel):
    """The source of a card."""

    label: str
    url: str | None = None
    topic: dict[str, str] | None = None


class Action(BaseModel):
    """A suggested action."""

    type: Literal["create", "update", "delete"]
    description: str
    resourceId: str | None = None  # noqa: N815 (the CDS Hooks field name)


class Suggestion(BaseModel):
    """A suggestion of a card."""

    label: str
    uuid: str | None = None
    actions: list[Action] = []


class Card(BaseModel):
    """A CDS Hooks card."""

    uuid: str | None = None
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: CardSource
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815 (the CDS Hooks field name)


class CdsResponseOut(BaseModel):
    """The CDS Hooks response."""

    cards: list[Card]


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}
    for status, description in (
        (400, "Malformed request: not JSON, a key written twice, a number out of range"),
        (413, "Request body too large"),
        (415, "Request body not sent as JSON"),
        (422, "Input that cannot be used: unknown id, value out of range, invalid FHIR"),
    )
}
_SESSION_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    **{
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}
        for status, description in (
            (404, "No interview session with this id"),
            (
                409,
                "The request does not fit the session now: another question is asked, or it is not finished",
            ),
        )
    },
}
_FHIR_BODY = Body(
    json_schema_extra={
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": ["QuestionnaireResponse", "Bundle"]}},
        "additionalProperties": True,
    },
    description="A FHIR R4 QuestionnaireResponse of the pinchpoint intake, or a Bundle of Patient, "
    "Condition, Observation (and QuestionnaireResponse) resources",
    examples=[{"resourceType": "QuestionnaireResponse", "status": "completed", "item": []}],
)
_DATE = Query(
    description="Date (YYYY-MM-DD) that ages and durations are counted to (default: today)",
    pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    json_schema_extra={"format": "date"},
)
_CASE_ID = r"^[a-z0-9][a-z0-9-]*$"


def findings_schema(vocabulary: Vocabulary) -> dict[str, Any]:
    """Return the JSON Schema of a case's findings: every vocabulary id with the values it takes.

    The OpenAPI document then says exactly what :func:`pinchpoint.core.case.parse_findings` accepts, so
    clients (and schemathesis) see the vocabulary instead of an opaque object.
    """
    regions = sorted(vocabulary.region_ids)
    properties: dict[str, Any] = {}
    for spec in vocabulary.findings.values():
        schema: dict[str, Any]
        if spec.type == "bool":
            schema = {"type": "boolean"}
        elif spec.type == "enum":
            schema = {"type": "string", "enum": list(spec.values)}
        elif spec.type == "regions":
            # null reads as an empty list ("asked, none"), as in a case file
            schema = {
                "type": ["array", "null"],
                "items": {"type": "string", "enum": regions},
                "uniqueItems": True,
            }
        else:
            schema = {"type": "integer" if spec.type == "int" else "number"}
            if spec.minimum is not None:
                schema["minimum"] = int(spec.minimum) if spec.type == "int" else spec.minimum
            if spec.maximum is not None:
                schema["maximum"] = int(spec.maximum) if spec.type == "int" else spec.maximum
        properties[spec.id] = {**schema, "description": spec.description}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _case_model(vocabulary: Vocabulary) -> type[BaseModel]:
    """Return the request model of a case, its findings documented by the vocabulary."""
    findings = Annotated[dict[str, Any], WithJsonSchema(findings_schema(vocabulary))]
    return create_model(
        "CaseIn",
        __config__=ConfigDict(
            extra="forbid",
            json_schema_extra={
                "examples": [{"id": "my-case", "findings": {"age": 42, "urinary_retention": True}}]
            },
        ),
        __doc__="A case as JSON: findings keyed by vocabulary finding ids (what is not listed is unknown).",
        id=(Annotated[str | None, Field(pattern=_CASE_ID)], None),
        findings=(findings, ...),
    )


def _assess_endpoint(knowledge: Knowledge) -> Callable[..., AssessmentContract]:
    """Return the endpoint of ``POST /api/v1/assess`` (and of its alias :data:`ASSESS_ALIAS`)."""
    vocabulary = knowledge.vocabulary
    assess_table = _assess_table(knowledge)

    def assess_case(case: BaseModel) -> AssessmentContract:
        return assess_table(getattr(case, "id"), getattr(case, "findings"))  # noqa: B009 (a run-time model)

    # The request model is built from the vocabulary at run time, so the annotation is set here,
    # where FastAPI reads it, instead of in the signature (which names its base class).
    assess_case.__annotations__["case"] = _case_model(vocabulary)
    return assess_case


def _assess_table(knowledge: Knowledge) -> Callable[[str | None, dict[str, Any]], AssessmentContract]:
    """Return the work of ``POST /api/v1/assess``: a case's id and findings -> its contract JSON."""
    vocabulary = knowledge.vocabulary

    def assess_table(case_id: str | None, findings: dict[str, Any]) -> AssessmentContract:
        table: dict[str, Any] = {"findings": whole_json_numbers(findings, vocabulary)}
        if case_id is not None:
            table["id"] = case_id
        checked = parse_case(table, vocabulary, origin="body")
        return to_contract(assess(checked, knowledge))

    return assess_table


def _assess_route(knowledge: Knowledge) -> type[APIRoute]:
    """Return the route class of ``POST /assess``: the usual body answered without FastAPI's machinery.

    FastAPI would build the request model, run the endpoint in its thread pool, and check and
    serialise the answer in further steps; for the one route every client calls most, that costs
    more than the assessment. A body of the usual shape (an object with ``findings``, an object,
    and perhaps an ``id`` of the allowed form) is read by the same strict reader, assessed, checked
    against the response model and serialised exactly as FastAPI does (the same bytes), all in one
    step in the CPU pool (:func:`~pinchpoint.api.cpu.run_cpu`). Any other body goes to FastAPI's
    handler, so that its refusals stay exactly FastAPI's; the OpenAPI document is unchanged.
    """
    assess_table = _assess_table(knowledge)

    class AssessRoute(JsonRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            fastapi_handler = APIRoute.get_route_handler(self)
            field = self.response_field
            assert field is not None  # the route declares response_model=AssessmentContract

            def answer(case_id: str | None, findings: dict[str, Any]) -> bytes:
                contract = assess_table(case_id, findings)
                value, errors = field.validate(contract, {}, loc=("response",))
                if errors:
                    raise ResponseValidationError(errors=errors, body=contract)
                return field.serialize_json(value)

            async def handle(request: Request) -> Response:
                if _announces_body(request):
                    case = _usual_case(await read_json_body(request))
                    if case is not None:
                        return Response(await run_cpu(answer, *case), media_type="application/json")
                return await fastapi_handler(request)

            return handle

    return AssessRoute


_CASE_ID_FORM = re.compile(_CASE_ID.removeprefix("^").removesuffix("$"))


def _usual_case(body: Any) -> tuple[str | None, dict[str, Any]] | None:
    """Return the id and findings of a body the request model would accept as it is; else ``None``."""
    if type(body) is not dict or "findings" not in body or not body.keys() <= {"id", "findings"}:
        return None
    findings, case_id = body["findings"], body.get("id")
    if type(findings) is not dict:
        return None
    if case_id is not None and (type(case_id) is not str or _CASE_ID_FORM.fullmatch(case_id) is None):
        return None
    return case_id, findings


def _announces_body(request: Request) -> bool:
    """Whether the request announces a body (a length above zero, or a chunked one)."""
    declared = request.headers.get("content-length")
    return declared != "0" if declared is not None else "transfer-encoding" in request.headers


def assess_alias_router(knowledge: Knowledge) -> APIRouter:
    """Return the router of ``POST /api/assess``: an alias of ``POST /api/v1/assess``.

    The same endpoint, body rules, limits, problem details and answer; kept for clients of the
    web app's older JSON route, and left out of the OpenAPI document (which names the one route).
    """
    router = APIRouter(route_class=_assess_route(knowledge))
    router.post(
        ASSESS_ALIAS,
        response_model=AssessmentContract,
        include_in_schema=False,
    )(_assess_endpoint(knowledge))
    return router


def _date(value: str | None, clock: Clock) -> dt.date:
    if value is None:
        return clock()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(
            "date is not a calendar date", location="date", expected="YYYY-MM-DD", got=value
        ) from exc


# --- routers ------------------------------------------------------------------------------------


def api_router(
    knowledge: Knowledge,
    *,
    clock: Clock = dt.date.today,
    sessions: InterviewStore | None = None,
    sessions_for: StoreFor | None = None,
) -> APIRouter:
    """Return the ``/api/v1`` router over one knowledge base.

    Args:
        knowledge: The knowledge base every endpoint uses.
        clock: Today's date, for FHIR records (ages, durations) when the request gives none.
        sessions: Where interview sessions are kept; a new
            :class:`~pinchpoint.service.store.MemoryInterviewStore` when omitted.
        sessions_for: Where one request's sessions are kept, when that depends on who asks (the
            web app passes its SQL store as the request's user sees it); ``sessions`` otherwise.
    """
    router = APIRouter(prefix="/api/v1", tags=["pinchpoint"], responses=_ERRORS, route_class=JsonRoute)
    questionnaire = to_json(build_questionnaire(knowledge))
    knowledge_body = _knowledge_out(knowledge)
    assess_case = _assess_endpoint(knowledge)
    if sessions_for is None:
        shared = sessions if sessions is not None else MemoryInterviewStore()

        def sessions_for(_request: Request) -> InterviewStore:
            return shared

    add_interview_routes(router, knowledge, sessions_for, AssessmentContract, _SESSION_ERRORS)
    add_text_routes(router, knowledge, _ERRORS)
    router.add_api_route(
        "/assess",
        assess_case,
        methods=["POST"],
        response_model=AssessmentContract,
        summary="Assess a case given as vocabulary ids",
        route_class_override=_assess_route(knowledge),
    )

    @router.get(
        "/knowledge", response_model=KnowledgeOut, summary="The knowledge base: ids, version, sources"
    )
    def get_knowledge() -> dict[str, Any]:
        return knowledge_body

    @router.get(
        "/fhir/Questionnaire", response_model=FhirResourceOut, summary="The intake as a FHIR Questionnaire"
    )
    def get_questionnaire() -> dict[str, Any]:
        return questionnaire

    @router.post(
        "/fhir/assess",
        response_model=FhirResourceOut,
        summary="Assess a FHIR QuestionnaireResponse or Bundle; answer a RiskAssessment",
    )
    def assess_fhir_resource(
        resource: Annotated[dict[str, Any], _FHIR_BODY], date: Annotated[str | None, _DATE] = None
    ) -> dict[str, Any]:
        fhir_input = read_fhir(resource, knowledge, today=_date(date, clock), origin="body")
        assessment = assess_fhir(fhir_input, knowledge)
        return to_json(
            risk_assessment(assessment, knowledge, subject=fhir_input.subject, basis=fhir_input.basis)
        )

    @router.post(
        "/fhir/plan",
        response_model=FhirResourceOut,
        summary="Assess a FHIR QuestionnaireResponse or Bundle; answer a CarePlan with ServiceRequests",
    )
    def plan_fhir_resource(
        resource: Annotated[dict[str, Any], _FHIR_BODY], date: Annotated[str | None, _DATE] = None
    ) -> dict[str, Any]:
        fhir_input = read_fhir(resource, knowledge, today=_date(date, clock), origin="body")
        assessment = assess_fhir(fhir_input, knowledge)
        plan, requests = care_plan(
            assessment_plan_items(assessment, knowledge), knowledge, subject=fhir_input.subject
        )
        return to_json(care_plan_bundle(plan, requests))

    return router


def cds_router(knowledge: Knowledge, *, clock: Clock = dt.date.today) -> APIRouter:
    """Return the CDS Hooks router: discovery, the services, and their feedback endpoints.

    Args:
        knowledge: The knowledge base every service uses.
        clock: Today's date (ages from birth dates, durations from onsets).
    """
    router = APIRouter(tags=["CDS Hooks"], route_class=JsonRoute)
    responses: dict[int | str, dict[str, Any]] = {
        **_ERRORS,
        404: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "No such service"},
        412: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Prefetch data missing"},
    }
    request_schema = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["hook", "hookInstance", "context"],
                        "properties": {
                            "hook": {"type": "string"},
                            "hookInstance": {"type": "string"},
                            "context": {"type": "object"},
                            "prefetch": {"type": ["object", "null"]},
                        },
                        "additionalProperties": True,
                    }
                }
            },
        }
    }

    @router.get("/cds-services", response_model=DiscoveryOut, summary="CDS Hooks discovery")
    def get_services() -> dict[str, Any]:
        return discovery()

    @router.post(
        "/cds-services/{service_id}",
        response_model=CdsResponseOut,
        response_model_exclude_none=True,
        responses=responses,
        openapi_extra=request_schema,
        summary="Call a CDS service",
    )
    async def call_service(service_id: str, request: Request) -> dict[str, Any]:
        _known_service(service_id)
        body = await read_json_body(request)
        return await run_cpu(partial(handle_request, service_id, body, knowledge, today=clock()))

    @router.post(
        "/cds-services/{service_id}/feedback",
        responses=responses,
        openapi_extra=request_schema,
        summary="Feedback on cards (accepted or overridden); acknowledged, not stored",
    )
    async def feedback(service_id: str, request: Request) -> dict[str, Any]:
        _known_service(service_id)
        body = await read_json_body(request)
        items = body.get("feedback") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InvalidRequestError(
                "the feedback body has no feedback array",
                location="$.feedback",
                expected="an array of feedback objects",
                got=type(items).__name__,
            )
        return {}

    return router


def _known_service(service_id: str) -> None:
    if service_id not in SERVICES:
        raise StarletteHTTPException(status_code=404, detail=f"no CDS service {service_id!r}")


def _knowledge_out(knowledge: Knowledge) -> dict[str, Any]:
    vocabulary = knowledge.vocabulary
    return {
        "version": knowledge.version,
        "triage": [{"id": key, "description": text} for key, text in vocabulary.triage.items()],
        "sites": [{"id": site, "description": spec.description} for site, spec in vocabulary.sites.items()],
        "causes": [{"id": cause, "description": text} for cause, text in vocabulary.causes.items()],
        "findings": [
            {
                "id": spec.id,
                "type": spec.type,
                "description": spec.description,
                "values": list(spec.values) or None,
                "minimum": spec.minimum,
                "maximum": spec.maximum,
            }
            for spec in vocabulary.findings.values()
        ],
        "sources": [
            {"id": key, "title": source.title, "kind": source.kind, "year": source.year, "url": source.url}
            for key, source in knowledge.sources.items()
        ],
    }


# --- errors as problem details ------------------------------------------------------------------


_STATUS_BY_ERROR: tuple[tuple[type[PinchpointError], int], ...] = (
    (PrefetchMissingError, 412),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (NotFoundError, 404),
    (InterviewConflictError, 409),
    (StoreError, 503),
    (InvalidRequestError, 400),
    (InputError, 422),
    (FhirMappingError, 422),
)
"""The HTTP status of each kind of error, most specific first; anything else is a 500."""


def error_status(error: PinchpointError) -> int:
    """Return the HTTP status of one of pinchpoint's errors (500 for a knowledge error: a bug)."""
    return next((status for kind, status in _STATUS_BY_ERROR if isinstance(error, kind)), 500)


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **members: str | None
) -> JSONResponse:
    """Return an RFC 9457 problem response (with ``headers``, such as ``Allow`` on a 405)."""
    slug = title.lower().replace(" ", "-")
    body = {"type": _PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body |= {key: value for key, value in members.items() if value is not None}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def _field(location: str) -> str | None:
    for prefix in ("body: ", "request: "):
        if location.startswith(prefix):
            return location[len(prefix) :]
    return location or None


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` an ``application/problem+json`` response (RFC 9457).

    pinchpoint's own errors keep their ``location``, ``expected`` and ``got`` as the members
    ``field``, ``expected``, ``got``; FastAPI's request validation errors name the field likewise.
    """
    for kind in (PinchpointError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, problem_response)


async def problem_response(_: Request, exc: Exception) -> JSONResponse:
    """Answer any error raised while serving the API as problem details (RFC 9457).

    The web app calls this for its ``/api/v1`` and ``/cds-services`` paths, so the API
    answers alike whether it is served alone or beside the pages.
    """
    if isinstance(exc, PinchpointError):
        status = error_status(exc)
        if status == 500:
            _log.error("knowledge error while answering a request: %s", describe_bug(exc))
            return problem(500, "Internal error", "pinchpoint could not answer; the error is logged")
        got = None if exc.got is None else str(exc.got)
        title = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__.removesuffix("Error")).capitalize()
        field, expected = _field(exc.location), exc.expected or None
        return problem(status, title, str(exc), field=field, expected=expected, got=got)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"][1:] if part != "body") or "body"
        detail = f"{location}: {first['msg']}"
        value = first.get("input")
        got = None if value is None else json.dumps(value, default=str)[:200]
        return problem(422, "Invalid request", detail, field=location, expected=first["msg"], got=got)
    if isinstance(exc, StarletteHTTPException):
        title = "Not found" if exc.status_code == 404 else "HTTP error"
        return problem(exc.status_code, title, str(exc.detail), headers=exc.headers)
    _log.error("unexpected error while answering a request: %s", describe_bug(exc))
    return problem(500, "Internal error", "pinchpoint could not answer; the error is logged")


def describe_bug(exc: BaseException) -> str:
    """Describe an unexpected error for the log by its kind and where it was raised, never its message.

    The message of an error raised while answering may hold what the request said (a finding
    and its value, free text); the log of a clinic's server must not. The kind of each error
    chained by ``raise ... from`` and the last frames of the traceback (file, line, function)
    locate the bug.
    """
    kinds: list[str] = []
    error: BaseException | None = exc
    while error is not None and len(kinds) < 5:
        kinds.append(type(error).__name__)
        error = error.__cause__
    frames = traceback.extract_tb(exc.__traceback__)[-_FRAMES_LOGGED:]
    where = " < ".join(
        f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )
    return f"{' from '.join(kinds)} at {where or 'an unknown place'}"


_FRAMES_LOGGED = 8


def create_api_app(
    knowledge: Knowledge, *, clock: Clock = dt.date.today, sessions: InterviewStore | None = None
) -> FastAPI:
    """Return an app serving the REST API and the CDS Hooks services over ``knowledge``.

    Interview sessions are kept in ``sessions``, in this process's memory when omitted.
    """
    app = FastAPI(
        title="pinchpoint API",
        version=__version__,
        description=(
            "Clinical decision support for a pinched nerve in the leg. pinchpoint supports, and does "
            "not replace, a clinician's judgement. Knowledge version " + knowledge.version + "."
        ),
    )
    app.include_router(api_router(knowledge, clock=clock, sessions=sessions))
    app.include_router(cds_router(knowledge, clock=clock))
    install_problem_handlers(app)
    return app
