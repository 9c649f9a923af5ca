"""Free text as people and clinicians write it: the annotated corpus, notation, and story first.

The corpus (``validation/text``) is scored by ``pinchpoint evaluate-text``: the development part
(the phrase lists were tuned on it) and the held-out part (measured only) each must keep the safety
rules without exception and reach the recall and precision recorded in ``docs/freetext.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinchpoint.api.app import create_api_app
from pinchpoint.cli.evaluate_text import load_corpus, score_corpus, summary
from pinchpoint.cli.main import main
from pinchpoint.core.case import check_value
from pinchpoint.errors import InvalidCaseError, InvalidTextError, UnresolvedReferenceError
from pinchpoint.evaluation.narrative import compare_story_first
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.freetext import MAX_TEXT_CHARS, read_text, red_flag_findings
from pinchpoint.io.knowledge.loader import load_knowledge
from tests.corpus import REPO, SHARED_CASES, copy_knowledge_with

pytestmark = pytest.mark.core

_KNOWLEDGE = load_knowledge()
_CORPUS = REPO / "validation" / "text"
_PARTS = {"development": _CORPUS / "development.yaml", "heldout": _CORPUS / "heldout.yaml"}
# Floors below the figures measured when the corpus was written (docs/freetext.md): a drop is a regression.
# Held-out precision is the 95%, reached in session 7 by general fixes found on the development part.
_FLOORS = {
    "development": {"recall": 0.95, "precision": 0.97, "red_recall": 0.95},
    "heldout": {"recall": 0.90, "precision": 0.95, "red_recall": 0.92},
}


@pytest.fixture(scope="module", params=sorted(_PARTS))
def scored(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    items, red_flags = load_corpus(_PARTS[request.param], _KNOWLEDGE)
    return request.param, summary(score_corpus(items, _KNOWLEDGE, red_flags), _KNOWLEDGE)


def test_the_corpus_is_large_and_mixed() -> None:
    """At least 150 descriptions, a few dozen of them clinician notes, every one with a source."""
    items = [item for path in _PARTS.values() for item in load_corpus(path, _KNOWLEDGE)[0]]
    assert len(items) >= 150
    assert sum(1 for item in items if item.mode == "clinician") >= 30
    assert all(item.source for item in items)
    assert len({item.id for item in items}) == len(items)
    assert sum(1 for item in items if item.denied) >= 20
    assert sum(1 for item in items if item.others) >= 5
    assert (_CORPUS / "README.md").is_file()


def test_a_corpus_folder_is_scored_per_part(capsys: pytest.CaptureFixture[str]) -> None:
    """``evaluate-text validation/text`` scores each part apart and both together."""
    assert main(["evaluate-text", str(_CORPUS), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["parts"]) == set(_PARTS)
    assert data["descriptions"] == sum(part["descriptions"] for part in data["parts"].values())
    assert main(["evaluate-text", str(_CORPUS)]) == 0
    assert "| heldout | 55 |" in capsys.readouterr().out


def test_no_safety_failure_on_the_corpus(scored: tuple[str, dict[str, object]]) -> None:
    """No denied or doubted red flag proposed, none proposed absent, nobody else's finding taken."""
    _, data = scored
    assert data["unsafe"] == []


def test_recall_and_precision_hold(scored: tuple[str, dict[str, object]]) -> None:
    """Overall and red-flag figures stay at or above what was measured (issue 13 asks 75% and 95%)."""
    part, data = scored
    floors = _FLOORS[part]
    overall, red = data["overall"], data["red_flags"]
    assert isinstance(overall, dict)
    assert isinstance(red, dict)
    assert overall["recall"] >= floors["recall"], overall
    assert overall["precision"] >= floors["precision"], overall
    assert red["recall"] >= floors["red_recall"], red
    assert red["recall"] >= overall["recall"] - 0.02, (red, overall)


