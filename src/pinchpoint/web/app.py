"""The FastAPI application: pages, the JSON endpoints, error handling and logging.

:func:`create_app` builds it from :class:`~pinchpoint.web.settings.Settings`, the
knowledge and a :class:`~pinchpoint.service.store.Store`. Routes::

    GET  /                              start page
    GET  /check                         self-check: the adaptive interview, one question at a time
                                        (routes in pinchpoint.web.interview)
    GET  /check/form                    self-check on one page: facts, body maps, symptoms (?from=ID)
    POST /check/form                    assess and save it; 303 to the result, or 422 with the form
    GET  /clinician                     clinician mode: the examination form (?from=ID reopens)
    POST /clinician                     assess and save it; 303 to the result, or 422 with the form
    POST /api/preview?page=clinician    the live assessment of a half-filled form (JSON, not saved)
    POST /clinician/note                a pasted clinical note read into the clinician form, to check
    POST /api/assess                    an alias of POST /api/v1/assess (pinchpoint.api.app)
    GET  /history                       saved assessments, newest first
    GET  /assessments/{id}              one saved assessment, as it was saved
    POST /assessments/{id}/reassess     assess its case again with the current knowledge: a new
                                        saved result; 303 to it (the first one stays)
    POST /assessments/{id}/delete       delete it; 303 to the history
    GET  /api/assessments/{id}          a saved record as JSON
    DELETE /api/assessments/{id}        delete it
    GET  /healthz                       liveness and the knowledge version
    GET  /static/...                    the local script, styles and icons
    GET  /login, POST /login            the login form; POST /logout ends the session
                                        (pinchpoint.web.auth)

Every route but ``/healthz``, ``/login`` and the static files is behind
:class:`~pinchpoint.web.auth.AuthMiddleware`: a request without credentials is redirected to
the login page (pages) or answered 401 (``/api/`` and ``/cds-services``), except the one local
owner's on a loopback server without accounts. Each route reaches the store as its principal
(:func:`~pinchpoint.web.auth.owned_store`): a user lists, reads, re-assesses and deletes their own
records only (an admin every assessment), and every access is in the access log.

Bad input is answered with a 4xx and a readable reason: an HTML page (or the form again,
with a message at each field) for the pages, a JSON ``{"error": {...}}`` for the other
``/api/`` routes, and the REST API's problem details for ``/api/v1``, ``/cds-services`` and
the alias ``/api/assess``.
No request ever shows a traceback. Logs hold the method, the route (never the URL with
its values), the status and the time taken: never a finding.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from pinchpoint import __version__
from pinchpoint.api.app import (
    API_PATHS,
    ASSESS_ALIAS,
    api_router,
    assess_alias_router,
    cds_router,
    describe_bug,
    error_status,
    problem_response,
)
from pinchpoint.api.cds_auth import CdsIssuer, CdsVerifier
from pinchpoint.api.cpu import run_cpu
from pinchpoint.core.assessment import Assessment
from pinchpoint.core.case import Case, parse_case
from pinchpoint.core.engine import assess
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import InputError, InvalidRequestError, PinchpointError, StoreError
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.accounts import Accounts
from pinchpoint.service.contract import to_contract
from pinchpoint.service.store import AssessmentRecord, OwnedStore, Store
from pinchpoint.web.auth import AuthMiddleware, Gate, LoginPages, owned_store, principal_context
from pinchpoint.web.bodymap import region_label, render_map
from pinchpoint.web.content import WebContent, load_content
from pinchpoint.web.forms import FORM_LEVEL, FormResult, Page, build_page, findings_to_form, parse_form
from pinchpoint.web.interview import InterviewPages
from pinchpoint.web.limits import LimitsMiddleware
from pinchpoint.web.note import NotePage
from pinchpoint.web.security import SecurityMiddleware
from pinchpoint.web.settings import Settings
from pinchpoint.web.text import TextPages
from pinchpoint.web.views import result_view, saved_assessment, site_name

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 256 * 1024
"""The largest request body accepted: a full examination form is a few kilobytes."""

_MAX_FIELDS = 2000
_RECORD_ID = re.compile(r"^[0-9a-f]{32}$")
_FORM_TYPE = "application/x-www-form-urlencoded"
_JSON_TYPE = "application/json"
_PAGES: tuple[Page, ...] = ("self_check", "clinician")
_PAGE_PATH: dict[Page, str] = {"self_check": "/check/form", "clinician": "/clinician"}
_HISTORY_LIMIT = 500

log = logging.getLogger("pinchpoint.web")


class _BadRequestError(Exception):
    """A request the server cannot read: the status and a readable reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def create_app(
    settings: Settings,
    *,
    knowledge: Knowledge | None = None,
    store: Store | None = None,
    content: WebContent | None = None,
    accounts: Accounts | None = None,
) -> FastAPI:
    """Build the web application.

    Args:
        settings: Where it runs and which database it uses.
        knowledge: The knowledge to assess with; the packaged knowledge when omitted.
        store: The store to save to; opened from ``settings`` (and migrated) when omitted.
        content: The pages' data; read from the package and checked against
            ``knowledge`` when omitted.
        accounts: The accounts that may log in; those of ``store``'s database when omitted
            (tests pass cheaper password hashing).

    Raises:
        KnowledgeError: The knowledge or the pages' data files are broken.
        StoreError: The database cannot be opened or migrated.
        CdsAuthError: A CDS issuer's keys cannot be read.
    """
    knowledge = knowledge or load_knowledge()
    content = content or load_content(knowledge)
    owns_store = store is None
    store = store or Store.open(
        settings.resolved_database_url(), session_idle_limit=settings.session_idle_limit
    )
    cds = CdsVerifier([CdsIssuer(issuer, jwks) for issuer, jwks in settings.cds_issuers])
    gate = Gate(settings, accounts or Accounts(store.engine), cds)
    pages = _Pages(knowledge, content, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        yield
        if owns_store:
            store.close()

    app = FastAPI(
        title="pinchpoint API",
        version=__version__,
        docs_url=None,  # the interactive docs would load third-party scripts
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=lifespan,
    )
    app.state.knowledge = knowledge
    app.state.store = store
    app.state.content = content
    app.state.templates = pages.templates
    app.mount("/static", StaticFiles(packages=[("pinchpoint.web", "static")]), name="static")
    app.state.gate = gate
    pages.register(app)
    pages.interviews.register(app)
    TextPages(knowledge, pages.interviews, pages.render, _form_items).register(app)
    # Clinician mode: POST /clinician/note reads a pasted note into the clinician form (web/note.py).
    NotePage(knowledge, content, pages.render_form, _form_items).register(app)
    LoginPages(gate, pages.render, _form_items).register(app)
    app.include_router(
        api_router(knowledge, sessions=store, sessions_for=lambda request: owned_store(store, request))
    )
    app.router.routes.extend(assess_alias_router(knowledge).routes)  # a plain route: the log names it
    app.include_router(cds_router(knowledge))
    _register_errors(app, pages)
    app.add_middleware(AuthMiddleware, gate=gate)
    # Outside the login check, inside the security middleware: overload is refused before any
    # credential is looked up, refused requests are logged too, and every refusal gets the headers.
    app.add_middleware(LimitsMiddleware)
    app.add_middleware(SecurityMiddleware, allowed_hosts=settings.resolved_allowed_hosts(), tls=settings.tls)
    return app


class _Pages:
    """The route handlers, sharing the knowledge, the page data, the store and the templates."""

    def __init__(self, knowledge: Knowledge, content: WebContent, store: Store) -> None:
        self.knowledge = knowledge
        self.content = content
        self.store = store
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("pinchpoint.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(
            ui=content.ui,
            knowledge_version=knowledge.version,
            vocabulary=knowledge.vocabulary,
            names=knowledge.names,
            verdict_words=content.ui.verdicts,
            source_title=self.source_title,
            signed_in=lambda: principal_context()["signed_in"],
        )
        self.sections = {page: build_page(page, knowledge, content) for page in _PAGES}
        self.interviews = InterviewPages(knowledge, content, self.store_for, self.render, _form_items)

    def store_for(self, request: Request) -> OwnedStore:
        """The store as the request's principal sees it (their records; every access logged)."""
        return owned_store(self.store, request)

    def source_title(self, source: str) -> str:
        """Return the title of a source id of sources.yaml (the id itself when unknown)."""
        entry = self.knowledge.sources.get(source)
        return str(getattr(entry, "title", source)) if entry is not None else source

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a template into an HTML response."""
        return HTMLResponse(self.templates.get_template(template).render(**context), status_code=status)

    def register(self, app: FastAPI) -> None:
        """Add every route to ``app``; the pages stay out of the API's OpenAPI document."""
        routes: list[tuple[str, Callable[..., Awaitable[Response]], str]] = [
            ("/", self.home, "GET"),
            ("/check/form", self.check_form, "GET"),
            ("/check/form", self.check_submit, "POST"),
            ("/clinician", self.clinician_form, "GET"),
            ("/clinician", self.clinician_submit, "POST"),
            ("/api/preview", self.preview, "POST"),
            ("/history", self.history, "GET"),
            ("/assessments/{record_id}", self.show, "GET"),
            ("/assessments/{record_id}/delete", self.delete, "POST"),
            ("/assessments/{record_id}/reassess", self.reassess, "POST"),
            ("/api/assessments/{record_id}", self.api_record, "GET"),
            ("/api/assessments/{record_id}", self.api_delete, "DELETE"),
            ("/healthz", self.health, "GET"),
        ]
        for path, endpoint, method in routes:
            app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)

    # --- pages -----------------------------------------------------------------------------------

    async def home(self) -> HTMLResponse:
        """The start page: self-check, clinician mode, history."""
        return self.render("home.html", nav="home")

    async def check_form(self, request: Request) -> HTMLResponse:
        """The self-check form, empty or filled from a saved case (``?from=ID``)."""
        return self.render_form("self_check", values=await self._reopened(request), errors={})

    async def clinician_form(self, request: Request) -> HTMLResponse:
        """The clinician form, empty or filled from a saved case (``?from=ID``)."""
        values = await self._reopened(request)
        return self.render_form("clinician", values=values, errors={}, live=self._live_for(values))

    async def check_submit(self, request: Request) -> Response:
        """Assess and save a self-check; on bad input, the form again with every problem (422)."""
        return await self._submit(request, "self_check")

    async def clinician_submit(self, request: Request) -> Response:
        """Assess and save a clinician examination; on bad input, the form again (422)."""
        return await self._submit(request, "clinician")

    async def history(self, request: Request) -> HTMLResponse:
        """The saved assessments (the user's own; every one for an admin), newest first."""
        records = await run_in_threadpool(self.store_for(request).list_assessments, limit=_HISTORY_LIMIT)
        rows = [
            {
                "record": record,
                "level": self.content.ui.levels.get(record.triage),
                "summary": self._summary(record),
            }
            for record in records
        ]
        return self.render("history.html", nav="history", rows=rows)

    async def show(self, request: Request, record_id: str) -> HTMLResponse:
        """One saved assessment as it was saved: the result the person was given."""
        record = await self._record(request, record_id)
        case = self._stored_case(record)
        return self.render(
            "result.html",
            nav="history",
            record=record,
            view=result_view(
                self._as_saved(record, case), self.knowledge, self.content, findings=case.findings
            ),
            case_findings=self._findings_in_words(case),
            edit_url=f"{_PAGE_PATH[_page_of(record)]}?from={record.id}",
            reopen_url=await self.interviews.reopen_path(request, record.id),
            other_knowledge=record.knowledge_version != self.knowledge.version,
        )

    async def reassess(self, request: Request, record_id: str) -> RedirectResponse:
        """Assess a saved case again with the current knowledge, saved as a new result (the old one stays).

        The warnings saved with the old result (an interview's "don't know" red flags) are kept.
        The new result belongs to whoever asked (an admin re-assessing another's record gets it).
        """
        record = await self._record(request, record_id)
        assessment = _with_saved_warnings(assess(self._stored_case(record), self.knowledge), record)
        store = self.store_for(request)
        saved = await run_in_threadpool(
            lambda: store.save_assessment(case=record.case, result=to_contract(assessment), mode=record.mode)
        )
        return RedirectResponse(f"/assessments/{saved.id}", status_code=303)

    def _as_saved(self, record: AssessmentRecord, case: Case) -> Assessment:
        """The saved result as an assessment, for the page.

        With the knowledge it was saved with, assessing the saved case gives the saved result
        again, and with the person's wording of every reason: that assessment is shown when it
        is equal to the saved one. Otherwise the saved JSON itself is read (:func:`saved_assessment`).
        """
        if record.knowledge_version == self.knowledge.version:
            again = _with_saved_warnings(assess(case, self.knowledge), record)
            if json.loads(json.dumps(to_contract(again))) == record.result:
                return again
        try:
            return saved_assessment(record.result, self.knowledge)
        except (KeyError, ValueError, TypeError) as exc:
            raise HTTPException(
                409, "This saved result cannot be shown: it is not in the form pinchpoint saves results in."
            ) from exc

    async def delete(self, request: Request, record_id: str) -> RedirectResponse:
        """Delete a saved assessment and go back to the history."""
        _check_id(record_id)
        if not await run_in_threadpool(self.store_for(request).delete_assessment, record_id):
            raise HTTPException(404, "There is no saved assessment with this id; it may have been deleted.")
        return RedirectResponse("/history?deleted=1", status_code=303)

    # --- JSON ------------------------------------------------------------------------------------

    async def preview(self, request: Request) -> JSONResponse:
        """The live assessment of a form as it is being filled: triage, leading site, the panel's HTML."""
        page_name = request.query_params.get("page", "clinician")
        if page_name not in _PAGES:
            raise _BadRequestError(400, f"Unknown page {page_name!r}; expected one of {', '.join(_PAGES)}.")
        page: Page = "clinician" if page_name == "clinician" else "self_check"
        items = await _form_items(request)
        result = parse_form(items, page, self.knowledge, self.content)
        if result.case is None:
            message = "Some answers need another look: " + " ".join(result.errors.values())
            return JSONResponse(
                {"ok": False, "errors": dict(result.errors), "error": {"status": 422, "message": message}},
                status_code=422,
            )
        if not result.case.findings:  # nothing entered yet: no assessment at all, not a guess
            return JSONResponse(
                {
                    "ok": True,
                    "triage": None,
                    "site": None,
                    "territory": [],
                    "html": self.templates.get_template("partials/live_empty.html").render(),
                }
            )
        assessment = await run_cpu(assess, result.case, self.knowledge)
        view = result_view(assessment, self.knowledge, self.content, findings=result.case.findings)
        html = self.templates.get_template("partials/live.html").render(view=view)
        return JSONResponse(
            {
                "ok": True,
                "triage": assessment.triage.id,
                "site": view.site.id if view.site else None,
                "territory": list(_territory_ids(view)),
                "html": html,
            }
        )

    async def api_record(self, request: Request, record_id: str) -> JSONResponse:
        """A saved record: its case and the result saved with it."""
        record = await self._record(request, record_id)
        return JSONResponse(
            {
                "id": record.id,
                "created_at": record.created_at.isoformat(),
                "mode": record.mode,
                "case": record.case,
                "result": record.result,
            }
        )

    async def api_delete(self, request: Request, record_id: str) -> Response:
        """Delete a saved record (204), or 404."""
        _check_id(record_id)
        if not await run_in_threadpool(self.store_for(request).delete_assessment, record_id):
            raise HTTPException(404, "There is no saved assessment with this id.")
        return Response(status_code=204)

    async def health(self) -> JSONResponse:
        """Liveness, with the knowledge version in use."""
        return JSONResponse({"status": "ok", "knowledge_version": self.knowledge.version})

    # --- helpers ---------------------------------------------------------------------------------

    def render_form(
        self,
        page: Page,
        *,
        values: Mapping[str, str | tuple[str, ...]],
        errors: Mapping[str, str],
        live: Any = None,
        status: int = 200,
        **extra: Any,
    ) -> HTMLResponse:
        """Render a page's form with its values and errors (``extra``: more for the template)."""
        maps = {
            field.base: render_map(self.knowledge, self.content, selected=values.get(field.base, ()))
            for section in self.sections[page]
            for field in section.fields
            if field.kind == "map"
        }
        return self.render(
            "check.html" if page == "self_check" else "clinician.html",
            status=status,
            nav=page,
            page=page,
            action=_PAGE_PATH[page],
            sections=self.sections[page],
            values=values,
            errors=errors,
            form_error=errors.get(FORM_LEVEL, ""),
            maps=maps,
            region_labels={
                r: region_label(self.knowledge, self.content, r) for r in self.knowledge.vocabulary.region_ids
            },
            live=live,
            **extra,
        )

    async def _submit(self, request: Request, page: Page) -> Response:
        items = await _form_items(request)
        result = parse_form(items, page, self.knowledge, self.content)
        if result.case is None:
            live = self._live_for(result.values) if page == "clinician" else None
            return self.render_form(page, values=result.values, errors=result.errors, live=live, status=422)
        assessment = await run_cpu(assess, result.case, self.knowledge)
        record = await run_in_threadpool(self._save, self.store_for(request), result, assessment, page)
        return RedirectResponse(f"/assessments/{record.id}", status_code=303)

    def _save(
        self, store: OwnedStore, result: FormResult, assessment: Assessment, page: Page
    ) -> AssessmentRecord:
        return store.save_assessment(
            case={"id": "web", "findings": _jsonable(result.findings)},
            result=to_contract(assessment),
            mode=page,
        )

    def _live_for(self, values: Mapping[str, str | tuple[str, ...]]) -> Any:
        """The live panel's first content: the assessment of the form as it stands, if it is valid."""
        items = [
            (name, item)
            for name, value in values.items()
            for item in (value if isinstance(value, tuple) else (value,))
        ]
        result = parse_form(items, "clinician", self.knowledge, self.content)
        if result.case is None or not result.case.findings:  # an empty form shows no assessment
            return None
        findings = result.case.findings
        return result_view(
            assess(result.case, self.knowledge), self.knowledge, self.content, findings=findings
        )

    async def _reopened(self, request: Request) -> dict[str, str | tuple[str, ...]]:
        record_id = request.query_params.get("from")
        if not record_id:
            return {}
        record = await self._record(request, record_id)
        return findings_to_form(self._stored_case(record).findings)

    async def _record(self, request: Request, record_id: str) -> AssessmentRecord:
        _check_id(record_id)
        record = await run_in_threadpool(self.store_for(request).get_assessment, record_id)
        if record is None:
            raise HTTPException(404, "There is no saved assessment with this id; it may have been deleted.")
        return record

    def _stored_case(self, record: AssessmentRecord) -> Case:
        return parse_case(record.case, self.knowledge.vocabulary, origin=f"saved assessment {record.id}")

    def _summary(self, record: AssessmentRecord) -> str:
        sites = record.result.get("sites") or []
        if not sites or not isinstance(sites[0], Mapping):
            return ""
        return site_name(str(sites[0].get("id", "")), self.knowledge, self.content)

    def _findings_in_words(self, case: Case) -> list[tuple[str, str]]:
        words = []
        specs = self.knowledge.vocabulary.findings
        for name, value in case.findings.items():
            spec = specs[name]
            label = spec.description
            if spec.item:
                label = f"{spec.item.replace('_', ' ')}"
            if spec.side:
                label += f" ({self.content.ui.sides[spec.side]})"
            if isinstance(value, bool):
                shown = "yes" if value else "no"
            elif isinstance(value, tuple):
                shown = ", ".join(region_label(self.knowledge, self.content, r) for r in value) or "none"
            else:
                shown = str(value)
            words.append((label[:1].upper() + label[1:], shown))
        return words


