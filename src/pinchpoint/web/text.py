"""Free text on the self-check's first page: described symptoms become proposals to confirm.

``POST /check/text`` reads the description (:func:`pinchpoint.io.freetext.read_text`) and shows
the story view: the description with the words that were read marked, every proposed finding with
the words it came from and a choice to accept or reject it (accepted unless the person says no),
the warning signs it left for the questions and why, and what to do now if the proposals make an
emergency. ``POST /check/text/confirm`` starts the interview from the story and the accepted
proposals through the one service (:meth:`pinchpoint.service.sessions.InterviewService.start_from_story`,
as the REST story-first start does): nothing read from text counts until the person has accepted
it, and the interview asks only what is still open, every warning sign not settled included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from pinchpoint.api.cpu import run_cpu
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.core.questions import Mode
from pinchpoint.errors import AdapterError, InputError
from pinchpoint.io.freetext import (
    Mention,
    TextReading,
    emergency_in_text,
    phrase_table,
    read_text,
)
from pinchpoint.web.forms import finding_labels
from pinchpoint.web.interview import FormReader, InterviewPages, Items, form_values

__all__ = ["TextPages"]

_YES_NO = {True: "yes", False: "no"}
_ACCEPT = "accept"


class TextPages:
    """The free-text routes, handing confirmed findings to the interview pages."""

    def __init__(
        self,
        knowledge: Knowledge,
        interviews: InterviewPages,
        render: Callable[..., HTMLResponse],
        read_form: FormReader,
    ) -> None:
        self.knowledge = knowledge
        self.interviews = interviews
        self.render = render
        self.read_form = read_form
        self.labels = finding_labels(knowledge, interviews.content)

    def register(self, app: FastAPI) -> None:
        """Add the routes to ``app`` (kept out of the API's OpenAPI document)."""
        app.add_api_route("/check/text", self.read, methods=["POST"], include_in_schema=False)
        app.add_api_route("/check/text/confirm", self.confirm, methods=["POST"], include_in_schema=False)

    async def read(self, request: Request) -> Response:
        """Show what the description proposes, each item ticked, for the person to confirm."""
        _, mode, reading = await self._read(request)
        if isinstance(reading, HTMLResponse):
            return reading
        return self.render(
            "text_confirm.html",
            nav="clinician" if mode == "clinician" else "self_check",
            mode=mode,
            text=reading.text,
            marked=_marked(reading),
            notice=getattr(phrase_table(self.knowledge).notice, _wording(mode)),
            proposals=[self._proposal(number, mention) for number, mention in enumerate(reading.proposals)],
            left=[self._left(mention, mode) for mention in reading.left_for_interview],
            emergency=emergency_in_text(reading, self.knowledge, mode),
        )

    async def confirm(self, request: Request) -> Response:
        """Start the interview from the story with the accepted proposals answered.

        A proposal counts only when its choice says ``accept`` (``proposal-N=accept``); a rejected
        one, or one with no choice sent, is not taken, and its question is asked.
        """
        items, mode, reading = await self._read(request)
        if isinstance(reading, HTMLResponse):
            return reading
        accepted = [
            number
            for number in range(len(reading.proposals))
            if form_values(items, f"proposal-{number}")[-1:] == [_ACCEPT]
        ]
        return await self.interviews.begin_from_story(request, reading.text, mode, accepted)

    async def _read(self, request: Request) -> tuple[Items, Mode, TextReading | HTMLResponse]:
        """Read the form and its description: the form, the mode, and the reading or the refusal page."""
        items = await self.read_form(request)
        mode = self.interviews.mode_of(items)
        return items, mode, await run_cpu(self._reading, _text(items), mode)  # off the event loop

    def _reading(self, text: str, mode: Mode) -> TextReading | HTMLResponse:
        """Read ``text``; refused or unreadable text comes back to the first page with why."""
        try:
            return read_text(text, self.knowledge, mode=mode)
        except InputError as exc:
            problem = f"{exc.problem[:1].upper()}{exc.problem[1:]}" + (
                f"; expected {exc.expected}" if exc.expected else ""
            )
            return self.interviews.start_page_with(mode, text=text, text_error=problem + ".", status=422)
        except AdapterError:  # the free-text extra is not installed on this server
            return self.interviews.start_page_with(mode, text=text, text_error="unavailable", status=503)

    def _proposal(self, number: int, mention: Mention) -> dict[str, Any]:
        return {"number": number, "words": mention.text, "finding": self._worded(mention)}

    def _left(self, mention: Mention, mode: Mode) -> dict[str, Any]:
        reason = phrase_table(self.knowledge).reasons[mention.reason]  # type: ignore[index]
        why = getattr(reason, _wording(mode))
        return {"words": mention.text, "finding": self._worded(mention), "why": why}

    def _worded(self, mention: Mention) -> str:
        """The finding a mention names, in words, with its proposed value."""
        spec = self.knowledge.vocabulary.findings.get(mention.finding)
        subject = self.labels.get(mention.finding) or (
            spec.description if spec is not None else mention.finding.replace("_", " ")
        )
        value = mention.value
        if value is None:
            return subject
        if isinstance(value, tuple):
            return f"{subject}: " + "; ".join(self.interviews.region_labels[region] for region in value)
        return f"{subject}: {_YES_NO.get(value, str(value)) if isinstance(value, bool) else value}"


def _marked(reading: TextReading) -> list[dict[str, Any]]:
    """The description in pieces, the words of each mention marked: what was read, where.

    Each piece is ``{"text": ..., "kind": None | "proposed" | "left" | "not_proposed"}``, in order;
    overlapping mentions are marked once, by the first.
    """
    kinds = {id(m): "proposed" for m in reading.proposals}
    kinds.update({id(m): "left" for m in reading.left_for_interview})
    pieces: list[dict[str, Any]] = []
    at = 0
    for mention in sorted(reading.mentions, key=lambda m: (m.start, -m.end)):
        if mention.start < at:
            continue
        if mention.start > at:
            pieces.append({"text": reading.text[at : mention.start], "kind": None})
        kind = kinds.get(id(mention), "not_proposed")
        pieces.append({"text": reading.text[mention.start : mention.end], "kind": kind})
        at = mention.end
    if at < len(reading.text):
        pieces.append({"text": reading.text[at:], "kind": None})
    return pieces


def _wording(mode: Mode) -> str:
    """Which wording of the lexicon a mode reads: the person's or the clinician's."""
    return "patient" if mode == "self_check" else "clinician"


def _text(items: Items) -> str:
    sent = form_values(items, "text")
    return sent[0] if sent else ""
