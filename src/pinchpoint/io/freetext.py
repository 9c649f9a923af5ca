"""Free-text intake: a person's or a clinician's words become proposed findings, safely.

An adapter at the edge, not part of the reasoning core. :func:`read_text` runs a blank English
spaCy pipeline with medspaCy's TargetMatcher (the wordings of ``phrases.yaml``) and ConText
(negation, uncertainty, hypothetical, historical and family cues: medspaCy's defaults plus the lay
cues of ``phrases.yaml``) and returns a :class:`TextReading`: every mention with its span, the
row it matched, the ConText cues that touched it and what it proposes.

Safety rules, enforced here and tested over the whole lexicon:

* Only an explicit, affirmed mention proposes a present finding.
* A negated mention of a red flag (a finding that some triage rule tests, read from
  ``knowledge.triage``) never becomes an absent finding: it stays unknown and is listed in
  :attr:`TextReading.left_for_interview`, so the interview still asks.
* Uncertain, hypothetical, family and (except for history items) past mentions propose nothing.
* Everything is a proposal to be confirmed by the person or clinician; nothing here assesses.

spaCy and medspaCy are imported only when text is read, and the pipeline is built once per
process and knowledge version.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from pinchpoint.core.interview import Interview
from pinchpoint.core.vocabulary import Urgency
from pinchpoint.errors import AdapterError, InvalidAnswerError, InvalidTextError
from pinchpoint.knowledge import schema as s

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span

    from pinchpoint.core.case import FindingValue
    from pinchpoint.core.knowledge import Knowledge
    from pinchpoint.core.questions import Mode

__all__ = [
    "MAX_TEXT_CHARS",
    "Cue",
    "Mention",
    "TextReading",
    "emergency_in_text",
    "interview_from_findings",
    "read_text",
]

MAX_TEXT_CHARS = 5000
"""The longest text read at once: an intake note, not a record (a technical limit, not a clinical one)."""

_ALLOWED_CONTROLS = frozenset("\n\r\t")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})  # same length
_TARGET_LABEL_PREFIX = "pinchpoint:"
_INSERT_SIDE_AFTER = frozenset({"my", "the"})
_LEFT, _RIGHT = "left", "right"


@dataclass(frozen=True, slots=True)
class Cue:
    """A ConText cue that modifies a mention: its category and where it stands in the text."""

    category: str
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Mention:
    """One phrase found in the text and what it proposes.

    Attributes:
        phrase: The id of the ``phrases.yaml`` row that matched.
        text: The matched words, as written.
        start: Character offset of the first matched character.
        end: Character offset just after the match.
        finding: The finding id proposed or left open (``foot_drop.left``, ``numbness_regions``);
            the base id (``foot_drop``) when the side is not known.
        value: The proposed value (``True``, ``False``, a choice, or a one-region tuple for a
            region list); ``None`` when nothing is proposed.
        red_flag: Whether a triage rule tests the finding.
        cues: The ConText cues that modify the mention.
        reason: Why nothing is proposed (a ``reasons`` id of ``phrases.yaml``); ``None`` when
            something is.
        source: The source the lexicon row cites.
    """

    phrase: str
    text: str
    start: int
    end: int
    finding: str
    value: FindingValue | None
    red_flag: bool
    cues: tuple[Cue, ...]
    reason: str | None
    source: str

    @property
    def proposed(self) -> bool:
        """Whether the mention proposes a value."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class TextReading:
    """What was read from one text: every mention, in text order, and the knowledge version."""

    text: str
    mentions: tuple[Mention, ...]
    knowledge_version: str

    @property
    def proposals(self) -> tuple[Mention, ...]:
        """The mentions that propose a value, for the person or clinician to confirm."""
        return tuple(m for m in self.mentions if m.proposed)

    @property
    def left_for_interview(self) -> tuple[Mention, ...]:
        """Red-flag mentions that propose nothing (negated, uncertain, ...): the interview asks them."""
        return tuple(m for m in self.mentions if not m.proposed and m.red_flag)

    @property
    def not_proposed(self) -> tuple[Mention, ...]:
        """Other mentions that propose nothing (about someone else, hypothetical, no side ...)."""
        return tuple(m for m in self.mentions if not m.proposed and not m.red_flag)

    def findings(self, accepted: Collection[int] | None = None) -> Mapping[str, FindingValue]:
        """Return the proposed findings as a partial case (region lists merged).

        Args:
            accepted: Indexes into :attr:`proposals` that the user confirmed; all of them when
                omitted. Only confirmed proposals should reach an interview or a case.

        Raises:
            InvalidAnswerError: An index does not name a proposal.
        """
        proposals = self.proposals
        chosen = range(len(proposals)) if accepted is None else accepted
        merged: dict[str, FindingValue] = {}
        for index in chosen:
            if not 0 <= index < len(proposals):
                raise InvalidAnswerError(
                    "an accepted proposal does not exist",
                    location="accepted proposals",
                    expected=f"indexes 0 to {len(proposals) - 1}"
                    if proposals
                    else "no index: nothing was proposed",
                    got=index,
                )
            mention = proposals[index]
            value = cast("FindingValue", mention.value)
            old = merged.get(mention.finding)
            if isinstance(value, tuple):
                before = old if isinstance(old, tuple) else ()
                merged[mention.finding] = tuple(dict.fromkeys((*before, *value)))
            elif old is None or value is True or (old is False and value is not False):
                # An affirmed mention wins over a negated one of the same finding.
                merged[mention.finding] = value
        return MappingProxyType(merged)

    def to_dict(self, knowledge: Knowledge, mode: Mode = "self_check") -> dict[str, Any]:
        """Return the reading as JSON-ready data, with the reasons worded for ``mode``."""
        table = phrase_table(knowledge)
        wording = "patient" if mode == "self_check" else "clinician"

        def row(mention: Mention) -> dict[str, Any]:
            out: dict[str, Any] = {
                "finding": mention.finding,
                "value": list(mention.value) if isinstance(mention.value, tuple) else mention.value,
                "phrase": mention.phrase,
                "text": mention.text,
                "start": mention.start,
                "end": mention.end,
                "red_flag": mention.red_flag,
                "cues": [
                    {"category": c.category, "text": c.text, "start": c.start, "end": c.end}
                    for c in mention.cues
                ],
                "source": mention.source,
            }
            if mention.reason is not None:
                out["reason"] = mention.reason
                out["why"] = getattr(table.reasons[cast(s.TextReason, mention.reason)], wording)
            return out

        return {
            "knowledge_version": self.knowledge_version,
            "notice": getattr(table.notice, wording),
            "proposed": [row(m) for m in self.proposals],
            "left_for_interview": [row(m) for m in self.left_for_interview],
            "not_proposed": [row(m) for m in self.not_proposed],
            "findings": {k: list(v) if isinstance(v, tuple) else v for k, v in self.findings().items()},
        }


