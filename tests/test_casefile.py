"""Tests of :mod:`pinchpoint.io.casefile`: files become cases, and every broken file an InputError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint.core.case import Case
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.errors import InputError, InvalidCaseError
from pinchpoint.io import readers
from pinchpoint.io.casefile import read_case, read_cases, read_file
from pinchpoint.io.readers import _yaml_errors

_EXPECTED_YAML = "expected a YAML mapping of case keys as in shared/contract/CASES.md"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"findings:\n  age: 40\n sex: male\n",
            ": line 3, column 2: the case file is not valid YAML: while parsing a block mapping, did not"
            f" find expected key; {_EXPECTED_YAML}",
            id="malformed-yaml",
        ),
        pytest.param(
            b"findings: [age: 40\n",
            ": line 2, column 1: the case file is not valid YAML: while parsing a flow sequence, did not"
            f" find expected ',' or ']'; {_EXPECTED_YAML}",
            id="unclosed-bracket",
        ),
        pytest.param(b"", f": the case file is empty; {_EXPECTED_YAML}", id="empty-file"),
        # Only a comment is as empty as no bytes at all.
        pytest.param(b"# nothing here\n", f": the case file is empty; {_EXPECTED_YAML}", id="only-comment"),
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00\xff",
            ": the case file is not text: byte 0 cannot be decoded; expected YAML text encoded as UTF-8"
            " (got b'\\x89')",
            id="binary-junk",
        ),
        pytest.param(
            b"findings:\n  age: 40\x00\n",
            ": character 20: the case file holds a character YAML does not allow (#x0000); expected"
            " printable UTF-8 text",
            id="nul-byte",
        ),
        pytest.param(
            # PyYAML alone would keep the second value and say the bladder is fine.
            b"findings:\n  urinary_retention: true\n  urinary_retention: false\n",
            ": line 3, column 3: key 'urinary_retention' is written twice in one mapping (first on line 2);"
            " expected each key at most once in a mapping",
            id="duplicate-key",
        ),
        pytest.param(
            b"findings: {}\nfindings: {age: 3}\n",
            ": line 2, column 1: key 'findings' is written twice in one mapping (first on line 1);"
            " expected each key at most once in a mapping",
            id="duplicate-top-level-key",
        ),
        pytest.param(
            b"- age: 40\n- sex: male\n",
            ": the case is not a mapping of keys to values; expected a YAML mapping with at least a"
            " 'findings' key (got 'list')",
            id="not-a-mapping",
        ),
        pytest.param(
            b"just some words\n",
            ": the case is not a mapping of keys to values; expected a YAML mapping with at least a"
            " 'findings' key (got 'str')",
            id="plain-text",
        ),
    ],
)
def test_broken_file_is_refused_naming_the_file(
    tmp_path: Path, vocabulary: Vocabulary, content: bytes, message: str
) -> None:
    """A broken case file raises InvalidCaseError whose message starts with the file's path."""
    path = tmp_path / "case.yaml"
    path.write_bytes(content)
    with pytest.raises(InvalidCaseError) as caught:
        read_case(path, vocabulary)
    assert str(caught.value) == f"{path}{message}"
    assert caught.value.location.startswith(str(path))


