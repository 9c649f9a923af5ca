"""Tests of free-text intake (:mod:`pinchpoint.io.freetext`, ``read-text``, ``POST /api/v1/text``).

Data-driven over ``phrases.yaml``: every wording is recognised as its row's target, and every
red-flag wording that is negated stays unknown. The pipeline is built once per test session
(``read_text`` caches it per knowledge version).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.api.app import create_api_app
from pinchpoint.cli.main import main
from pinchpoint.core.interview import Interview
from pinchpoint.core.knowledge import Knowledge
from pinchpoint.errors import InvalidTextError, UnresolvedReferenceError
from pinchpoint.io.freetext import (
    MAX_TEXT_CHARS,
    TextReading,
    interview_from_findings,
    phrase_table,
    read_text,
    red_flag_findings,
)
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.knowledge.schema import PhraseRow
from tests.corpus import copy_knowledge_with

pytestmark = pytest.mark.core

_KNOWLEDGE = load_knowledge()
_TABLE = phrase_table(_KNOWLEDGE)
_RED_FLAGS = red_flag_findings(_KNOWLEDGE)
_ROWS = {row.id: row for row in _TABLE.phrases}
_ALL_PHRASES = [(row.id, phrase) for row in _TABLE.phrases for phrase in row.phrases]
_NEGATIVE_WORDS = ("can't", "cannot", "unable", "don't", "not")
# A wording that is itself negative ("cannot pass urine") has no natural "no ..." form; the hypothesis
# test below still covers it (no text makes a red flag absent).
_RED_FLAG_PHRASES = [
    (r, p)
    for r, p in _ALL_PHRASES
    if _ROWS[r].target.finding in _RED_FLAGS
    and not p.lower().startswith(_NEGATIVE_WORDS)
    and _ROWS[r].target.value is not False
    and not _ROWS[r].past  # "no ex-IVDU" is not a natural phrase; a past wording proposes nothing anyway
]
_PLAIN_BOOL_ROWS = [
    row
    for row in _TABLE.phrases
    if row.target.finding not in _RED_FLAGS
    and row.target.value is True
    and row.target.side is None
    and not row.past
]


def _expected(row: PhraseRow, side: str) -> tuple[str, object]:
    """The finding id and value a row proposes when the text names ``side``."""
    target = row.target
    vocabulary = _KNOWLEDGE.vocabulary
    if target.region is not None:
        region = target.region if vocabulary.regions[target.region].midline else f"{target.region}.{side}"
        return target.finding, (region,)
    spec = next(f for f in vocabulary.findings.values() if f.base == target.finding)
    return (f"{target.finding}.{side}" if spec.side else target.finding), target.value


def _mention_of(reading: TextReading, row_id: str):
    found = [m for m in reading.mentions if m.phrase == row_id]
    assert found, f"row {row_id!r} not found in {reading.text!r}: {[m.phrase for m in reading.mentions]}"
    return found[0]


# --- the lexicon, row by row --------------------------------------------------------------------------


def test_red_flags_come_from_the_triage_rules(knowledge: Knowledge) -> None:
    """The red-flag set is every finding a triage rule tests: the CES flags are in, a plain one is not."""
    tested = {knowledge.vocabulary.findings[f].base for r in knowledge.triage.rules for f in r.findings}
    assert red_flag_findings(knowledge) == tested
    assert {"saddle_numbness", "urinary_retention", "bladder_change", "bowel_incontinence"} <= tested
    assert "worse_sitting" not in tested


@pytest.mark.parametrize(("row_id", "phrase"), _ALL_PHRASES, ids=[f"{r}:{p}" for r, p in _ALL_PHRASES])
def test_every_phrase_is_recognised_as_its_target(row_id: str, phrase: str) -> None:
    """An affirmed wording in a sentence proposes exactly its row's finding value, with its span."""
    text = f"Since last week, on the left, {phrase}."
    reading = read_text(text, _KNOWLEDGE)
    mention = _mention_of(reading, row_id)
    finding, value = _expected(_ROWS[row_id], "left")
    reason = None
    if _ROWS[row_id].past and not _ROWS[row_id].past_counts:
        # A wording that itself speaks of the past ("ex-smoker") names its finding and proposes nothing.
        value, reason = None, "historical"
    elif value is False and _ROWS[row_id].target.finding in _RED_FLAGS:
        # A wording that itself denies a red flag ("normal anal tone") leaves it for the interview.
        value, reason = None, "negated_red_flag"
    assert (mention.finding, mention.value, mention.reason) == (finding, value, reason)
    assert text[mention.start : mention.end].lower() == phrase.lower()
    assert mention.source == _ROWS[row_id].source