def phrase_table(knowledge: Knowledge) -> s.PhrasesTable:
    """Return the free-text lexicon of ``knowledge`` (``phrases.yaml``)."""
    return cast(s.PhrasesTable, knowledge.tables["phrases"])


def red_flag_findings(knowledge: Knowledge) -> frozenset[str]:
    """Return the base ids of every finding some triage rule tests: negating one never makes it absent."""
    findings = knowledge.vocabulary.findings
    return frozenset(
        findings[f].base for rule in knowledge.triage.rules for f in rule.findings if f in findings
    )


def read_text(text: str, knowledge: Knowledge) -> TextReading:
    """Read free text into proposed findings (see the module docstring for the safety rules).

    Args:
        text: What the person or clinician wrote, at most :data:`MAX_TEXT_CHARS` characters.
        knowledge: The knowledge base whose lexicon, vocabulary and triage rules are used.

    Raises:
        InvalidTextError: The text is not a string, is empty, too long, or holds control
            characters or undecodable bytes (binary data).
        AdapterError: spaCy or medspaCy is not installed.
    """
    _check_text(text)
    reader = _reader(knowledge)
    return TextReading(text=text, mentions=reader.read(text), knowledge_version=knowledge.version)


def interview_from_findings(
    findings: Mapping[str, FindingValue], knowledge: Knowledge, *, mode: Mode = "self_check"
) -> Interview:
    """Start an interview with the confirmed findings already answered.

    A question whose every finding is known is answered from them. A form or grid with some
    of its findings known is recorded with those (the rest unknown) as stated before the
    interview, and is still asked for the rest (:attr:`pinchpoint.core.interview.Answer.stated`):
    a confirmed red flag counts at once, so it makes the interview stop at an emergency and is
    never lost, and the red flags beside it are still asked. A body map is still asked whole.
    The answers are recorded in the ``intake`` phase, as given before the interview.

    Args:
        findings: Confirmed findings (e.g. ``TextReading.findings(accepted)``).
        knowledge: The knowledge base.
        mode: ``"self_check"`` or ``"clinician"``.

    Raises:
        InvalidSessionError: A finding value does not fit its question.
    """
    bank = knowledge.questions
    answers: list[dict[str, Any]] = []
    answered: dict[str, object] = {}
    for question in bank.questions.values():
        if question.kind == "body_map" or not question.asked_in(mode) or not question.findings:
            continue
        known = [f for f in question.findings if f in findings]
        if not known or (question.single and len(known) < len(question.findings)):
            continue
        condition = question.enable_when
        if condition is not None and answered.get(condition.question) != condition.answer:
            continue
        if question.single:
            value: object = findings[question.finding]
        else:
            value = {f: findings.get(f) for f in question.findings}
        answers.append({"question": question.id, "value": value, "phase": "intake"})
        answered[question.id] = value
    session = {
        "format": "pinchpoint-interview",
        "version": 1,
        "mode": mode,
        "knowledge_version": knowledge.version,
        "answers": answers,
    }
    return Interview.from_dict(session, knowledge)


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise InvalidTextError(
            "the text to read is not a string", location="text", expected="a string", got=type(text).__name__
        )
    if not text.strip():
        raise InvalidTextError(
            "the text to read is empty",
            location="text",
            expected="a few words about the symptoms, e.g. 'my left foot slaps when I walk'",
        )
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidTextError(
            "the text to read is too long",
            location="text",
            expected=f"at most {MAX_TEXT_CHARS} characters",
            got=f"{len(text)} characters",
            hint="give the symptoms in a shorter note",
        )
    for index, char in enumerate(text):
        if char == "\ufffd" or (unicodedata.category(char) in ("Cc", "Cs") and char not in _ALLOWED_CONTROLS):
            raise InvalidTextError(
                "the text holds a control character or undecodable bytes: it looks like binary data",
                location=f"text, character {index}",
                expected="plain text (letters, digits, punctuation, line breaks)",
                got=f"U+{ord(char):04X}",
            )


