"""Tests of :mod:`pinchpoint.cli.main`, run in-process through ``main``.

Tests marked ``core`` assess cases, so they need the reasoning core (the knowledge base
and :func:`pinchpoint.core.assessment.assess`); they are never skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinchpoint.cli.main import SAFETY_NOTE, main
from tests.corpus import USER_EXAMPLES

_CONTRACT_KEYS = {"case", "triage", "triage_reasons", "sites", "causes", "knowledge_version"}
_REPORT_KEYS = {
    "cases", "triage_exact", "under_triage", "over_triage", "emergency_sensitivity", "site_top1",
    "site_top3", "cause_top1", "cause_top3", "misses", "knowledge_version",
    "site_top1_mean_p", "site_brier", "site_ece", "site_reliability",
    "cause_top1_mean_p", "cause_brier", "cause_ece", "cause_reliability",
}  # fmt: skip
_TRIAGE_IDS = {"emergency", "urgent", "soon", "self_care"}
_ERROR = 2


def _assert_refused(capsys: pytest.CaptureFixture[str], code: int, *fragments: str) -> None:
    captured = capsys.readouterr()
    assert code == _ERROR
    assert captured.out == ""
    assert captured.err.startswith("pinchpoint: error: ")
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1
    for fragment in fragments:
        assert fragment in captured.err


@pytest.mark.core
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"findings:\n  age: [40\n", "not valid YAML", id="malformed-yaml"),
        pytest.param(
            b"findings:\n  exam.slr: true\n", "exam.slr.left or exam.slr.right", id="unknown-finding"
        ),
        pytest.param(b"\xff\xfe\x00junk", "is not text", id="binary-junk"),
    ],
)
def test_bad_file_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, fragment: str
) -> None:
    """A bad case file exits 2 with one error line naming the file, and no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    _assert_refused(capsys, main(["assess", str(path), "--json"]), str(path), fragment)


@pytest.mark.core
def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is reported as an error, not a crash."""
    path = tmp_path / "absent.yaml"
    _assert_refused(capsys, main(["assess", str(path)]), f"{path}: the case file does not exist")


@pytest.mark.core
def test_one_bad_file_in_a_directory_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory with one bad file is refused whole, before any case is printed."""
    shutil.copytree(USER_EXAMPLES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "zz-broken.yaml").write_text("findings: {age: old}\n", encoding="utf-8")
    _assert_refused(capsys, main(["assess", str(tmp_path), "--json"]), "zz-broken.yaml: findings.age")


@pytest.mark.core
def test_assess_json_directory_gives_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Assessing a directory with --json prints one contract object per file, in file-name order."""
    code = main(["assess", str(USER_EXAMPLES), "--json"])
    lines = capsys.readouterr().out.splitlines()
    objects = [json.loads(line) for line in lines]
    assert code == 0
    assert [o["case"] for o in objects] == sorted(p.stem for p in USER_EXAMPLES.glob("*.yaml"))
    for obj in objects:
        assert set(obj) >= _CONTRACT_KEYS
        assert obj["triage"] in _TRIAGE_IDS
        assert obj["sites"]
        assert obj["causes"]
        probabilities = [item["p"] for item in obj["sites"] + obj["causes"]]
        assert all(0.0 <= p <= 1.0 for p in probabilities)
        assert [s["p"] for s in obj["sites"]] == sorted((s["p"] for s in obj["sites"]), reverse=True)


@pytest.mark.core
def test_assess_single_file_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    """Assessing one file with --json prints exactly one JSON object."""
    path = USER_EXAMPLES / "l5-foot-drop.yaml"
    code = main(["assess", str(path), "--json"])
    lines = capsys.readouterr().out.splitlines()
    assert (code, len(lines)) == (0, 1)
    assert json.loads(lines[0])["case"] == "l5-foot-drop"


@pytest.mark.core
def test_assess_json_is_the_contract_and_detail_adds_the_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json prints the contract, rules, warnings and plan ids; --detail adds reasons and wording."""
    path = str(USER_EXAMPLES / "l5-foot-drop.yaml")
    main(["assess", path, "--json"])
    plain = json.loads(capsys.readouterr().out)
    main(["assess", path, "--json", "--detail"])
    explained = json.loads(capsys.readouterr().out)
    assert set(plain) == _CONTRACT_KEYS | {"triage_rules", "warnings", "investigations", "plan"}
    assert set(explained) == set(plain) | {"explanations"}
    shared = set(plain) - {"investigations", "plan"}
    assert {key: explained[key] for key in shared} == {key: plain[key] for key in shared}
    plan = plain["plan"]
    plain_items = [item for name, group in plan.items() if name != "stages" for item in group]
    plain_items += [item for stage in plan["stages"] for item in stage["items"]]
    plain_items += plain["investigations"]
    assert plain_items, "a foot-drop case has a plan"
    assert all({"id", "verdict", "source"} <= set(item) and "patient" not in item for item in plain_items)
    detailed_actions = explained["plan"]["actions"]
    assert [item["id"] for item in detailed_actions] == [item["id"] for item in plain["plan"]["actions"]]
    assert all(item["patient"] and item["clinician"] for item in detailed_actions)
    leading_site = explained["explanations"]["sites"][0]
    assert leading_site["id"] == plain["sites"][0]["id"]
    assert leading_site["for"], "the leading site of a foot-drop case has findings for it"
    assert all(item["weight"] > 0 for item in leading_site["for"])


