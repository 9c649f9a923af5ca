"""Free-text intake: a person's or a clinician's words become proposed findings, safely.

An adapter at the edge, not part of the reasoning core. :func:`read_text` runs a blank English
spaCy pipeline with medspaCy's TargetMatcher (the wordings of ``phrases.yaml``) and ConText
(negation, uncertainty, hypothetical, historical and family cues: medspaCy's defaults plus the lay
cues of ``phrases.yaml``) and returns a :class:`TextReading`: every mention with its span, the
row it matched, the ConText cues that touched it and what it proposes.

What the lexicon gives the reader, all of it data:

* ``phrases``: wordings of one finding value each, matched on plain word forms (spaCy's norm,
  the lexicon's ``word_forms``, then :func:`_stem`), a side word allowed between two words;
* ``body_parts``: parts of the leg and back naming regions; the nearest ``symptoms`` word of the
  sentence says whether they hurt, are numb, or (in a note) show the examiner's sensory loss;
* ``measures``: regular expressions over ``terms`` for numbers and notation (ages, durations,
  pain scores, MRC grades, reflex grades, "SLR +ve 40° L"), some only in a clinician's note;
* ``implies``: findings a careful reader takes from others (pain in the calf is below the knee).

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

import re
import string
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
    from pinchpoint.core.vocabulary import FindingSpec

__all__ = [
    "MAX_TEXT_CHARS",
    "Cue",
    "Mention",
    "TextReading",
    "emergency_in_text",
    "interview_from_findings",
    "interview_from_story",
    "is_warning_sign",
    "read_text",
]

MAX_TEXT_CHARS = 5000
"""The longest text read at once: an intake note, not a record (a technical limit, not a clinical one)."""

_ALLOWED_CONTROLS = frozenset("\n\r\t")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})  # same length
_TARGET_LABEL_PREFIX = "pinchpoint:"
_LEFT, _RIGHT = "left", "right"
_WARNING_SIGNS = "red_flags"
"""The question group of the warning signs (questions.yaml)."""


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


def read_text(text: str, knowledge: Knowledge, *, mode: Mode = "self_check") -> TextReading:
    """Read free text into proposed findings (see the module docstring for the safety rules).

    Args:
        text: What the person or clinician wrote, at most :data:`MAX_TEXT_CHARS` characters.
        knowledge: The knowledge base whose lexicon, vocabulary and triage rules are used.
        mode: ``"clinician"`` also reads the notation only notes use (``EHL 4/5 L``, ``30/40``).

    Raises:
        InvalidTextError: The text is not a string, is empty, too long, or holds control
            characters or undecodable bytes (binary data).
        AdapterError: spaCy or medspaCy is not installed.
    """
    _check_text(text)
    reader = _reader(knowledge)
    return TextReading(text=text, mentions=reader.read(text, mode), knowledge_version=knowledge.version)


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


def interview_from_story(
    reading: TextReading,
    knowledge: Knowledge,
    *,
    mode: Mode = "self_check",
    accepted: Collection[int] | None = None,
) -> Interview:
    """Start an interview from a story: the proposals the person confirmed are already answered.

    Args:
        reading: The story as read (:func:`read_text`).
        knowledge: The knowledge base.
        mode: ``"self_check"`` or ``"clinician"``.
        accepted: Indexes of the proposals the person confirmed. When omitted (nobody has seen
            the proposals, as when a story comes with the REST API's start), every proposal that
            is not a warning sign (:func:`is_warning_sign`) is taken, and the warning signs the
            story states are left to their questions, which confirm them. A red flag the story
            denies or doubts is never taken either way (:attr:`TextReading.left_for_interview`):
            its question asks it.

    Raises:
        InvalidAnswerError: An accepted index names no proposal.
    """
    if accepted is None:
        accepted = [i for i, m in enumerate(reading.proposals) if not is_warning_sign(m.finding, knowledge)]
    return interview_from_findings(reading.findings(accepted), knowledge, mode=mode)


def is_warning_sign(finding: str, knowledge: Knowledge) -> bool:
    """Whether a finding is asked among the warning signs (the question bank's ``red_flags`` group).

    Such a finding read from a story nobody has confirmed is left to its question: the interview
    asks it, and the answer, not the words, counts.
    """
    bank = knowledge.questions
    question = bank.by_finding.get(finding)
    return question is not None and bank[question].group == _WARNING_SIGNS


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


_PART_PREFIX = "pinchpoint-part:"
_MEASURE_PREFIX = "pinchpoint-measure:"
_SYMPTOM_WINDOW = 12
"""How many words away a symptom word may stand from the body part it describes (same sentence)."""
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([a-z0-9]+))?\}")
_DIGITS = r"\d{1,4}(?:\.\d{1,2})?"
_QUERY = re.compile(r"(?:(?<=^)|(?<=[\s(,;:/]))\?(?=\w)")
_QUERY_MARK = "\u00bf"
"""An inverted question mark: not a sentence end for spaCy, and a doubt cue of the lexicon."""
_UNIT_GROUPS = ("unit", "recent_unit")
_DETERMINERS = ("my", "the", "your", "his", "her", "this", "that")
"""Pattern groups whose term is a number of days that multiplies the number before it."""


def _stem(word: str, forms: Mapping[str, str]) -> str:
    """The plain form of one lower-case word: the lexicon's word forms, then a light suffix rule.

    Generic English morphology, not clinical knowledge: the same rule reads the phrases and the
    text, so "slaps", "slapping" and "slapped" all meet "slap". Words of three letters or fewer,
    and words with digits or signs, are kept as they are.
    """
    word = forms.get(word, word)
    if not word.isalpha() or len(word) <= 3:
        return word
    word = _without_suffix(word)
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _without_suffix(word: str) -> str:
    """``word`` without one inflection ending (-ies, -ing, -ed, -es, -s), keeping at least three letters."""
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) >= 6:
        return word[:-3]
    if (word.endswith("ed") and len(word) >= 5) or (
        word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh"))
    ):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


@dataclass(frozen=True, slots=True)
class _Measure:
    """A compiled ``measures`` row: its patterns and what a match proposes."""

    row: s.MeasureRow
    patterns: tuple[re.Pattern[str], ...]


class _Reader:
    """A built pipeline and what it needs to interpret the mentions it finds."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.table = phrase_table(knowledge)
        self.rows = {row.id: row for row in self.table.phrases}
        self.parts = {row.id: row for row in self.table.body_parts}
        self.red_flags = red_flag_findings(knowledge)
        self.forms = {k.lower(): v.lower() for k, v in self.table.word_forms.items()}
        self.bases: dict[str, FindingSpec] = {}
        for spec in knowledge.vocabulary.findings.values():
            self.bases.setdefault(spec.base, spec)
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
        self.symptoms: tuple[tuple[tuple[str, ...], str], ...] = tuple(
            (tuple(self._stems(word)), row.finding) for row in self.table.symptoms for word in row.words
        )
        self.terms = {
            name: {" ".join(str(k).lower().split()): v for k, v in words.items()}
            for name, words in self.table.terms.items()
        }
        self.measures = {row.id: _Measure(row, self._compile(row)) for row in self.table.measures}

    # --- words ---------------------------------------------------------------------------------------

    def _stems(self, phrase: str) -> list[str]:
        return [_stem(t.norm_, self.forms) for t in self.nlp.make_doc(phrase.translate(_QUOTES))]

    def _norm_doc(self, doc: Doc) -> Doc:
        for token in doc:
            token.norm_ = _stem(token.norm_, self.forms)
        return doc

    def _compile(self, row: s.MeasureRow) -> tuple[re.Pattern[str], ...]:
        def expand(match: re.Match[str]) -> str:
            name, tag = match.group(1), match.group(2)
            group = f"{name}__{tag}" if tag else name
            words = sorted(self.table.terms.get(name, {}), key=len, reverse=True)
            alternatives = [r"\s+".join(map(re.escape, str(w).split())) for w in words]
            if name == "number":
                alternatives.append(_DIGITS)
            return f"(?P<{group}>{'|'.join(alternatives)})"

        return tuple(
            re.compile(rf"(?<![\w]){_PLACEHOLDER.sub(expand, pattern)}(?![\w])", re.IGNORECASE)
            for pattern in row.patterns
        )

    # --- reading -------------------------------------------------------------------------------------

    def read(self, text: str, mode: Mode = "self_check") -> tuple[Mention, ...]:
        # A clinician's query ("?CES", "?saddle numbness") doubts what follows: it is read as a cue of
        # its own, one character for one so that every span still points into the text as written.
        normalised = _QUERY.sub(_QUERY_MARK, text.translate(_QUOTES))
        doc = self._norm_doc(self.nlp.make_doc(normalised))
        matches: dict[tuple[int, int], tuple[str, dict[str, str]]] = {}
        for name, component in self.nlp.pipeline:
            doc = component(doc)
            if name == "medspacy_target_matcher":
                doc = self._add_measures(doc, normalised, mode, matches)
        mentions: list[Mention] = []
        listed: dict[int, str] = {}  # body parts by their last token: the list each was read into
        for span in sorted(doc.ents, key=lambda e: e.start_char):
            label = span.label_
            if label.startswith(_MEASURE_PREFIX):
                row_id, groups = matches[(span.start_char, span.end_char)]
                mentions.extend(self._measure_mentions(doc, span, self.measures[row_id].row, groups, text))
            elif label.startswith(_PART_PREFIX):
                mentions.extend(
                    self._part_mentions(
                        doc,
                        span,
                        self.parts[label.removeprefix(_PART_PREFIX)],
                        text,
                        note=mode == "clinician",
                        listed=listed,
                    )
                )
            else:
                row = self.rows[label.removeprefix(_TARGET_LABEL_PREFIX)]
                mentions.extend(self._mentions(doc, span, row, text, note=mode == "clinician"))
        return tuple(mentions) + self._implied(mentions)

    def _add_measures(
        self, doc: Doc, text: str, mode: Mode, matches: dict[tuple[int, int], tuple[str, dict[str, str]]]
    ) -> Doc:
        """Add the matches of the ``measures`` rows to the document's entities (longest spans win)."""
        from spacy.util import filter_spans  # noqa: PLC0415

        found: list[Span] = []
        for measure in self.measures.values():
            if measure.row.mode == "clinician" and mode != "clinician":
                continue
            for pattern in measure.patterns:
                for match in pattern.finditer(text):
                    groups = {k: v for k, v in match.groupdict().items() if v is not None}
                    start, end = _measure_span(match, measure.row, groups)
                    span = doc.char_span(
                        start, end, label=_MEASURE_PREFIX + measure.row.id, alignment_mode="expand"
                    )
                    if span is None or (span.start_char, span.end_char) in matches:
                        continue
                    matches[(span.start_char, span.end_char)] = (measure.row.id, groups)
                    found.append(span)
        doc.ents = filter_spans([*doc.ents, *found])
        return doc

    def _context(self, span: Span, text: str) -> tuple[tuple[Cue, ...], set[str]]:
        """The ConText cues of a mention, each with its words as written in ``text``."""
        cues = []
        for modifier in span._.modifiers:
            start, end = _chars(span.doc, modifier.modifier_span)
            cues.append(Cue(modifier.category, text[start:end], start, end))
        return tuple(cues), {c.category for c in cues}

    def _mentions(self, doc: Doc, span: Span, row: s.PhraseRow, text: str, *, note: bool) -> list[Mention]:
        """The mentions of one wording: its target's, and those of the findings it ``also`` states."""
        if row.qualifies is not None and not self._describes(span, row.qualifies):
            # "Pins and needles worse at night" is not night pain: the wording describes another symptom.
            return []
        targets = [row.target, *(row.target.model_copy(update={"finding": f}) for f in row.also)]
        return [
            m for target in targets for m in self._target_mentions(doc, span, row, target, text, note=note)
        ]

    def _target_mentions(
        self, doc: Doc, span: Span, row: s.PhraseRow, target: s.PhraseTarget, text: str, *, note: bool
    ) -> list[Mention]:
        vocabulary = self.knowledge.vocabulary
        base = target.finding
        spec = self.bases[base]
        red_flag = base in self.red_flags
        cues, categories = self._context(span, text)
        if row.past:
            categories.add("HISTORICAL")
        reason = _context_reason(categories, row.past_counts)
        value: FindingValue | None = None
        negated = "NEGATED_EXISTENCE" in categories or target.value is False
        if reason is None and negated:
            if red_flag:
                reason = "negated_red_flag"
            elif spec.type == "bool" and target.value in (True, False):
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
            sides = found or self._sides(doc, span, note=note) or (None,)
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

    def _part_mentions(
        self,
        doc: Doc,
        span: Span,
        part: s.BodyPartRow,
        text: str,
        *,
        note: bool,
        listed: dict[int, str],
    ) -> list[Mention]:
        """A body part: the regions it names, in the list its nearest symptom word chooses.

        A part too far from any symptom word, named in a list right after another part ("numb over
        the front of the shin, the top of the foot and the big toe"), is read into that part's list.
        """
        finding = self._symptom(doc, span) or _listed_after(doc, span, listed)
        if finding is None:
            return []
        listed[span.end - 1] = finding
        regions = self.knowledge.vocabulary.regions
        cues, categories = self._context(span, text)
        red_flag = finding in self.red_flags
        reason = _context_reason(categories, past_counts=False)
        if reason is None and "NEGATED_EXISTENCE" in categories:
            reason = "negated_red_flag" if red_flag else "negated_value"
        sided = any(not regions[r].midline for r in part.regions)
        sides: tuple[str | None, ...] = (self._sides(doc, span, note=note) or (None,)) if sided else (None,)
        out: list[Mention] = []
        for side in sides:
            named = tuple(r if regions[r].midline else f"{r}.{side}" for r in part.regions)
            side_reason = "no_side" if sided and side is None else None
            out.append(
                Mention(
                    phrase=part.id,
                    text=text[span.start_char : span.end_char],
                    start=span.start_char,
                    end=span.end_char,
                    finding=finding,
                    value=None if reason or side_reason else named,
                    red_flag=red_flag,
                    cues=cues,
                    reason=reason or side_reason,
                    source=part.source,
                )
            )
        return out

    def _symptom(self, doc: Doc, span: Span) -> str | None:
        """The region list named by the symptom word nearest ``span`` in its sentence, if any."""
        best: tuple[int, str] | None = None
        for first, last, finding in self._symptom_hits(span.sent):
            if first >= span.start and last <= span.end:
                distance = 0
            else:
                distance = min(abs(span.start - last), abs(first - span.end))
            if distance <= _SYMPTOM_WINDOW and (best is None or distance < best[0]):
                best = (distance, finding)
        return None if best is None else best[1]

    def _symptom_hits(self, sentence: Span) -> list[tuple[int, int, str]]:
        """Every symptom word of ``sentence``: its first and end token index and the list it names."""
        words = [t.norm_ for t in sentence]
        return [
            (sentence.start + i, sentence.start + i + len(cue), finding)
            for cue, finding in self.symptoms
            for i in range(len(words) - len(cue) + 1)
            if tuple(words[i : i + len(cue)]) == cue
        ]

    def _describes(self, span: Span, symptom: str) -> bool:
        """Whether a wording with no symptom of its own ("worse at night") describes ``symptom``.

        It describes the symptom words just before it in its sentence (within the window, or inside
        the wording itself), else those just after it: true if one of them names ``symptom``'s list
        ("burning and numb, worse at night" is burning pain at night), false if all of them name
        another ("pins and needles, worse at night"), and true if there are none (the symptom was
        named in another sentence).
        """
        before: set[str] = set()
        after: set[str] = set()
        for first, last, finding in self._symptom_hits(span.sent):
            inside = first >= span.start and last <= span.end
            if inside or (last <= span.start and span.start - last <= _SYMPTOM_WINDOW):
                before.add(finding)
            elif first >= span.end and first - span.end <= _SYMPTOM_WINDOW:
                after.add(finding)
        near = before or after
        return not near or symptom in near

    def _about_symptoms(self, doc: Doc, span: Span, findings: frozenset[str]) -> bool:
        """Whether the sentence of ``span`` names a symptom.

        A symptom is a ``symptoms`` word, a body part, or a phrase of one of ``findings``.
        """
        sentence = span.sent
        if any(
            tuple(t.norm_ for t in sentence[i : i + len(cue)]) == cue
            for cue, _ in self.symptoms
            for i in range(len(sentence))
        ):
            return True
        return any(
            ent.start >= sentence.start
            and ent.end <= sentence.end
            and self._names_symptom(ent.label_, findings)
            for ent in doc.ents
        )

    def _names_symptom(self, label: str, findings: frozenset[str]) -> bool:
        if label.startswith(_PART_PREFIX):
            return True
        if not label.startswith(_TARGET_LABEL_PREFIX):
            return False
        return self.rows[label.removeprefix(_TARGET_LABEL_PREFIX)].target.finding in findings

    def _measure_mentions(
        self, doc: Doc, span: Span, row: s.MeasureRow, groups: Mapping[str, str], text: str
    ) -> list[Mention]:
        """A number, grade or notation match: one mention per target (and side) it fills."""
        if row.about and not self._about_symptoms(doc, span, frozenset(row.about)):
            return []
        cues, categories = self._context(span, text)
        out: list[Mention] = []
        for target in row.targets:
            value = self._measure_value(target, groups)
            if value is None:
                continue
            base = target.finding
            item = self._term(target.item, groups) if target.item else None
            if target.item and item is None:
                continue
            spec = self.bases[base]
            red_flag = base in self.red_flags
            reason = _context_reason(categories, row.past_counts)
            if reason is None and ("NEGATED_EXISTENCE" in categories or value is False):
                if red_flag:
                    reason = "negated_red_flag"
                elif spec.type != "bool":
                    reason = "negated_value"
                value = False
            named_side = self._term("side", groups) if "side" in groups else None
            sides: tuple[str | None, ...] = (None,)
            if spec.side is not None:
                if named_side == "both" or (named_side is None and row.side == "both"):
                    sides = (_LEFT, _RIGHT)
                elif isinstance(named_side, str):
                    sides = (named_side,)
                # Notation states its side beside the value ("EHL 4/5 L"); a side further away
                # belongs to the next item of the note, so none here leaves the side to be asked.
            for side in sides:
                parts = [base, *([str(item)] if item else []), *([side] if side else [])]
                finding = ".".join(parts)
                side_reason = "no_side" if spec.side is not None and side is None else None
                if finding not in self.knowledge.vocabulary.findings and side_reason is None:
                    continue
                out.append(
                    Mention(
                        phrase=row.id,
                        text=text[span.start_char : span.end_char],
                        start=span.start_char,
                        end=span.end_char,
                        finding=finding,
                        value=None if reason or side_reason else cast("FindingValue", value),
                        red_flag=red_flag,
                        cues=cues,
                        reason=reason or side_reason,
                        source=row.source,
                    )
                )
        return out

    def _term(self, group: str | None, groups: Mapping[str, str]) -> str | int | None:
        if group is None or group not in groups:
            return None
        words = self.terms.get(group.split("__")[0], {})
        return words.get(" ".join(groups[group].lower().split()))

    def _measure_value(
        self, target: s.MeasureTarget, groups: Mapping[str, str]
    ) -> bool | str | int | float | None:
        """The value a target reads from a match, checked against the finding's type and range."""
        spec = self.bases[target.finding]
        if target.from_ is None:
            return target.value
        if target.from_ != "number":
            value = self._term(target.from_, groups)
            return value if isinstance(value, str) and (not spec.values or value in spec.values) else None
        raw = groups.get("number")
        unit = next((name for name in _UNIT_GROUPS if name in groups), None)
        number: float
        if raw is None:
            if unit is None:
                return None
            number = 1
        else:
            word = self._term("number", groups)
            number = float(word) if isinstance(word, int) else float(raw) if _is_float(raw) else -1
        if unit is not None:
            days = self._term(unit, groups)
            number = number * days if isinstance(days, int) else -1
        low = spec.minimum if spec.minimum is not None else 0
        high = spec.maximum if spec.maximum is not None else float("inf")
        if not low <= number <= high:
            return None
        return round(number) if spec.type == "int" else number

    def _implied(self, mentions: Iterable[Mention]) -> tuple[Mention, ...]:
        """Findings a careful reader takes from others (``implies``): pain in the calf is below the knee."""
        out: list[Mention] = []
        for rule in self.table.implies:
            wanted = set(rule.regions)
            for mention in mentions:
                if mention.finding != rule.when or not self._named_regions(mention):
                    continue
                if any(region.split(".")[0] in wanted for region in self._named_regions(mention)):
                    out.append(
                        Mention(
                            phrase=rule.id,
                            text=mention.text,
                            start=mention.start,
                            end=mention.end,
                            finding=rule.then.finding,
                            value=rule.then.value,
                            red_flag=rule.then.finding in self.red_flags,
                            cues=(),
                            reason=None,
                            source=rule.source,
                        )
                    )
                    break
        return tuple(out)

    def _named_regions(self, mention: Mention) -> tuple[str, ...]:
        """The regions a mention names: its value, or a body part's regions when its side is not known.

        Pain in "the calf" is below the knee on either side, so what a region implies does not wait
        for the side.
        """
        if isinstance(mention.value, tuple):
            return tuple(str(region) for region in mention.value)
        part = self.parts.get(mention.phrase)
        return tuple(part.regions) if part is not None and mention.reason == "no_side" else ()

    def _sides(self, doc: Doc, span: Span, *, note: bool = False) -> tuple[str, ...] | None:
        """The side named nearest the span in its sentence, within the window; else the one side of the text.

        None if no side is named near and the text names more than one, or if the nearest is a tie.
        A clinician's note states each item's side beside it ("Wasting L calf. Crossed SLR positive."):
        there a side is never taken from another sentence.
        """
        near = self._named_sides(span.sent, span, window=self.table.sides.window)
        if near is not None:
            return near or None
        if note:
            return None
        anywhere = {named for _, named in self._side_hits(doc[:], span)}
        return next(iter(anywhere)) if len(anywhere) == 1 else None

    def _side_hits(self, part: Span, span: Span) -> list[tuple[int, tuple[str, ...]]]:
        words = [t.lower_ for t in part]
        hits: list[tuple[int, tuple[str, ...]]] = []
        for cue, named in self.side_words:
            for i in range(len(words) - len(cue) + 1):
                if tuple(words[i : i + len(cue)]) != cue:
                    continue
                first, last = part.start + i, part.start + i + len(cue)
                distance = (
                    0
                    if first >= span.start and last <= span.end
                    else min(abs(span.start - last), abs(first - span.end))
                )
                hits.append((distance, named))
        return hits

    def _named_sides(self, sentence: Span, span: Span, window: int) -> tuple[str, ...] | None:
        """The nearest side within ``window`` words; () for a tie; None for none."""
        best: dict[int, set[tuple[str, ...]]] = {}
        for distance, named in self._side_hits(sentence, span):
            if distance <= window:
                best.setdefault(distance, set()).add(named)
        if not best:
            return None
        nearest = best[min(best)]
        return next(iter(nearest)) if len(nearest) == 1 else ()


_LIST_WORDS = frozenset({",", "and", "or", "to", "into", "down", "&", *_DETERMINERS})


def _listed_after(doc: Doc, span: Span, listed: Mapping[int, str]) -> str | None:
    """The list of the body part just before ``span`` in its sentence, joined to it by list words only."""
    index = span.start - 1
    while index >= span.sent.start and doc[index].lower_ in _LIST_WORDS:
        index -= 1
    return listed.get(index) if index >= span.sent.start and index < span.start - 1 else None


def _is_float(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def _measure_span(match: re.Match[str], row: s.MeasureRow, groups: Mapping[str, str]) -> tuple[int, int]:
    """The characters a measure mention covers: the groups its targets read, or the whole match."""
    used = {t.from_ for t in row.targets} | {t.item for t in row.targets} | {"side", *_UNIT_GROUPS}
    named = [name for name in groups if name in used]
    if not named or any(t.from_ is None for t in row.targets):
        return match.span()
    return min(match.start(n) for n in named), max(match.end(n) for n in named)


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
    """Build the pipeline: plain word forms, the lexicon's phrases and body parts, sentences, ConText.

    The components run in order from :meth:`_Reader.read`, which adds the ``measures`` matches after
    the target matcher so that ConText reads them too.
    """
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
    # A single letter and a full stop ("R.", "L.") is a side ending a sentence in a note, not an initial.
    tokenizer: Any = nlp.tokenizer  # spaCy types it as any callable
    for letter in string.ascii_letters:
        tokenizer.add_special_case(f"{letter}.", [{"ORTH": letter}, {"ORTH": "."}])
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
    forms = {k.lower(): v.lower() for k, v in table.word_forms.items()}
    wordings = [(row.id, _TARGET_LABEL_PREFIX, phrase) for row in table.phrases for phrase in row.phrases]
    wordings += [(row.id, _PART_PREFIX, phrase) for row in table.body_parts for phrase in row.phrases]
    rules = [
        TargetRule(phrase, prefix + row_id, pattern=_pattern(nlp, phrase, sides, forms))
        for row_id, prefix, phrase in wordings
    ]
    matcher.add(rules)
    return nlp


def _pattern(
    nlp: Language, phrase: str, sides: Iterable[str], forms: Mapping[str, str]
) -> list[dict[str, Any]]:
    """A token pattern for ``phrase``: its words in plain form, a side word allowed between two words."""
    side_set = list(sides)
    pattern: list[dict[str, Any]] = []
    tokens = list(nlp.make_doc(phrase.translate(_QUOTES)))
    for index, token in enumerate(tokens):
        norm = _stem(token.norm_, forms)
        # "the outside of my shin" and "the outside of the shin" name one place: a determiner of a
        # wording stands for any of them (English grammar, not clinical knowledge).
        pattern.append({"NORM": {"IN": list(_DETERMINERS)}} if norm in _DETERMINERS else {"NORM": norm})
        if index < len(tokens) - 1 and side_set and token.lower_ not in side_set:
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