# --- the pipeline (spaCy and medspaCy are imported here, on first use) ---------------------------------


class _Reader:
    """A built pipeline and what it needs to interpret the mentions it finds."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.table = phrase_table(knowledge)
        self.rows = {row.id: row for row in self.table.phrases}
        self.red_flags = red_flag_findings(knowledge)
        sides = self.table.sides
        self.side_words: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
            (tuple(word.lower().split()), named)
            for words, named in (
                (sides.left, (_LEFT,)),
                (sides.right, (_RIGHT,)),
                (sides.both, (_LEFT, _RIGHT)),
            )
            for word in words
        )
        self.nlp = _build_pipeline(self.table)

    def read(self, text: str) -> tuple[Mention, ...]:
        doc = self.nlp(text.translate(_QUOTES))
        mentions: list[Mention] = []
        for span in sorted(doc.ents, key=lambda e: e.start_char):
            row = self.rows[span.label_.removeprefix(_TARGET_LABEL_PREFIX)]
            mentions.extend(self._mentions(doc, span, row, text))
        return tuple(mentions)

    def _mentions(self, doc: Doc, span: Span, row: s.PhraseRow, text: str) -> list[Mention]:
        vocabulary = self.knowledge.vocabulary
        target = row.target
        base = target.finding
        spec = next(f for f in vocabulary.findings.values() if f.base == base)
        red_flag = base in self.red_flags
        cues = tuple(
            Cue(m.category, doc[m.modifier_span[0] : m.modifier_span[1]].text, *_chars(doc, m.modifier_span))
            for m in span._.modifiers
        )
        categories = {c.category for c in cues}
        reason = _context_reason(categories, row.past_counts)
        value: FindingValue | None = None
        if reason is None and "NEGATED_EXISTENCE" in categories:
            if red_flag:
                reason = "negated_red_flag"
            elif spec.type == "bool" and target.value is True:
                value = False
            else:
                reason = "negated_value"
        elif reason is None:
            value = target.region if target.region is not None else target.value
        if target.region is not None:
            has_sides = not vocabulary.regions[target.region].midline
        else:
            has_sides = spec.side is not None
        sides: tuple[str | None, ...] = (None,)
        if has_sides:
            found: tuple[str, ...] | None = (target.side,) if target.side in (_LEFT, _RIGHT) else None
            if target.side == "both":
                found = (_LEFT, _RIGHT)
            sides = found or self._sides(doc, span) or (None,)
        out: list[Mention] = []
        for side in sides:
            finding, side_reason = _finding_id(base, target, side, has_sides)
            mention_value = None if side_reason else value
            if isinstance(mention_value, str) and target.region is not None:
                mention_value = (f"{target.region}.{side}" if has_sides else target.region,)
            out.append(
                Mention(
                    phrase=row.id,
                    text=text[span.start_char : span.end_char],
                    start=span.start_char,
                    end=span.end_char,
                    finding=finding,
                    value=mention_value,
                    red_flag=red_flag,
                    cues=cues,
                    reason=reason or side_reason,
                    source=row.source,
                )
            )
        return out

    def _sides(self, doc: Doc, span: Span) -> tuple[str, ...] | None:
        """The side named nearest the span in its sentence, within the window; None if none or a tie."""
        sentence = span.sent
        words = [t.lower_ for t in sentence]
        offset = sentence.start
        best: dict[int, set[tuple[str, ...]]] = {}
        for cue, named in self.side_words:
            for i in range(len(words) - len(cue) + 1):
                if tuple(words[i : i + len(cue)]) != cue:
                    continue
                first, last = offset + i, offset + i + len(cue)
                distance = (
                    0
                    if first >= span.start and last <= span.end
                    else min(abs(span.start - last), abs(first - span.end))
                )
                if distance <= self.table.sides.window:
                    best.setdefault(distance, set()).add(named)
        if not best:
            return None
        nearest = best[min(best)]
        return next(iter(nearest)) if len(nearest) == 1 else None


def _context_reason(categories: set[str], past_counts: bool) -> str | None:
    if "FAMILY" in categories:
        return "family"
    if "HYPOTHETICAL" in categories:
        return "hypothetical"
    if "POSSIBLE_EXISTENCE" in categories:
        return "uncertain"
    if "HISTORICAL" in categories and not past_counts:
        return "historical"
    return None


def _finding_id(
    base: str, target: s.PhraseTarget, side: str | None, has_sides: bool
) -> tuple[str, str | None]:
    if has_sides and side is None:
        return base, "no_side"
    if target.region is None and has_sides:
        return f"{base}.{side}", None
    return base, None


def _chars(doc: Doc, tokens: tuple[int, int]) -> tuple[int, int]:
    part = doc[tokens[0] : tokens[1]]
    return part.start_char, part.end_char


def _reader(knowledge: Knowledge) -> _Reader:
    """The reader of this knowledge, built on first use and kept by it (thread-safe)."""
    return knowledge.part(_Reader)


def _build_pipeline(table: s.PhrasesTable) -> Language:
    try:
        # spaCy's command-line helpers import a deprecated click name; that warning is not ours to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import spacy  # noqa: PLC0415 (deferred: only free text needs spaCy)
            from medspacy.context import ConTextRule  # noqa: PLC0415
            from medspacy.target_matcher import TargetRule  # noqa: PLC0415
    except ImportError as exc:  # medspaCy comes with the optional "text" extra
        raise AdapterError(
            "free text cannot be read: medspaCy is not installed",
            location="pinchpoint.io.freetext",
            expected="the packages spacy and medspacy",
            got=str(exc),
            hint="install pinchpoint with its free-text extra: pip install 'pinchpoint[text]'",
        ) from exc
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    matcher: Any = nlp.add_pipe("medspacy_target_matcher")  # medspaCy components are untyped
    context: Any = nlp.add_pipe("medspacy_context", config={"prune_on_target_overlap": True})
    context.add([ConTextRule(row.literal, row.category, direction=row.direction) for row in table.context])
    sides = sorted(
        {
            w.lower()
            for words in (table.sides.left, table.sides.right, table.sides.both)
            for w in words
            if " " not in w
        }
    )
    rules = [
        TargetRule(phrase, _TARGET_LABEL_PREFIX + row.id, pattern=_pattern(nlp, phrase, sides))
        for row in table.phrases
        for phrase in row.phrases
    ]
    matcher.add(rules)
    return nlp


def _pattern(nlp: Language, phrase: str, sides: Iterable[str]) -> list[dict[str, Any]]:
    """A token pattern for ``phrase``: its words ignoring case, with an optional side after my/the."""
    side_set = list(sides)
    pattern: list[dict[str, Any]] = []
    for token in nlp.make_doc(phrase.translate(_QUOTES)):
        pattern.append({"LOWER": token.lower_})
        if token.lower_ in _INSERT_SIDE_AFTER and side_set:
            pattern.append({"LOWER": {"IN": side_set}, "OP": "?"})
    return pattern


def emergency_in_text(reading: TextReading, knowledge: Knowledge, mode: Mode) -> list[str]:
    """Return what to do now if the proposals are right and make it an emergency, else nothing.

    The proposals are read as if every one were confirmed: a red flag stated in the text acts
    at once (what to do now first, each emergency rule it fires in words, the emergency
    advice), while it still waits for confirmation before anything is assessed.
    """
    level, reasons = knowledge.triage.evaluate(reading.findings())
    if level < Urgency.EMERGENCY:
        return []
    bank = knowledge.questions
    heading = bank.label("emergency_in_text", mode).format(what=knowledge.vocabulary.triage[level.id])
    why = [
        r.patient if mode == "self_check" else r.clinician for r in reasons if r.level >= Urgency.EMERGENCY
    ]
    return [heading, *why, bank.label("emergency_advice", mode)]