# --- notation, numbers and lay words -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("SLR +ve 40° L", "clinician", {"exam.slr.left": True}),
        ("straight leg raise positive at 45 degrees on the right", "clinician", {"exam.slr.right": True}),
        ("EHL 4/5 L", "clinician", {"exam.power.great_toe_extension.left": 4}),
        ("L ankle DF 3/5", "clinician", {"exam.power.ankle_dorsiflexion.left": 3}),
        ("quads 4-/5 R", "clinician", {"exam.power.knee_extension.right": 4}),
        ("AJ absent R", "clinician", {"exam.reflex.achilles.right": "absent"}),
        ("knee jerk reduced on the left", "clinician", {"exam.reflex.patellar.left": "reduced"}),
        (
            "ankle jerks absent bilaterally",
            "clinician",
            {"exam.reflex.achilles.left": "absent", "exam.reflex.achilles.right": "absent"},
        ),
        (
            "plantars upgoing",
            "clinician",
            {"exam.plantar.left": "extensor", "exam.plantar.right": "extensor"},
        ),
        ("saddle anaesthesia", "clinician", {"saddle_numbness": True}),
        ("PR: reduced tone", "clinician", {"exam.anal_tone_reduced": True}),
        ("PVR 600 ml", "clinician", {"exam.post_void_residual_ml": 600}),
        ("T 38.9", "clinician", {"exam.temperature_c": 38.9}),
        ("62F, sciatica x 3/52", "clinician", {"age": 62, "sex": "female", "duration_days": 21}),
        ("30/40 pregnant", "clinician", {"pregnancy_weeks": 30, "pregnant": True}),
        ("I am 84 and on warfarin", "self_check", {"age": 84, "anticoagulants": True}),
        (
            "my back has ached for two years",
            "self_check",
            {"duration_days": 730, "pain_regions": ("low_back",)},
        ),
        ("it started hurting three days ago", "self_check", {"duration_days": 3}),
        ("I have been diabetic for twenty years", "self_check", {"diabetes": True}),  # not the leg's duration
        ("physiotherapy for six weeks has not helped", "self_check", {"failed_treatment": True}),
        (
            "numbness over the front of my left shin, the top of the foot and the big toe",
            "self_check",
            {"numbness_regions": ("leg_anterolateral.left", "foot_dorsum.left", "big_toe.left")},
        ),
        (
            "tingling down the outer side of the right lower leg to the sole",
            "self_check",
            {"numbness_regions": ("leg_anterolateral.right", "sole.right")},
        ),
        ("the front of my left thigh is numb", "self_check", {"numbness_regions": ("thigh_anterior.left",)}),
        (
            "pain runs down the front of my right thigh",
            "self_check",
            {"pain_regions": ("thigh_anterior.right",)},
        ),
        ("it is 8 out of 10", "self_check", {"pain_severity": 8}),
        ("I'm 34 weeks pregnant", "self_check", {"pregnancy_weeks": 34, "pregnant": True}),
        ("my left foot slaps and I keep tripping over my toes", "self_check", {"foot_drop.left": True}),
        ("I can't stand on tiptoe on my right leg", "self_check", {"cannot_tiptoe.right": True}),
        ("my right knee keeps giving way", "self_check", {"knee_buckling.right": True}),
        ("my left leg feels weak", "self_check", {"leg_weakness.left": True}),
        (
            "pain from my right buttock down the back of my leg to the little toe",
            "self_check",
            {
                "pain_regions": (
                    "buttock.right",
                    "thigh_posterior.right",
                    "calf_posterior.right",
                    "foot_lateral.right",
                ),
                "pain_below_knee": True,
            },
        ),
        (
            "the outside of my left shin and the top of my foot are numb",
            "self_check",
            {"numbness_regions": ("leg_anterolateral.left", "foot_dorsum.left")},
        ),
        (
            "siatica with numbnes in my big toe on the left",
            "self_check",
            {"numbness_regions": ("big_toe.left",)},
        ),
        # A note states each item's side beside it: no side is carried into the next sentence.
        ("Wasting of the left calf. Crossed SLR positive.", "clinician", {"exam.wasting.left": True}),
        ("EHL 7/5 L, I am 150", "clinician", {}),  # no grade above 5, no age above 120
    ],
)
def test_notation_and_lay_words_are_read(text: str, mode: str, expected: dict[str, object]) -> None:
    """Each wording proposes exactly these findings with these values."""
    assert dict(read_text(text, _KNOWLEDGE, mode=mode).findings()) == expected  # type: ignore[arg-type]


def test_examination_grades_are_read_only_from_a_clinician_note() -> None:
    """'EHL 4/5' in a person's own words proposes nothing: grades are read in the clinician's mode."""
    assert dict(read_text("EHL 4/5 L", _KNOWLEDGE).findings()) == {}