def test_missing_file_is_refused(tmp_path: Path, vocabulary: Vocabulary) -> None:
    """A path that does not exist is an InvalidCaseError chained to the OS error."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(InvalidCaseError) as caught:
        read_cases(path, vocabulary)
    assert (
        str(caught.value)
        == f"{path}: the case file does not exist; expected a YAML case file or a directory of them"
    )
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_directory_without_cases_is_refused(tmp_path: Path, vocabulary: Vocabulary) -> None:
    """A directory with no *.yaml file is refused rather than assessed as nothing."""
    (tmp_path / "notes.txt").write_text("findings: {}\n", encoding="utf-8")
    with pytest.raises(InvalidCaseError) as caught:
        read_cases(tmp_path, vocabulary)
    assert (
        str(caught.value)
        == f"{tmp_path}: the directory holds no case files; expected one or more *.yaml or *.yml case files"
    )


def test_directory_is_read_in_file_name_order(tmp_path: Path, vocabulary: Vocabulary) -> None:
    """Every *.yaml and *.yml file of a directory is read, in file-name order, ids defaulting to stems."""
    for name in ("b-case", "a-case", "c-case"):
        (tmp_path / f"{name}.yaml").write_text("findings: {age: 30}\n", encoding="utf-8")
    (tmp_path / "d-case.yml").write_text("findings: {age: 30}\n", encoding="utf-8")
    (tmp_path / "ignored.txt").write_text("not: [a case\n", encoding="utf-8")
    names = ["a-case", "b-case", "c-case", "d-case"]
    assert [case.id for case in read_cases(tmp_path, vocabulary)] == names


def test_id_in_file_wins_over_stem(tmp_path: Path, vocabulary: Vocabulary) -> None:
    """A case that states its id keeps it, whatever the file is called."""
    path = tmp_path / "renamed.yaml"
    path.write_text("id: l5-disc\nfindings:\n  exam.slr.left: true\n", encoding="utf-8")
    case = read_case(path, vocabulary)
    assert (case.id, dict(case.findings)) == ("l5-disc", {"exam.slr.left": True})


def test_merge_key_is_refused(tmp_path: Path, vocabulary: Vocabulary) -> None:
    """A YAML merge key is refused: it would let a key be stated twice (the last silently winning)."""
    path = tmp_path / "merged.yaml"
    path.write_text("findings:\n  <<: {age: 30, sex: male}\n  age: 31\n", encoding="utf-8")
    with pytest.raises(InvalidCaseError) as caught:
        read_case(path, vocabulary)
    assert caught.value.location == f"{path}: line 2, column 3"
    assert caught.value.problem == "a merge key (<<) is not read"


def _raiser(error: BaseException) -> Callable[..., None]:
    def raise_it(*_: object) -> None:
        raise error

    return raise_it


_MARK = yaml.Mark("case.yaml", 0, 4, 2, None, 0)


@pytest.mark.parametrize(
    ("foreign", "message"),
    [
        pytest.param(
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            "the case file is not text: byte 0 cannot be decoded",
            id="UnicodeDecodeError",
        ),
        pytest.param(
            yaml.scanner.ScannerError("while scanning", _MARK, "found a tab", _MARK),
            "the case file is not valid YAML: while scanning, found a tab",
            id="ScannerError",
        ),
        pytest.param(
            yaml.parser.ParserError(None, None, "did not find expected key", _MARK),
            "the case file is not valid YAML: did not find expected key",
            id="ParserError",
        ),
        pytest.param(
            yaml.constructor.ConstructorError(None, None, "found unhashable key", _MARK),
            "the case file is not valid YAML: found unhashable key",
            id="ConstructorError",
        ),
        pytest.param(
            yaml.reader.ReaderError("case.yaml", 3, 7, "utf-8", "control characters are not allowed"),
            "the case file holds a character YAML does not allow (#x0007)",
            id="ReaderError",
        ),
        pytest.param(yaml.YAMLError("something else"), "the case file is not valid YAML", id="YAMLError"),
        pytest.param(RecursionError(), "the case file nests too deeply to read", id="RecursionError"),
    ],
)
def test_every_foreign_error_has_a_mapping(foreign: BaseException, message: str) -> None:
    """Each foreign error of parsing becomes an InvalidCaseError chained to it."""
    with (
        pytest.raises(InvalidCaseError) as caught,
        _yaml_errors("case.yaml", InvalidCaseError, "YAML", "the case file"),
    ):
        _raiser(foreign)()
    assert caught.value.problem == message
    assert caught.value.__cause__ is foreign


@pytest.mark.parametrize(
    ("foreign", "message"),
    [
        pytest.param(
            FileNotFoundError(2, "No such file"), "the case file does not exist", id="FileNotFoundError"
        ),
        pytest.param(
            PermissionError(13, "Permission denied"), "the case file cannot be read", id="PermissionError"
        ),
    ],
)
def test_every_file_error_has_a_mapping(
    monkeypatch: pytest.MonkeyPatch, foreign: BaseException, message: str
) -> None:
    """Each foreign error of opening and reading a case file becomes an InvalidCaseError chained to it."""
    monkeypatch.setattr(readers.os, "open", _raiser(foreign))
    with pytest.raises(InvalidCaseError) as caught:
        read_file(Path("case.yaml"))
    assert caught.value.problem == message
    assert caught.value.__cause__ is foreign


def test_unexpected_error_is_not_translated() -> None:
    """An error the boundary does not expect is a bug and propagates unchanged."""
    with (
        pytest.raises(ZeroDivisionError),
        _yaml_errors("case.yaml", InvalidCaseError, "YAML", "the case file"),
    ):
        _raiser(ZeroDivisionError())()


# fmt: off
_TOKENS = st.sampled_from(
    [
        "findings:", "expect:", "id:", "title:", "age:", "sex:", "male", "exam.slr.left:", "true", "false",
        "pain_regions:", "[low_back,", "buttock.left]", "- ", "  ", "    ", "\t", ":", "{", "}", "[", "]",
        ",", "&a", "*a", "<<:", "!!str", "!!python/object", "?", "|", ">", "'", '"', "#", "---", "...",
        "40", "-3", "1e9", ".nan", "2024-01-01", "null", "~", "triage: soon", "site: [root.L5.left]",
        "cause: [disc_herniation]", "exam.power.ankle_dorsiflexion.left: 2", "\u00e9", "\x00", "\x07",
    ]
)
# fmt: on
_YAMLISH = st.lists(st.lists(_TOKENS, max_size=6).map(" ".join), max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(content=st.one_of(st.binary(max_size=200), _YAMLISH.map(lambda text: text.encode("utf-8"))))
def test_any_file_is_a_case_or_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, vocabulary: Vocabulary, content: bytes
) -> None:
    """Whatever bytes a case file holds, reading it gives a Case or an InputError, nothing else."""
    path = tmp_path_factory.getbasetemp() / "fuzz-case.yaml"
    path.write_bytes(content)
    outcome: Case | InputError
    try:
        outcome = read_case(path, vocabulary)
    except InputError as error:
        outcome = error
    assert isinstance(outcome, Case) or str(outcome).startswith(str(path))