def _with_saved_warnings(assessment: Assessment, record: AssessmentRecord) -> Assessment:
    """Keep the warnings saved with a record (an interview's "don't know" red flags): never drop one."""
    saved = record.result.get("warnings")
    if not isinstance(saved, list):
        return assessment
    kept = tuple(dict.fromkeys((*(str(w) for w in saved), *assessment.warnings)))
    return replace(assessment, warnings=kept)


def _page_of(record: AssessmentRecord) -> Page:
    return "clinician" if record.mode == "clinician" else "self_check"


def _territory_ids(view: Any) -> tuple[str, ...]:
    return tuple(shape.region for panel in view.bodymap for shape in panel.shapes if shape.degree > 0)


def _jsonable(findings: Mapping[str, Any]) -> dict[str, Any]:
    return {name: list(value) if isinstance(value, tuple) else value for name, value in findings.items()}


def _check_id(record_id: str) -> None:
    if not _RECORD_ID.match(record_id):
        raise HTTPException(
            404, "There is no saved assessment with this id (an id is 32 letters and digits)."
        )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _BadRequestError(
            413, f"The request is too large; at most {MAX_BODY_BYTES // 1024} KiB is accepted."
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _BadRequestError(
                413, f"The request is too large; at most {MAX_BODY_BYTES // 1024} KiB is accepted."
            )
    return bytes(body)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _form_items(request: Request) -> list[tuple[str, str]]:
    """Read an URL-encoded form body as (name, value) pairs, refusing anything else."""
    if _media_type(request) != _FORM_TYPE:
        raise _BadRequestError(
            415, f"The form must be sent as {_FORM_TYPE} (got {_media_type(request) or 'nothing'})."
        )
    body = await _read_body(request)
    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text, keep_blank_values=True, max_num_fields=_MAX_FIELDS, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError as exc:
        raise _BadRequestError(400, "The form is not UTF-8 text; send it from the page again.") from exc
    except ValueError as exc:
        raise _BadRequestError(
            413, f"The form has too many fields; at most {_MAX_FIELDS} are accepted."
        ) from exc


# --- errors and logs -----------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _register_errors(app: FastAPI, pages: _Pages) -> None:
    def error(
        request: Request, status: int, title: str, reason: str, detail: Mapping[str, Any] | None = None
    ) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": {"status": status, "message": reason, **(detail or {})}}, status_code=status
            )
        return pages.render("error.html", status=status, nav="", title=title, reason=reason)

    async def input_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InputError)
        detail = {
            "problem": exc.problem,
            "location": exc.location,
            "expected": exc.expected,
            "got": exc.got if isinstance(exc.got, str | int | float | bool | None) else repr(exc.got),
        }
        if isinstance(exc, InvalidRequestError):  # the body cannot be read: 400, 413 or 415
            return error(request, error_status(exc), "The request cannot be read", str(exc), detail)
        return error(request, 422, "The input cannot be used", str(exc), detail)

    async def store_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        log.error("store error: %s", exc.problem)
        return error(request, 503, "The database is not available", str(exc))

    async def other_pinchpoint_error(request: Request, exc: Exception) -> Response:
        log.error("pinchpoint error: %s", type(exc).__name__)
        return error(request, 500, "pinchpoint could not answer", str(exc))

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _BadRequestError)
        return error(request, exc.status, "The request cannot be read", exc.reason)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = (
            exc.detail if exc.status_code != 405 else "This address does not accept that kind of request."
        )
        if exc.status_code == 404 and exc.detail == "Not Found":
            reason = "There is no page at this address."
        titles = {404: "Not found", 405: "Not allowed"}
        return error(
            request, exc.status_code, titles.get(exc.status_code, "The request cannot be served"), str(reason)
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        return error(request, 422, "The request cannot be read", "The request's parameters are not valid.")

    async def bug(request: Request, exc: Exception) -> Response:
        log.error(
            "unexpected error while answering %s %s: %s",
            request.method,
            _route_of(request),
            describe_bug(exc),
        )
        return error(
            request,
            500,
            "Something went wrong",
            "pinchpoint could not answer this request. Nothing was saved by it.",
        )

    handlers: list[tuple[type[Exception] | int, Callable[[Request, Exception], Awaitable[Response]]]] = [
        (InputError, input_error),
        (StoreError, store_error),
        (PinchpointError, other_pinchpoint_error),
        (_BadRequestError, bad_request),
        (HTTPException, http_error),
        (RequestValidationError, validation_error),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, _pages_only(handler))
    # Any other error is answered inside the limits middleware (web/limits.py), not by Starlette's
    # outermost error handler, so that its 500 carries the security headers and is logged once.
    app.state.answer_bug = _pages_only(bug)


def _pages_only(
    handler: Callable[[Request, Exception], Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Leave the errors of the REST API and the CDS services to their problem details."""

    async def dispatch(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(API_PATHS) or request.url.path == ASSESS_ALIAS:
            return await problem_response(request, exc)
        return await handler(request, exc)

    return dispatch


def _route_of(request: Request) -> str:
    """Return the route template that matches the request (``/assessments/{record_id}``), never its values."""
    if request.url.path.startswith("/static/"):
        return "/static/{file}"
    template = getattr(request.scope.get("route"), "path", None)  # set by the router, included ones too
    if isinstance(template, str):
        return template
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "?"))
    return "(no route)"
