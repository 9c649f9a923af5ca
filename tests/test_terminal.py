"""Tests of ``pinchpoint interview``: driven through a pseudo-terminal, and through a pipe."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pexpect
import pytest

from pinchpoint.cli.main import main
from pinchpoint.cli.terminal import run_interview
from pinchpoint.core.interview import Interview
from pinchpoint.io.knowledge.loader import load_knowledge
from pinchpoint.service.sessions import STATE_FORMAT
from tests.corpus import REPO

pytestmark = pytest.mark.core

_DOWN = "\x1b[B"
_UP = "\x1b[A"
_MAX_PROMPTS = 400
_SUMMARY = 3
_TIMEOUT = 60


def _spawn(session: Path) -> pexpect.spawn:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "pinchpoint", "interview", "--session", str(session)],
        env=env,
        encoding="utf-8",
        timeout=_TIMEOUT,
        dimensions=(40, 120),
    )


def _labels() -> dict[str, str]:
    bank = load_knowledge().questions
    return {name: bank.label(name, "self_check") for name in bank.labels}


def test_terminal_interview_end_to_end(tmp_path: Path) -> None:
    """Arrow keys answer the questions; q saves; a second run resumes; the summary ends the interview."""
    labels = _labels()
    bank = load_knowledge().questions
    session = tmp_path / "session.json"
    child = _spawn(session)
    child.expect_exact(labels["disclaimer"])
    child.expect_exact(bank["age"].wording.patient)
    child.sendline("52")
    child.expect_exact(bank["sex"].wording.patient)
    child.send(_DOWN + "\r")  # the second option: male
    child.expect_exact(bank["pain_regions"].wording.patient)
    child.send(_DOWN * 2 + " " + _DOWN + " \r")  # mark the first two places after "none" and "don't know"
    child.expect_exact(labels["screening"])
    child.send("q")
    child.expect_exact(labels["saved"].format(path=session))
    child.expect(pexpect.EOF)
    saved = json.loads(session.read_text(encoding="utf-8"))["interview"]
    assert [a["question"] for a in saved["answers"]] == ["age", "sex", "pain_regions"]
    assert saved["answers"][1]["value"] == "male"
    assert len(saved["answers"][2]["value"]) == 2

    child = _spawn(session)
    child.expect_exact(labels["progress"].format(number=1))
    menus = 0
    for _ in range(_MAX_PROMPTS):
        index = child.expect(
            [r"\(arrows or number", r"\(arrows: move", r"\(type the answer", labels["summary"]]
        )
        if index == _SUMMARY:
            break
        if index == 0:
            child.send(_UP + "\r")  # up from the first option wraps to the last one: don't know
            child.expect_exact("  -> " + labels["dont_know"])
            menus += 1
        elif index == 1:
            child.send(_DOWN + "\r")  # the second entry of a body map: don't know
            child.expect_exact("  -> " + labels["dont_know"])
        else:
            child.sendline("?")
    else:
        pytest.fail("the interview did not reach its summary")
    child.expect_exact(labels["disclaimer"])
    child.expect_exact(labels["emergency_advice"])
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert menus > 0
    finished = json.loads(session.read_text(encoding="utf-8"))
    assert finished["format"] == STATE_FORMAT
    assert finished["asked"]["question"] is None  # the file says that nothing is left to ask
    assert len(finished["interview"]["answers"]) > len(saved["answers"])


def test_piped_interview_reports_a_red_flag(tmp_path: Path) -> None:
    """Without a terminal the questions are numbered lists; urinary retention gives an emergency summary."""
    knowledge = load_knowledge()
    session = tmp_path / "s.json"
    session.write_text(
        json.dumps(
            {
                "format": "pinchpoint-interview",
                "version": 1,
                "mode": "self_check",
                "knowledge_version": knowledge.version,
                "answers": [
                    {"question": "age", "value": 40, "phase": "intake"},
                    {"question": "sex", "value": "female", "phase": "intake"},
                    {"question": "pain_regions", "value": ["low_back"], "phase": "intake"},
                ],
            }
        ),
        encoding="utf-8",
    )
    replies = io.StringIO("\n".join(["1"] + ["3"] * 200) + "\n")
    out = io.StringIO()
    code = run_interview(knowledge, session=session, stdin=replies, stdout=out)
    assert code == 0
    text = out.getvalue()
    labels = _labels()
    assert labels["summary"] in text
    assert text.rstrip().splitlines()[-3] == labels["disclaimer"]


def test_corrupt_session_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A session file that is not JSON is reported in one line, with exit code 2, and left alone."""
    session = tmp_path / "broken.json"
    session.write_text("{not json", encoding="utf-8")
    assert main(["interview", "--session", str(session)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"pinchpoint: error: {session}: line 1, column 2: the text is not valid JSON: Expecting property"
        " name enclosed in double quotes; expected a session saved by pinchpoint interview\n"
    )
    assert session.read_text(encoding="utf-8") == "{not json"


def test_an_emergency_answer_ends_the_piped_self_check_with_what_to_do_now(tmp_path: Path) -> None:
    """Retention answered yes: no question follows, and what to do now comes before the summary."""
    knowledge = load_knowledge()
    bank = knowledge.questions
    interview = Interview.start(knowledge, intake={"age": 40, "sex": "female", "pain_regions": ["low_back"]})
    while (question := interview.next_question()) is not None and question.id != "bladder_bowel":
        interview.dont_know(question.id)
    assert question is not None
    assert bank["bladder_bowel"].cells[0].finding == "urinary_retention"  # the first reply answers it
    asked_before = len(interview.answers)
    session = tmp_path / "s.json"
    session.write_text(json.dumps(interview.to_dict()), encoding="utf-8")
    # The cauda equina form: "Yes" (1) to retention, then "I don't know" (3) to anything after it.
    replies = io.StringIO("\n".join(["1"] + ["3"] * 200) + "\n")
    out = io.StringIO()
    assert run_interview(knowledge, session=session, stdin=replies, stdout=out) == 0
    text = out.getvalue()
    labels = _labels()
    act_now = labels["emergency_now"].format(what=knowledge.vocabulary.triage["emergency"])
    assert text.index(act_now) < text.index(labels["summary"])
    saved = Interview.from_dict(json.loads(session.read_text())["interview"], knowledge)
    assert saved.findings["urinary_retention"] is True
    assert saved.finished
    assert len(saved.answers) == asked_before + 1  # nothing was asked after the emergency answer
