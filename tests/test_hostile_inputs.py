"""Hostile inputs found by the session-10 sweep of every entry point but the population audit.

Each row is one input that once ended in a crash or a misleading message; each is now refused
with exit 2 (or its 4xx) and a message naming what was wrong and what was expected. The rows that
can kill the interpreter (a C stack overflow is a segmentation fault, no exception) run the
command in a child process, so that a failure is reported as a failure, not as a dead test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinchpoint.cli.main import main
from pinchpoint.errors import InvalidCaseError, SchemaError
from pinchpoint.io.readers import load_yaml

pytestmark = pytest.mark.core

_LEVELS = 100_000
"""Far deeper than the readers allow, and deep enough that libyaml's recursive composer overflows."""

# (name, text): YAML nesting 100,000 levels deep, each under the case reader's 1 MiB limit.
_DEEP_YAML = [
    ("flow-sequences", "[" * _LEVELS + "]" * _LEVELS),
    ("flow-mappings", "a: " + "{a: " * _LEVELS + "1" + "}" * _LEVELS),
    ("block-sequences", "- " * _LEVELS + "x\n"),
    # The fast reader steps aside at the anchor, before the depth: the full loader must not compose.
    ("anchor-then-deep", "a: &x 1\nb: " + "[" * _LEVELS + "]" * _LEVELS + "\n"),
    ("unclosed", "findings: " + "[" * _LEVELS),
]


@pytest.mark.parametrize(("name", "text"), _DEEP_YAML, ids=[row[0] for row in _DEEP_YAML])
def test_deep_yaml_is_refused_without_killing_the_process(tmp_path: Path, name: str, text: str) -> None:
    """`assess` of YAML nested 100,000 deep exits 2 naming the depth (before: a segmentation fault)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PINCHPOINT_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "pinchpoint", "assess", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert done.stderr.startswith(f"pinchpoint: error: {path}"), done.stderr[-500:]
    assert "Traceback" not in done.stderr
    assert "nests too deeply" in done.stderr or "not valid YAML" in done.stderr, done.stderr[-500:]


@pytest.mark.parametrize("error", [InvalidCaseError, SchemaError])
def test_deep_yaml_names_the_line_and_the_limit(error: type[InvalidCaseError | SchemaError]) -> None:
    """Every reader of YAML (case files, knowledge files, corpora) refuses it with its own error class."""
    text = "a: 1\nb: &x 2\nc: " + "[" * 200 + "]" * 200 + "\n"
    with pytest.raises(error, match=r"the YAML nests too deeply; expected at most 64 levels") as caught:
        load_yaml(text, origin="deep.yaml", error=error, expected="YAML")
    assert caught.value.location == "deep.yaml: line 3, column 67"  # the 65th level, the mapping counted


# --- `pinchpoint users log --limit`: a number the database cannot take is the user's error ---------


@pytest.mark.parametrize("limit", ["0", "-1", str(2**53), str(2**63), "9" * 30])
def test_users_log_limit_out_of_range_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    """A --limit beyond what SQLite's integer holds was reported as a broken database; now as --limit."""
    database = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert main(["users", "log", "--limit", limit, "--database", database]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pinchpoint: error: --limit: the limit is out of range; expected 1 to"), error
    assert "database" not in error


def test_users_log_takes_the_largest_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert main(["users", "log", "--limit", str(2**53 - 1), "--database", database]) == 0
    assert capsys.readouterr().err == ""