@pytest.mark.parametrize(
    "text",
    [
        "No saddle anaesthesia.",
        "SLR negative on the left.",
        "PR: normal tone.",
        "Denies bladder or bowel dysfunction.",
        "?cauda equina, ?saddle numbness",
        "My mother had cancer and my husband has diabetes.",
        "In case I get bladder problems, what should I do?",
        "I don't think I've lost weight.",
    ],
)
def test_denied_doubted_and_other_peoples_findings_are_not_proposed(text: str) -> None:
    """Nothing present is proposed and no red flag is proposed absent."""
    reading = read_text(text, _KNOWLEDGE, mode="clinician")
    red = red_flag_findings(_KNOWLEDGE)
    for finding, value in reading.findings().items():
        base = _KNOWLEDGE.vocabulary.findings[finding].base
        assert base not in red, (text, finding, value)
        assert value is False, (text, finding, value)


@pytest.mark.parametrize(
    "text",
    [
        "Mein linkes Bein ist taub und ich habe Rückenschmerzen.",
        "我的左腿麻木",
        "lorem ipsum dolor sit amet " * 100,
        "!!! ??? ... ,,, ;;;",
        "1/5 2/52 3/40 4/12 99999999 0.0.0",
    ],
)
def test_odd_text_is_read_without_a_crash(text: str) -> None:
    """Another language or noise: no error, and nothing proposed as a red flag from nothing."""
    reading = read_text(text[:MAX_TEXT_CHARS], _KNOWLEDGE, mode="clinician")
    assert all(m.value is not False for m in reading.proposals if m.red_flag)


@pytest.mark.parametrize(
    "text", ["x" * (1024 * 1024), "my leg\x00\x01\x02 hurts", "numb \ufffd leg", "   \n\t  "]
)
def test_bad_text_is_refused_with_a_clear_error(text: str) -> None:
    """A megabyte, binary, control characters or nothing: InvalidTextError, never a crash."""
    with pytest.raises(InvalidTextError):
        read_text(text, _KNOWLEDGE)


# --- the command, the API and the lexicon's checks ----------------------------------------------------


def test_evaluate_text_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """``evaluate-text`` prints a Markdown table with overall and red-flag rows; exit 0 when safe."""
    assert main(["evaluate-text", str(_PARTS["development"])]) == 0
    out = capsys.readouterr().out
    assert "| **overall** |" in out
    assert "| **red flags** |" in out
    assert "safety failures: 0" in out


