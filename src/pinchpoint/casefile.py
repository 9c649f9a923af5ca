"""Read case files: the adapter between YAML on disk and :func:`pinchpoint.case.parse_case`.

A case file is the YAML of ``shared/contract/CASES.md``. This module reads the bytes,
parses them with PyYAML (the libyaml C loader where it is built, because assessing a
directory of cases is dominated by parsing) and hands the mapping to
:func:`~pinchpoint.case.parse_case`, which checks every id and value.

Every foreign error of reading and parsing (a missing file, undecodable bytes, malformed
YAML) is translated here, once, into :class:`~pinchpoint.errors.InvalidCaseError` naming
the file, the line and column or key where there is one, and what was expected. A key
written twice in one mapping is refused too: PyYAML would silently keep the last value,
and a case saying ``urinary_retention: false`` above ``urinary_retention: true`` must
not be read as either.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from pinchpoint.case import Case, parse_case
from pinchpoint.errors import InvalidCaseError
from pinchpoint.vocabulary import Vocabulary

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml: the pure-Python loader reads the same YAML.
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = ["parse_case_yaml", "read_case", "read_cases"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_EXPECTED_YAML = "a YAML mapping of case keys as in shared/contract/CASES.md"


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names one key twice; keeps the key and both places for the message."""

    def __init__(self, key: Hashable, first: yaml.Node, again: yaml.Node) -> None:
        super().__init__(
            "while constructing a mapping", first.start_mark, f"found duplicate key {key!r}", again.start_mark
        )
        self.key = key
        self.first_mark = first.start_mark
        self.again_mark = again.start_mark


class _CaseLoader(_SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Construct a mapping as the safe loader does, after checking its keys are distinct.

        Keys brought in by a merge (``<<: *anchor``) may be overridden, as YAML allows;
        keys written out in the mapping itself may not repeat.

        Raises:
            _DuplicateKeyError: Two keys of the mapping are equal.
        """
        seen: dict[Hashable, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            # Constructed objects are cached, so the base class reuses these keys.
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class reports it with its place
                continue
            if first is not key_node:
                raise _DuplicateKeyError(key, first, key_node)
        return super().construct_mapping(node, deep=deep)


def read_cases(path: str | os.PathLike[str], vocabulary: Vocabulary) -> list[Case]:
    """Read one case file, or every ``*.yaml`` file of a directory in file-name order.

    Args:
        path: A case file or a directory of case files.
        vocabulary: The vocabulary to check ids against.

    Raises:
        InvalidCaseError: The path does not exist, a directory holds no ``*.yaml`` file,
            or a file is not a valid case.
        UnknownFindingError: A case names a finding that is not in the vocabulary.
    """
    root = Path(path)
    if not root.is_dir():
        return [read_case(root, vocabulary)]
    files = sorted(root.glob("*.yaml"), key=lambda file: file.name)
    if not files:
        raise InvalidCaseError(
            "the directory holds no case files",
            location=str(root),
            expected="one or more *.yaml case files",
        )
    return [read_case(file, vocabulary) for file in files]


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
    with _foreign_errors(str(file)):
        data = file.read_bytes()
    return parse_case_yaml(data, vocabulary, origin=str(file), default_id=file.stem)


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
    with _foreign_errors(origin):
        table = yaml.load(data.decode("utf-8-sig"), Loader=_CaseLoader)
    if table is None:
        raise InvalidCaseError("the case file is empty", location=origin, expected=_EXPECTED_YAML)
    return parse_case(table, vocabulary, origin=origin, default_id=default_id)


@contextmanager
def _foreign_errors(origin: str) -> Iterator[None]:
    """Translate the errors of reading and parsing case text into :class:`InvalidCaseError`.

    Raises:
        InvalidCaseError: For every foreign error this boundary expects, chained to it.
    """
    try:
        yield
    except FileNotFoundError as exc:
        raise InvalidCaseError(
            "the case file does not exist",
            location=origin,
            expected="a YAML case file or a directory of them",
        ) from exc
    except OSError as exc:  # a directory given as a file, no permission, an I/O failure
        raise InvalidCaseError(
            "the case file cannot be read",
            location=origin,
            expected="a readable YAML case file",
            got=exc.strerror,
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidCaseError(
            f"the case file is not text: byte {exc.start} cannot be decoded",
            location=origin,
            expected="YAML text encoded as UTF-8",
            got=exc.object[exc.start : exc.start + 1],
        ) from exc
    except _DuplicateKeyError as exc:
        raise InvalidCaseError(
            f"key {exc.key!r} is written twice in one mapping (first on line {exc.first_mark.line + 1})",
            location=_at(origin, exc.again_mark),
            expected="each key at most once in a mapping",
        ) from exc
    except yaml.MarkedYAMLError as exc:
        raise InvalidCaseError(
            f"the case file is not valid YAML: {_yaml_problem(exc)}",
            location=_at(origin, exc.problem_mark or exc.context_mark),
            expected=_EXPECTED_YAML,
        ) from exc
    except yaml.reader.ReaderError as exc:
        raise InvalidCaseError(
            f"the case file holds a character YAML does not allow (#x{exc.character:04x})",
            location=f"{origin}: character {exc.position + 1}",
            expected="printable UTF-8 text",
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidCaseError(
            "the case file is not valid YAML", location=origin, expected=_EXPECTED_YAML, got=str(exc)
        ) from exc
    except RecursionError as exc:
        raise InvalidCaseError(
            "the case file nests too deeply to read", location=origin, expected=_EXPECTED_YAML
        ) from exc


def _at(origin: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return origin
    return f"{origin}: line {mark.line + 1}, column {mark.column + 1}"


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    parts = (exc.context, exc.problem)
    return ", ".join(part for part in parts if part) or "malformed"