@pytest.mark.core
def test_readable_report_is_framed_by_the_safety_note(capsys: pytest.CaptureFixture[str]) -> None:
    """The readable report opens and closes with the safety note and names the knowledge version."""
    code = main(["assess", str(USER_EXAMPLES / "cauda-equina.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(SAFETY_NOTE)
    assert out.rstrip("\n").endswith(SAFETY_NOTE)
    for heading in ("Triage: ", "Where the nerve is harmed", "What harms it", "Why ", "Knowledge version: "):
        assert heading in out


@pytest.mark.core
def test_evaluate_json_has_every_report_key(capsys: pytest.CaptureFixture[str]) -> None:
    """The evaluate command with --json prints one report object with every key of CASES.md."""
    code = main(["evaluate", str(USER_EXAMPLES), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(report) == _REPORT_KEYS
    assert report["cases"] == len(list(USER_EXAMPLES.glob("*.yaml")))
    for miss in report["misses"]:
        assert set(miss) == {"case", "aspect", "expected", "got"}


@pytest.mark.core
def test_evaluate_text_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The evaluate command without --json prints the metrics by name and exits 0 whatever they are."""
    code = main(["evaluate", str(USER_EXAMPLES)])
    out = capsys.readouterr().out
    assert code == 0
    for label in (
        "triage exact",
        "under-triage (unsafe)",
        "emergency sensitivity",
        "site top-3",
        "cause top-1",
    ):
        assert label in out


@pytest.mark.core
def test_example_assesses_the_default_case(capsys: pytest.CaptureFixture[str]) -> None:
    """``pinchpoint example`` assesses the bundled L5 foot drop case."""
    code = main(["example"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Case l5-foot-drop: " in out
    assert out.startswith(SAFETY_NOTE)


def test_example_list_names_every_bundled_case(capsys: pytest.CaptureFixture[str]) -> None:
    """``pinchpoint example --list`` names each bundled example and marks the default."""
    code = main(["example", "--list"])
    names = capsys.readouterr().out.splitlines()
    assert code == 0
    assert names == [
        "cauda-equina",
        "l5-foot-drop (default)",
        "meralgia-paresthetica",
        "nonspecific-back-pain",
        "peroneal-palsy",
    ]


def test_unknown_example_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown example name is an error that lists the names there are."""
    _assert_refused(
        capsys,
        main(["example", "sciatica"]),
        "pinchpoint example: there is no example 'sciatica'; expected one of cauda-equina, l5-foot-drop,",
    )


def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command argparse prints the usage and exits 2."""
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == _ERROR
    assert capsys.readouterr().err.startswith("usage: pinchpoint")


@pytest.mark.core
def test_assessing_a_case_file_imports_no_adapter_framework() -> None:
    """``pinchpoint assess FILE --json`` never imports FHIR models, web or database frameworks.

    They take most of a second to import, and batch start-up time counts for every run.
    """
    script = (
        "import sys\n"
        "from pinchpoint.cli.main import main\n"
        f"code = main(['assess', {str(USER_EXAMPLES / 'l5-foot-drop.yaml')!r}, '--json'])\n"
        "heavy = ('fhir.resources', 'fastapi', 'sqlalchemy', 'spacy')\n"
        "print(code, sorted(set(heavy) & set(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "0 []"


@pytest.mark.core
@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        pytest.param(["assess", str(USER_EXAMPLES), "--json"], 0, id="assess-folder"),
        pytest.param(["assess", str(USER_EXAMPLES / "no-such-case.yaml"), "--json"], _ERROR, id="refused"),
        pytest.param(["example", "--list"], 0, id="a-command-that-exits-normally"),
    ],
)
def test_the_console_script_writes_everything_and_keeps_the_exit_code(
    arguments: list[str], code: int
) -> None:
    """``python -m pinchpoint`` (the console script's ``run``) ends at once, with nothing lost.

    It flushes its output before the process ends, so the JSON lines of a folder are all
    there, and it exits with the code :func:`main` returns.
    """
    done = subprocess.run(
        [sys.executable, "-m", "pinchpoint", *arguments], capture_output=True, text=True, check=False
    )
    assert done.returncode == code, done.stderr
    assert done.returncode == main(arguments)
    if arguments[0] == "assess" and code == 0:
        lines = done.stdout.splitlines()
        assert [json.loads(line)["case"] for line in lines] == sorted(
            p.stem for p in USER_EXAMPLES.glob("*.yaml")
        )
    if code == _ERROR:
        assert done.stderr.startswith("pinchpoint: error: ")
        assert "Traceback" not in done.stderr