@pytest.mark.parametrize(
    ("row_id", "phrase"), _RED_FLAG_PHRASES, ids=[f"{r}:{p}" for r, p in _RED_FLAG_PHRASES]
)
def test_a_negated_red_flag_stays_unknown(row_id: str, phrase: str) -> None:
    """'No <red flag>' is never an absent finding: nothing is proposed and the interview will ask."""
    reading = read_text(f"On the left, no {phrase}.", _KNOWLEDGE)
    mention = _mention_of(reading, row_id)
    assert mention.value is None
    assert mention.reason == "negated_red_flag"
    assert mention in reading.left_for_interview
    assert all(m.value is not False for m in reading.mentions if _ROWS[m.phrase].target.finding in _RED_FLAGS)


@pytest.mark.parametrize("row", _PLAIN_BOOL_ROWS, ids=[r.id for r in _PLAIN_BOOL_ROWS])
def test_a_negated_plain_finding_may_be_absent(row: PhraseRow) -> None:
    """A negated finding that no triage rule tests is proposed absent."""
    reading = read_text(f"On the left, I do not have {row.phrases[0]}.", _KNOWLEDGE)
    mention = _mention_of(reading, row.id)
    finding, _ = _expected(row, "left")
    assert (mention.finding, mention.value, mention.reason) == (finding, False, None)


# --- context ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "row_id", "reason", "category"),
    [
        ("Maybe a bit numb down there?", "saddle-numbness", "uncertain", "POSSIBLE_EXISTENCE"),
        ("I think I can't feel when I pee", "bladder-change", "uncertain", "POSSIBLE_EXISTENCE"),
        ("No history of cancer.", "cancer-history", "negated_red_flag", "NEGATED_EXISTENCE"),
        ("What should I do if I get saddle numbness", "saddle-numbness", "hypothetical", "HYPOTHETICAL"),
        ("My mother had cancer.", "cancer-history", "family", "FAMILY"),
        ("My mum has diabetes.", "diabetes", "family", "FAMILY"),
        ("I used to have pain at night.", "night-pain", "historical", "HISTORICAL"),
        ("No problems with my bladder.", "bladder-change", "negated_red_flag", "NEGATED_EXISTENCE"),
    ],
)
def test_context_keeps_a_mention_from_being_proposed(
    text: str, row_id: str, reason: str, category: str
) -> None:
    """Uncertain, hypothetical, family and past mentions propose nothing, and say why."""
    reading = read_text(text, _KNOWLEDGE)
    mention = _mention_of(reading, row_id)
    assert (mention.value, mention.reason) == (None, reason)
    assert category in {cue.category for cue in mention.cues}
    assert mention.finding not in reading.findings()


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("Ex-smoker.", "smoker"),
        ("I am a former smoker.", "smoker"),
        ("I gave up smoking ten years ago.", "smoker"),
        ("I no longer smoke.", "smoker"),
        ("Ex-IVDU, on methadone.", "iv_drug_use"),
        ("I stopped warfarin last year.", "anticoagulants"),
        ("I came off steroids in the spring.", "long_term_steroids"),
        ("I was a heavy drinker.", "alcohol_excess"),
    ],
)
def test_a_past_habit_or_medicine_is_not_proposed_either_way(text: str, finding: str) -> None:
    """A past habit or medicine proposes nothing either way: the question asks.

    An ex-smoker neither smokes now nor is a never-smoker; the vocabulary's finding is current, so the
    wording is a past mention (reason ``historical``).
    """
    reading = read_text(text, _KNOWLEDGE)
    assert finding not in reading.findings()
    mentions = [m for m in reading.mentions if m.finding == finding]
    assert mentions, f"{text!r} names {finding}"
    assert {m.reason for m in mentions} == {"historical"}


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("Pins and needles in the top of my left foot, worse at night.", "night_pain"),
        ("Tingling in my left big toe that wakes me at night.", "night_pain"),
        ("The numbness in my left shin is worse at night and the pain is bearable.", "night_pain"),
        ("Tingling down my left calf, worse when I cough.", "worse_cough_sneeze"),
        ("My left outer hip goes numb when I lie on it.", "pain_lying_on_side"),
    ],
)
def test_a_wording_about_another_symptom_is_not_read_as_pain(text: str, finding: str) -> None:
    """'Worse at night' after pins and needles is paraesthesia at night, not night pain."""
    reading = read_text(text, _KNOWLEDGE)
    assert finding not in reading.findings()
    assert reading.findings().get("numbness_regions"), "the paraesthesia itself is still read"


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("The pain in my left leg is worse at night.", "night_pain"),
        ("Both my feet are burning and numb, worse at night.", "night_pain"),
        ("My left calf is numb and the pain is worse when I cough.", "worse_cough_sneeze"),
        ("Worse at night.", "night_pain"),
    ],
)
def test_a_wording_about_pain_is_still_read(text: str, finding: str) -> None:
    """The same wordings beside pain, or with no symptom word in their sentence, still propose."""
    assert read_text(text, _KNOWLEDGE).findings().get(finding) is True


