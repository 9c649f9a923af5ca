"""Read case files: the adapter between YAML on disk and :func:`pinchpoint.core.case.parse_case`.

A case file is the YAML of ``shared/contract/CASES.md``. This module reads the bytes of a
regular file (a named pipe or a device is refused, not waited on), parses them with the
strict YAML reader of :mod:`pinchpoint.io.readers` (the one the knowledge loader uses too) and
hands the mapping to :func:`~pinchpoint.core.case.parse_case`, which checks every id and value.

Every error of reading and parsing (a missing file, undecodable bytes, malformed YAML, a
key written twice, an alias, a merge key, a number out of range) is an
:class:`~pinchpoint.errors.InvalidCaseError` naming the file, the line and column or key
where there is one, and what was expected. PyYAML alone would silently keep the last of two
equal keys, and a case saying ``urinary_retention: false`` above ``urinary_retention: true``
must not be read as either.
"""

from __future__ import annotations

import os
from pathlib import Path

from pinchpoint.core.case import Case, parse_case
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.errors import InvalidCaseError
from pinchpoint.io.readers import load_yaml, read_regular_file

__all__ = ["CASE_SUFFIXES", "parse_case_yaml", "read_case", "read_cases", "read_file"]

CASE_SUFFIXES = (".yaml", ".yml")
"""The file names a directory of cases is read from; both spellings of YAML are cases."""

_EXPECTED_YAML = "a YAML mapping of case keys as in shared/contract/CASES.md"
_EXPECTED_FILE = "a YAML case file or a directory of them"
_MAX_FILE_BYTES = 1024 * 1024
"""The largest case file read: a case is a few kilobytes; a larger file is not a case."""


def read_cases(path: str | os.PathLike[str], vocabulary: Vocabulary) -> list[Case]:
    """Read one case file, or every ``*.yaml`` and ``*.yml`` file of a directory in file-name order.

    Args:
        path: A case file or a directory of case files.
        vocabulary: The vocabulary to check ids against.

    Raises:
        InvalidCaseError: The path does not exist, a directory holds no case file, or a
            file is not a valid case.
        UnknownFindingError: A case names a finding that is not in the vocabulary.
    """
    root = Path(path)
    if not root.is_dir():
        return [read_case(root, vocabulary)]
    return [read_case(file, vocabulary) for file in case_files(root)]


def case_files(folder: Path) -> list[Path]:
    """The case files of a folder, in file-name order: every ``*.yaml`` and ``*.yml`` not hidden.

    Raises:
        InvalidCaseError: The folder cannot be listed, or holds no case file.
    """
    return [folder / name for name in case_names(folder)]


def case_names(folder: Path) -> list[str]:
    """The names of the case files of a folder (see :func:`case_files`), in order.

    Names are handed on as text, not as paths: a batch sends thousands of them to its workers,
    and sending a path costs several times more than its name.

    Raises:
        InvalidCaseError: The folder cannot be listed, or holds no case file.
    """
    try:
        listed = [file.name for file in folder.iterdir()]
        names = sorted(name for name in listed if name.endswith(CASE_SUFFIXES) and name[:1] != ".")
    except OSError as exc:  # no permission to list the folder, an I/O failure
        raise InvalidCaseError(
            "the directory cannot be read", location=str(folder), expected=_EXPECTED_FILE, got=exc.strerror
        ) from exc
    if not names:
        raise InvalidCaseError(
            "the directory holds no case files",
            location=str(folder),
            expected="one or more *.yaml or *.yml case files",
        )
    return names


def read_case(path: str | os.PathLike[str], vocabulary: Vocabulary) -> Case:
    """Read and check one case file; a case without an ``id`` takes the file stem as its id.

    Args:
        path: The YAML case file.
        vocabulary: The vocabulary to check ids against.

    Raises:
        InvalidCaseError: The file is missing, unreadable, not UTF-8, not valid YAML,
            empty, has a duplicate key, or is not a valid case.
        UnknownFindingError: The case names a finding that is not in the vocabulary.
    """
    file = Path(path)
    return parse_case_yaml(read_file(file), vocabulary, origin=str(file), default_id=file.stem)


def read_file(file: Path, *, limit: int = _MAX_FILE_BYTES) -> bytes:
    """Read the bytes of a regular file, refusing a pipe, a device or a socket, and a huge file.

    A named pipe would block the reader until someone writes to it, and a device may never
    end; neither is a case file (see :func:`pinchpoint.io.readers.read_regular_file`).

    Raises:
        InvalidCaseError: The file does not exist, is not a regular file, is larger than
            ``limit`` bytes, or cannot be read.
    """
    return read_regular_file(
        file, error=InvalidCaseError, what="the case file", expected=_EXPECTED_FILE, limit=limit
    )


def parse_case_yaml(data: bytes, vocabulary: Vocabulary, *, origin: str, default_id: str) -> Case:
    """Parse and check the YAML text of one case, read from a file or received by upload.

    Args:
        data: The UTF-8 encoded YAML.
        vocabulary: The vocabulary to check ids against.
        origin: Where the text came from (a file name), named in every error message.
        default_id: The case id to use when the YAML has no ``id``.

    Raises:
        InvalidCaseError: The text is not UTF-8, not valid YAML, empty, has a duplicate
            key, or is not a valid case.
        UnknownFindingError: The case names a finding that is not in the vocabulary.
    """
    table = load_yaml(
        data, origin=origin, error=InvalidCaseError, expected=_EXPECTED_YAML, what="the case file"
    )
    if table is None:
        raise InvalidCaseError("the case file is empty", location=origin, expected=_EXPECTED_YAML)
    return parse_case(table, vocabulary, origin=origin, default_id=default_id)