def test_evaluate_text_refuses_a_corpus_with_an_unknown_finding(tmp_path: Path) -> None:
    """A corpus naming a finding outside the vocabulary is refused by name."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "format: pinchpoint-text-corpus\nversion: 1\nitems:\n"
        "  - {id: x1, source: test, text: 'my foot slaps', findings: {foot_slap.left: true}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidCaseError, match="foot_slap"):
        load_corpus(path, _KNOWLEDGE)


def test_the_api_reads_a_clinician_note() -> None:
    """POST /api/v1/text with mode clinician reads examination notation, values included."""
    client = TestClient(create_api_app(_KNOWLEDGE))
    response = client.post("/api/v1/text", json={"text": "EHL 4/5 L. T 38.2.", "mode": "clinician"})
    assert response.status_code == 200
    assert response.json()["findings"] == {
        "exam.power.great_toe_extension.left": 4,
        "exam.temperature_c": 38.2,
    }


def test_the_cli_reads_a_clinician_note(capsys: pytest.CaptureFixture[str]) -> None:
    """``read-text --clinician --json`` reads notation."""
    assert main(["read-text", "--clinician", "--json", "AJ absent R"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == {"exam.reflex.achilles.right": "absent"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "targets: [{finding: bmi, from: number}]",
            "targets: [{finding: bmx, from: number}]",
            "phrases.yaml: measures[{bmi}] (bmi): 'bmx' does not exist; "
            "expected a finding (base id) of the vocabulary (got 'bmx')",
        ),
        (
            "targets: [{finding: exam.plantar, from: plantar}]\n    side: both",
            "targets: [{finding: exam.plantar, from: plantars}]\n    side: both",
            "phrases.yaml: measures[{plantar_response_both}] (plantar-response-both): 'plantars' does not "
            "exist; expected a terms table of phrases.yaml (got 'plantars')",
        ),
        (
            "{id: part-heel, phrases: [heel], regions: [heel],",
            "{id: part-heel, phrases: [heel], regions: [heal],",
            "phrases.yaml: body_parts[{part_heel}] (part-heel): 'heal' does not exist; "
            "expected a vocabulary region (got 'heal')",
        ),
    ],
    ids=["measure-finding", "measure-terms", "body-part-region"],
)
def test_a_broken_text_table_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    """The new lexicon tables are checked against the vocabulary when knowledge loads."""
    table = _KNOWLEDGE.tables["phrases"]
    index = {row.id: i for rows in (table.measures, table.body_parts) for i, row in enumerate(rows)}  # type: ignore[attr-defined]
    message = message.format(**{k.replace("-", "_"): v for k, v in index.items()})
    folder = copy_knowledge_with(tmp_path, "phrases.yaml", old, new)
    with pytest.raises(UnresolvedReferenceError) as caught:
        load_knowledge(folder)
    assert str(caught.value) == message


# --- story first ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason="the development cases of ../shared are absent")
def test_story_first_is_as_safe_and_asks_fewer_questions() -> None:
    """On the development narratives the story saves questions and never adds under-triage."""
    cases = read_cases(SHARED_CASES, _KNOWLEDGE.vocabulary)
    comparison = compare_story_first(cases, _KNOWLEDGE, mode="self_check")
    assert comparison.story_first.under_triage <= comparison.plain.under_triage
    assert comparison.story_first.emergency_sensitivity >= comparison.plain.emergency_sensitivity
    assert sum(comparison.story_questions) < sum(comparison.plain_questions)
    assert all(s <= p for s, p in zip(comparison.story_questions, comparison.plain_questions, strict=True))
    # A floor below the 17.2% measured in session 8 (docs/freetext.md): a reader that loses wordings
    # the narratives use shows here. The ceiling under the red-flag rule is 18.4% (benchmarks/story_first.py).
    assert comparison.questions_saved >= 0.16


@pytest.mark.skipif(not SHARED_CASES.is_dir(), reason="the development cases of ../shared are absent")
def test_evaluate_from_narrative_is_the_story_first_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``evaluate --interview --from-narrative`` prints what ``evaluate-text --narratives`` prints."""
    for path in sorted(SHARED_CASES.glob("dev-0[1-3]-*.yaml")):
        shutil.copy(path, tmp_path / path.name)
    assert (
        main(["evaluate", str(tmp_path), "--interview", "--from-narrative", "--mode", "self-check", "--json"])
        == 0
    )
    wired = json.loads(capsys.readouterr().out)
    assert main(["evaluate-text", "--narratives", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == wired
    assert wired["cases"] == 3
    assert wired["mode"] == "self_check"


def test_from_narrative_without_interview_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """``--from-narrative`` is an option of the simulated interview: alone it is a clear error."""
    assert main(["evaluate", str(REPO), "--from-narrative"]) != 0
    assert "--from-narrative needs --interview" in capsys.readouterr().err


_NOTE_WORDS = st.sampled_from(
    [
        *("SLR", "+ve", "-ve", "40°", "EHL", "4/5", "0/5", "7/5", "AJ", "KJ", "absent", "brisk", "reduced"),
        *("L", "R", "bilaterally", "plantars", "upgoing", "PR:", "normal", "tone", "PVR", "600", "ml"),
        *("T", "38.5", "x", "3/52", "2/7", "62F", "?CES", "?", "no", "not", "denies", "nil", "neg"),
        *("saddle", "anaesthesia", "retention", "numb", "big", "toe", "my", "mother", "had", "cancer"),
        *(".", ",", "I", "can't", "pee", "foot", "slaps", "left", "right", "pain", "in", "calf"),
    ]
)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(words=st.lists(_NOTE_WORDS, min_size=1, max_size=16))
def test_no_note_yields_an_absent_red_flag_or_an_impossible_value(words: list[str]) -> None:
    """Whatever notation and negations are mixed, no red flag is proposed absent and every value fits."""
    reading = read_text(" ".join(words), _KNOWLEDGE, mode="clinician")
    red = red_flag_findings(_KNOWLEDGE)
    vocabulary = _KNOWLEDGE.vocabulary
    for finding, value in reading.findings().items():
        spec = vocabulary.findings[finding]
        assert not (spec.base in red and value is False), (reading.text, finding)
        check_value(spec, value, vocabulary, location=finding)  # raises when the value does not fit
    for mention in reading.proposals:
        categories = {c.category for c in mention.cues}
        assert not categories & {"NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "FAMILY", "HYPOTHETICAL"}, mention