def test_every_qualified_row_names_a_symptom_list() -> None:
    """A row's ``qualifies`` names a ``symptoms`` list of the lexicon, or the check above could never fail."""
    lists = {row.finding for row in _TABLE.symptoms}
    qualified = [row for row in _TABLE.phrases if row.qualifies is not None]
    assert qualified
    assert all(row.qualifies in lists for row in qualified)


def test_a_history_item_counts_in_the_past() -> None:
    """'I had cancer 10 years ago' is the person's cancer history (the row says past_counts)."""
    reading = read_text("I had cancer 10 years ago.", _KNOWLEDGE)
    assert reading.findings() == {"cancer_history": True}


def test_a_mixed_story_is_read_mention_by_mention() -> None:
    """Affirmed, negated and uncertain mentions in one text each get their own outcome."""
    text = (
        "Shooting pain down the back of my left leg. My left foot slaps when I walk. "
        "No problems with my bladder. Maybe a bit numb down there? Not worse when sitting."
    )
    reading = read_text(text, _KNOWLEDGE)
    assert dict(reading.findings()) == {
        "pain_shooting": True,
        "pain_regions": ("thigh_posterior.left", "calf_posterior.left"),
        "pain_below_knee": True,
        "foot_drop.left": True,
        "worse_sitting": False,
    }
    assert [(m.finding, m.reason) for m in reading.left_for_interview] == [
        ("bladder_change", "negated_red_flag"),
        ("saddle_numbness", "uncertain"),
    ]
    bladder = reading.left_for_interview[0]
    assert text[bladder.start : bladder.end] == "problems with my bladder"


# --- sides --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "findings"),
    [
        ("My right foot slaps.", {"foot_drop.right": True}),
        ("Pins and needles in my big toe on the left.", {"numbness_regions": ("big_toe.left",)}),
        (
            "Calf pain in both legs.",
            {"pain_regions": ("calf_posterior.left", "calf_posterior.right"), "pain_below_knee": True},
        ),
        ("Low back pain on the right.", {"pain_regions": ("low_back",)}),
    ],
)
def test_sides_are_read_near_the_phrase(text: str, findings: dict[str, object]) -> None:
    """'left', 'right' or 'both' near a phrase sets the side; a midline region takes none."""
    assert dict(read_text(text, _KNOWLEDGE).findings()) == findings


def test_a_sided_finding_without_a_side_is_left_for_the_interview() -> None:
    """Without a side a sided red flag is not proposed: the interview asks which leg."""
    reading = read_text("My foot slaps when I walk.", _KNOWLEDGE)
    assert reading.findings() == {}
    assert [(m.finding, m.reason) for m in reading.left_for_interview] == [("foot_drop", "no_side")]


# --- the invariant -----------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [p for _, p in _ALL_PHRASES]
    + ["no", "not", "never", "denies", "without", "don't", "maybe", "?", ".", ",", "but", "left", "right"]
    + ["both legs", "I", "have", "my", "mother", "if", "had", "history of", "free of", "negative for"]
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(words=st.lists(_WORDS, min_size=1, max_size=14))
def test_no_text_yields_an_absent_red_flag(words: list[str]) -> None:
    """Whatever the words, no red-flag finding is ever proposed absent, and every proposal is affirmed."""
    reading = read_text(" ".join(words), _KNOWLEDGE)
    for finding, value in reading.findings().items():
        base = _KNOWLEDGE.vocabulary.findings[finding].base
        assert not (base in _RED_FLAGS and value is False), (reading.text, finding)
    for mention in reading.proposals:
        categories = {c.category for c in mention.cues}
        assert not categories & {"FAMILY", "HYPOTHETICAL", "POSSIBLE_EXISTENCE"}, reading.text


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=200))
def test_any_text_is_read_or_refused_cleanly(text: str) -> None:
    """Arbitrary text gives a reading or an InvalidTextError, never another exception."""
    try:
        reading = read_text(text, _KNOWLEDGE)
    except InvalidTextError:
        return
    assert all(0 <= m.start < m.end <= len(text) for m in reading.mentions)


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "   \n",
            "text: the text to read is empty; expected a few words about the symptoms, "
            "e.g. 'my left foot slaps when I walk'",
        ),
        (
            "a" * (MAX_TEXT_CHARS + 1),
            f"text: the text to read is too long; expected at most {MAX_TEXT_CHARS} characters "
            f"(got '{MAX_TEXT_CHARS + 1} characters'); give the symptoms in a shorter note",
        ),
        (
            "numb\x00\x01",
            "text, character 4: the text holds a control character or undecodable bytes: it looks like "
            "binary data; expected plain text (letters, digits, punctuation, line breaks) (got 'U+0000')",
        ),
        (
            b"bytes",
            "text: the text to read is not a string; expected a string (got 'bytes')",
        ),
    ],
    ids=["blank", "too-long", "binary", "not-a-string"],
)
def test_bad_text_is_refused(text: object, message: str) -> None:
    """Blank, too long, binary or non-string input is an InvalidTextError that says what to do."""
    with pytest.raises(InvalidTextError) as caught:
        read_text(text, _KNOWLEDGE)  # type: ignore[arg-type]
    assert str(caught.value) == message


