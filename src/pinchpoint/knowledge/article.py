"""Split the source article into sections and sentences, so that its coverage can be checked.

``article.yaml`` locates each claim of the article by short anchors, phrases that occur in
exactly one sentence. :func:`article_sentences` gives every sentence of the article's body
(headings, "Read also" links and the "Related Posts" tail are not claims), each with its
section, so that a test can demand that every sentence carries an anchor of a claim or of
a sentence declared to claim nothing. The function takes the text, not a path: reading
the file is the caller's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ArticleSentence", "article_sentences", "find_anchor"]

_LIST_ITEM = re.compile(r"^(?:[•\-*]|\d+\.)\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_TAIL = "Related Posts"
_LINK = "Read also"
_HEADING_MAX = 80
_CLAUSE_ENDS = (".", ",", ";", ":")


@dataclass(frozen=True, slots=True)
class ArticleSentence:
    """One sentence of the article's body, with the section it stands in and its block number."""

    section: str
    block: int
    text: str


def article_sentences(text: str) -> tuple[ArticleSentence, ...]:
    """Return the sentences of the article's body, in order.

    A block is a paragraph (lines between blank lines) or a list item. A one-line block
    that is short and does not end like a clause is a heading and starts a section; a
    heading that repeats the article's title does not. Lines starting "Read also" are
    links, and everything from "Related Posts" on belongs to another page.
    """
    blocks = _blocks(text)
    title = blocks[0] if blocks else ""
    section = title
    sentences: list[ArticleSentence] = []
    for number, block in enumerate(blocks):
        if block.startswith(_TAIL):
            break
        if block.startswith(_LINK):
            continue
        if _is_heading(block):
            if block != title:
                section = block
            continue
        body = _LIST_ITEM.sub("", block)
        sentences += [
            ArticleSentence(section, number, part.strip())
            for part in _SENTENCE_END.split(body)
            if part.strip()
        ]
    return tuple(sentences)


def find_anchor(anchor: str, sentences: tuple[ArticleSentence, ...]) -> list[ArticleSentence]:
    """Return the sentences an anchor points to (case-insensitive, spaces normalised).

    An anchor that is a whole sentence ("Injury.") points to the sentences equal to it;
    any other anchor points to the sentences that contain it.
    """
    wanted = _normal(anchor)
    exact = [sentence for sentence in sentences if _normal(sentence.text) == wanted]
    return exact or [sentence for sentence in sentences if wanted in _normal(sentence.text)]


def _blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if current:
                blocks.append(" ".join(current))
                current = []
            continue
        if _LIST_ITEM.match(line) and current:
            blocks.append(" ".join(current))
            current = []
        current.append(line)
    if current:
        blocks.append(" ".join(current))
    return blocks


def _is_heading(block: str) -> bool:
    return len(block) <= _HEADING_MAX and not _LIST_ITEM.match(block) and not block.endswith(_CLAUSE_ENDS)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())
