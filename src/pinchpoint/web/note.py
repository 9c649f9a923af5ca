"""Clinician mode: a pasted clinical note read into the examination form.

``POST /clinician/note`` reads the note with the free-text reader in clinician-note mode
(:func:`pinchpoint.io.freetext.read_text`, which also reads the notation only notes use, such
as ``EHL 4/5 L``) and shows the clinician form again with the fields it found filled in, each
marked as read from the note, for the clinician to check. Nothing is saved and nothing is
assessed: the live panel stays empty until the clinician changes a field or presses "Assess and
save". A red flag stated in the note acts at once, as on the free-text page: what to do now and
the emergency rules it fires head the page (:func:`pinchpoint.io.freetext.emergency_in_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pinchpoint.api.cpu import run_cpu
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import AdapterError, InputError
from pinchpoint.io.freetext import Mention, emergency_in_text, read_text
from pinchpoint.web.bodymap import region_label
from pinchpoint.web.content import WebContent
from pinchpoint.web.forms import finding_labels, findings_to_form, page_ids
from pinchpoint.web.interview import FormReader, form_values

__all__ = ["NotePage"]

_YES_NO = {True: "yes", False: "no"}


class NotePage:
    """The clinician-note route: read a note into the clinician form, to be checked."""

    def __init__(
        self,
        knowledge: Knowledge,
        content: WebContent,
        render_form: Callable[..., HTMLResponse],
        read_form: FormReader,
    ) -> None:
        self.knowledge = knowledge
        self.content = content
        self.render_form = render_form
        self.read_form = read_form
        self.labels = finding_labels(knowledge, content)

    def register(self, app: FastAPI) -> None:
        """Add the route to ``app`` (kept out of the API's OpenAPI document)."""
        app.add_api_route("/clinician/note", self.read, methods=["POST"], include_in_schema=False)

    async def read(self, request: Request) -> Response:
        """Show the clinician form filled from the note, every filled field marked, nothing assessed."""
        sent = form_values(await self.read_form(request), "note")
        text = sent[-1] if sent else ""
        try:
            reading = await run_cpu(partial(read_text, mode="clinician"), text, self.knowledge)
        except InputError as exc:
            problem = f"{exc.problem[:1].upper()}{exc.problem[1:]}" + (
                f"; expected {exc.expected}" if exc.expected else ""
            )
            return self._page(text, note_error=problem + ".", status=422)
        except AdapterError:  # the free-text extra is not installed on this server
            return self._page(
                text,
                note_error="Reading a note is not available on this server (the free-text extra is not "
                "installed); fill in the form instead.",
                status=503,
            )
        on_form = page_ids("clinician", self.knowledge, self.content)
        values = {
            name: value for name, value in findings_to_form(reading.findings()).items() if name in on_form
        }
        rows = [self._row(mention, mention.finding in on_form) for mention in reading.proposals]
        return self._page(
            text,
            values=values,
            note_read=rows,
            noted=frozenset(values),
            emergency=emergency_in_text(reading, self.knowledge, "clinician"),
        )

    def _page(self, text: str, *, status: int = 200, values: Any = None, **extra: Any) -> HTMLResponse:
        return self.render_form(
            "clinician", values=values or {}, errors={}, live=None, status=status, note=text, **extra
        )

    def _row(self, mention: Mention, on_form: bool) -> dict[str, Any]:
        """One proposal of the note: the words, the finding in words with its value, and where it went."""
        subject = self.labels.get(mention.finding, "")
        if not subject:
            spec = self.knowledge.vocabulary.findings.get(mention.finding)
            subject = spec.description if spec is not None else mention.finding.replace("_", " ")
        value = mention.value
        if isinstance(value, tuple):
            worded = "; ".join(region_label(self.knowledge, self.content, region) for region in value)
        elif isinstance(value, bool):
            worded = _YES_NO[value]
        else:
            worded = str(value)
        return {"words": mention.text, "finding": f"{subject}: {worded}", "on_form": on_form}
