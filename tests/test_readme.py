"""The README's set-up: exactly two commands first, and CI runs the second one word for word."""

from __future__ import annotations

from tests.corpus import REPO


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.startswith("```sh\n"), "the README must open with its set-up commands"
    block = text[len("```sh\n") : text.index("```", len("```sh\n"))]
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_starts_with_two_commands() -> None:
    """One command runs the app on its defaults, one runs the tests; both make their own environment."""
    run, test = _setup_commands()
    assert run.startswith("python3 -m venv .venv")
    assert run.endswith("pinchpoint serve")
    assert "'.[text]'" in run, "the app's first command must include the free-text reader"
    assert test.startswith("python3 -m venv .venv")
    assert test.endswith("scripts/test")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls the README's test command as written, so the two cannot drift apart."""
    _, test = _setup_commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci
