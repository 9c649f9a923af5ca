"""A large folder assessed in worker processes answers exactly as one process does.

The thresholds of :mod:`pinchpoint.cli.batch` are lowered so that a folder of forty copies of
the development cases is split into runs across two workers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pinchpoint.cli import batch
from pinchpoint.cli.main import main
from pinchpoint.errors import InvalidCaseError
from tests.corpus import SHARED_CASES

_COPIES = 40


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sources = sorted(SHARED_CASES.glob("*.yaml"))
    for number in range(_COPIES):
        shutil.copy(sources[number % len(sources)], tmp_path / f"case-{number:03d}.yaml")
    monkeypatch.setattr(batch, "PARALLEL_FROM", 10)
    monkeypatch.setattr(batch, "_RUN", 7)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = main(["assess", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("detail", [[], ["--detail"]], ids=["plain", "detail"])
def test_workers_write_what_one_process_writes(
    folder: Path, capsys: pytest.CaptureFixture[str], detail: list[str]
) -> None:
    """Two workers give the same lines, in the same (file-name) order, as one process."""
    one = _run(capsys, str(folder), "--json", "--jobs", "1", *detail)
    two = _run(capsys, str(folder), "--json", "--jobs", "2", *detail)
    assert one[0] == two[0] == 0
    assert one[1].count("\n") == _COPIES
    assert two == one


def test_a_bad_file_in_a_worker_stops_the_run_with_no_output(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not a case, read by a worker, gives its error and nothing is written."""
    (folder / "case-033.yaml").write_text("age: [1\n", encoding="utf-8")
    code, out, err = _run(capsys, str(folder), "--json", "--jobs", "2")
    assert code == 2
    assert out == ""
    assert err.startswith("pinchpoint: error: ")
    assert "case-033.yaml" in err
    assert "Traceback" not in err


def test_an_error_crosses_a_process_whole() -> None:
    """A pinchpoint error pickles with its parts, so a worker's error reads as the parent's would."""
    import pickle  # noqa: PLC0415

    error = InvalidCaseError("bad age", location="a.yaml: age", expected="a whole number", got="x")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidCaseError
    assert str(copy) == str(error)
    assert (copy.location, copy.expected, copy.got) == (error.location, error.expected, error.got)


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_number(jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["assess", ".", "--json", "--jobs", jobs])
    assert exit_info.value.code == 2
    assert "expected a whole number of at least 1" in capsys.readouterr().err