# --- from proposals to an interview --------------------------------------------------------------------


def test_accepted_proposals_start_an_interview_and_a_stated_red_flag_acts_at_once() -> None:
    """A confirmed red flag of a partly known form counts at once: an emergency, nothing more asked."""
    reading = read_text("Shooting pain. I can't pass urine. It's not worse when sitting.", _KNOWLEDGE)
    kept = [i for i, m in enumerate(reading.proposals) if m.finding != "worse_sitting"]
    findings = reading.findings(kept)
    assert dict(findings) == {"pain_shooting": True, "urinary_retention": True}
    interview = interview_from_findings(findings, _KNOWLEDGE)
    assert dict(interview.findings) == {"pain_shooting": True, "urinary_retention": True}
    assert "bladder_bowel" not in interview.asked  # only part of the form was stated
    assert interview.next_question() is None
    assert interview.assessment().triage.id == "emergency"
    saved = Interview.from_dict(interview.to_dict(), _KNOWLEDGE)  # and it survives saving
    assert saved.findings == interview.findings
    with pytest.raises(Exception, match="an accepted proposal does not exist"):
        reading.findings([99])


def test_a_partly_stated_form_is_still_asked_with_the_stated_item_kept() -> None:
    """A stated item counts at once; its form is still asked, and "don't know" keeps it."""
    findings = {"fever": True}
    interview = interview_from_findings(findings, _KNOWLEDGE)
    assert dict(interview.findings) == findings
    for _ in range(60):
        question = interview.next_question()
        assert question is not None, "the infection form was never asked"
        if question.id == "infection":
            break
        interview.answer(question.id, None)
    interview.answer("infection", None)  # "don't know" to every item
    assert interview.findings["fever"] is True
    assert "infection" in interview.asked


def test_a_confirmed_whole_form_is_answered_before_the_interview() -> None:
    """A form whose findings are all confirmed is answered in the intake phase and fires its rules."""
    form = _KNOWLEDGE.questions["bladder_bowel"]
    findings = dict.fromkeys(form.findings, False) | {"urinary_retention": True}
    interview = interview_from_findings(findings, _KNOWLEDGE)
    assert "bladder_bowel" in interview.asked
    assert interview.assessment().triage.id == "emergency"


# --- adapters -----------------------------------------------------------------------------------------


def test_read_text_command_prints_spans_and_what_is_left(capsys: pytest.CaptureFixture[str]) -> None:
    """``pinchpoint read-text`` shows each proposal with its words and offsets, and the open red flags."""
    code = main(["read-text", "My left foot slaps. No problems with my bladder."])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "foot_drop.left (the foot slaps or the toes catch when walking; cannot walk on the heel): "
        'true  <- "foot slaps" [8:18]' in out
    )
    assert '<- "problems with my bladder" [23:47]' in out
    assert _TABLE.reasons["negated_red_flag"].patient in out
    assert "does not replace it" in out


def test_read_text_command_reads_stdin_as_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read-text - --json`` reads standard input and prints one JSON object."""
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("I have had a fever."))
    assert main(["read-text", "-", "--json", "--clinician"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["findings"] == {"fever": True}
    assert data["notice"] == _TABLE.notice.clinician


def test_read_text_command_refuses_blank_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Blank text is a one-line error with exit code 2."""
    assert main(["read-text", " "]) == 2
    err = capsys.readouterr().err
    assert err == (
        "pinchpoint: error: text: the text to read is empty; expected a few words about the symptoms, "
        "e.g. 'my left foot slaps when I walk'\n"
    )


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_api_app(_KNOWLEDGE))


def test_text_endpoint_returns_proposals(client: TestClient) -> None:
    """POST /api/v1/text answers the reading; a negated red flag is left for the interview."""
    response = client.post("/api/v1/text", json={"text": "My right knee gives way. No fever."})
    assert response.status_code == 200
    body = response.json()
    assert body["findings"] == {"knee_buckling.right": True}
    assert [(m["finding"], m["reason"]) for m in body["left_for_interview"]] == [
        ("fever", "negated_red_flag")
    ]
    assert body["proposed"][0]["text"] == "knee gives way"
    assert "/api/v1/text" in client.get("/openapi.json").json()["paths"]


def test_text_endpoint_refuses_blank_text_as_a_problem(client: TestClient) -> None:
    """Blank text is an RFC 9457 problem naming the field."""
    response = client.post("/api/v1/text", json={"text": ""})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Invalid text"
    assert response.json()["field"] == "text"


def test_spacy_is_not_imported_until_text_is_read() -> None:
    """Importing pinchpoint, its CLI and its API loads neither spaCy nor medspaCy."""
    code = (
        "import sys, pinchpoint, pinchpoint.cli.main, pinchpoint.api.app, pinchpoint.io.freetext;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('spacy', 'medspacy')))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


# --- the lexicon's cross-checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "target: {finding: leg_weakness, value: true}",
            "target: {finding: leg_weak, value: true}",
            "phrases.yaml: phrases[{leg_weakness}] (leg-weakness).target: 'leg_weak' does not exist; "
            "expected a finding (base id) of the vocabulary (got 'leg_weak')",
        ),
        (
            "target: {finding: pain_regions, region: low_back}",
            "target: {finding: pain_regions, region: low_bak}",
            "phrases.yaml: phrases[{pain_low_back}] (pain-low-back).target: 'low_bak' does not exist; "
            "expected a vocabulary region (got 'low_bak')",
        ),
        (
            "target: {finding: pain_regions, region: low_back}",
            "target: {finding: pain_regions, region: low_back, side: left}",
            "phrases.yaml: phrases[{pain_low_back}] (pain-low-back).target: the target fixes a side "
            "but the finding or region has none; expected no side (got 'left')",
        ),
        (
            "target: {finding: trauma, value: major}",
            "target: {finding: trauma, value: huge}",
            "phrases.yaml: phrases[{trauma_major}] (trauma-major).target: finding 'trauma' cannot "
            "take this value; expected one of none, minor, major (got 'huge')",
        ),
    ],
    ids=["unknown-finding", "unknown-region", "side-on-midline", "bad-value"],
)
def test_a_broken_lexicon_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    """A phrase row naming a finding, region, side or value that does not fit is refused by name."""
    index = {row.id: i for i, row in enumerate(_TABLE.phrases)}
    message = message.format(**{k.replace("-", "_"): v for k, v in index.items()})
    folder = copy_knowledge_with(tmp_path, "phrases.yaml", old, new)
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert str(caught.value) == message


def test_reading_text_without_the_text_extra_says_how_to_install_it() -> None:
    """Without medspaCy (the optional ``text`` extra) the command fails with one line naming the extra."""
    script = (
        "import sys\n"
        "sys.modules['medspacy'] = None  # as if the extra were not installed\n"
        "from pinchpoint.cli.main import main\n"
        "sys.exit(main(['read-text', 'my left foot slaps when I walk']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "medspaCy is not installed" in done.stderr
    assert "pip install 'pinchpoint[text]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_read_text_says_what_to_do_now_when_the_text_states_an_emergency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An emergency in the words: the report starts with it, each rule in words, and the emergency advice."""
    assert main(["read-text", "I can't pass urine and my back hurts."]) == 0
    lines = capsys.readouterr().out.splitlines()
    bank = _KNOWLEDGE.questions
    assert lines[0] == bank.label("emergency_in_text", "self_check").format(
        what=_KNOWLEDGE.vocabulary.triage["emergency"]
    )
    retention = next(rule for rule in _KNOWLEDGE.triage.rules if rule.id == "ces-urinary-retention")
    assert lines[1] == f"  - {retention.patient}"
    assert bank.label("emergency_advice", "self_check") in lines
    assert main(["read-text", "--json", "I can't pass urine."]) == 0
    assert json.loads(capsys.readouterr().out)["emergency"][0] == lines[0]
    assert main(["read-text", "--json", "My left foot slaps when I walk."]) == 0
    assert json.loads(capsys.readouterr().out)["emergency"] == []
