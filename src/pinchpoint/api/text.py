"""``POST /api/v1/text``: free text in, proposed findings out (see :mod:`pinchpoint.io.freetext`).

The answer lists proposals to be confirmed, the red flags left for the interview and the mentions
that propose nothing, each with its span; it is never an assessment. Bad text (empty, longer than
:data:`~pinchpoint.io.freetext.MAX_TEXT_CHARS`, binary) is a 422 problem detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pinchpoint.core.knowledge import Knowledge
from pinchpoint.io.freetext import MAX_TEXT_CHARS, read_text

__all__ = ["TEXT_PATTERN", "TextIn", "TextReadingOut", "add_text_routes"]

_PLAIN = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]"
_WORD = r"[^\s\u0000-\u001f\u007f-\u009f\ufffd]"
TEXT_PATTERN = f"^{_PLAIN}*{_WORD}{_PLAIN}*$"
"""The text :func:`~pinchpoint.io.freetext.read_text` reads, as a JSON Schema (ECMA-262) pattern.

Characters other than C0 and C1 controls (tab, line feed and carriage return allowed) and the
replacement character U+FFFD (the trace of undecodable bytes), at least one of them not a space.
"""


class TextIn(BaseModel):
    """Free text to read, and whose wording the reasons take."""

    model_config = ConfigDict(extra="forbid")

    # The limits are documented here and enforced by read_text, so that every refusal of bad text
    # (empty, too long, binary) is the same InvalidTextError problem.
    text: str = Field(
        description=f"What the person or clinician wrote: plain text of at most {MAX_TEXT_CHARS} characters,"
        " not only spaces, with no control character but tab and line breaks (no U+0000-U+001F,"
        " U+007F-U+009F or U+FFFD otherwise)",
        json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT_CHARS, "pattern": TEXT_PATTERN},
    )
    mode: Literal["self_check", "clinician"] = Field(
        default="self_check",
        description="clinician: a note, read with examination notation (EHL 4/5 L, AJ absent R, 3/52)"
        " and reasons worded for a clinician",
    )


class CueOut(BaseModel):
    """A ConText cue that modifies a mention."""

    category: str
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class MentionOut(BaseModel):
    """One phrase found in the text, with its span and what it proposes (``value`` null: nothing)."""

    finding: str
    value: bool | int | float | str | list[str] | None
    phrase: str
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    red_flag: bool
    cues: list[CueOut]
    source: str
    reason: str | None = None
    why: str | None = None


class TextReadingOut(BaseModel):
    """What was read: proposals to confirm, red flags left for the interview, other mentions."""

    knowledge_version: str
    notice: str
    proposed: list[MentionOut]
    left_for_interview: list[MentionOut]
    not_proposed: list[MentionOut]
    findings: dict[str, bool | int | float | str | list[str]]


def add_text_routes(
    router: APIRouter, knowledge: Knowledge, problems: Mapping[int | str, dict[str, Any]]
) -> None:
    """Add ``POST /text`` to ``router`` (whose prefix is ``/api/v1``).

    Args:
        router: The API router.
        knowledge: The knowledge base whose lexicon is used.
        problems: The OpenAPI responses of problem details, by status.
    """

    @router.post(
        "/text",
        response_model=TextReadingOut,
        response_model_exclude_none=True,
        summary="Propose findings from free text (to be confirmed; not an assessment)",
        responses=dict(problems),
    )
    def post_text(body: TextIn) -> dict[str, Any]:
        return read_text(body.text, knowledge, mode=body.mode).to_dict(knowledge, body.mode)
