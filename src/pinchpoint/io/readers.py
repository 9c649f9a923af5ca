r"""Strict readers of YAML and JSON text: one for every file and request body pinchpoint reads.

Case files, knowledge files, FHIR JSON and every JSON request body go through these two
functions, so that each refuses the same things the same way, with the place and what was
expected, instead of reading a value that the text does not honestly say:

* a key written twice in one mapping or object (PyYAML and ``json`` keep the last value
  silently, so ``urinary_retention`` written ``true`` then ``false`` would read as ``false``);
* YAML anchors and aliases, merge keys included (``<<: *defaults``): an alias can hide a
  duplicate key and can make a few hundred bytes expand to gigabytes ("billion laughs");
* numbers that are not finite (``NaN``, ``Infinity``, ``1e400``, ``.inf``) or whose size is
  beyond what JSON numbers carry exactly (more than 2^53: an integer of thousands of digits
  costs quadratic time to convert and overflows every float after it);
* lone UTF-16 surrogates (``"\ud800"`` in JSON): no encoder can write them back;
* YAML 1.1's implicit conversions that change a value: ``1:30`` (read as 90), ``012``
  (read as 10), ``0x1F``, ``1_000``, ``yes``/``no``/``on``/``off`` and unquoted dates. The
  YAML reader resolves plain scalars as YAML 1.2's core schema does, and otherwise keeps the
  text as a string, which the schema of the file then refuses or accepts as text.

Every refusal raises the error class the caller names (a case file's
:class:`~pinchpoint.errors.InvalidCaseError`, a knowledge file's
:class:`~pinchpoint.errors.SchemaError`, a request's
:class:`~pinchpoint.errors.InvalidRequestError`), so each boundary keeps its own kind of error.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import yaml

from pinchpoint.core.case import MAX_SAFE_INTEGER
from pinchpoint.errors import PinchpointError

try:  # libyaml's parser is several times faster than the pure-Python one
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = ["load_json", "load_yaml", "read_regular_file"]

_MAX_DEPTH = 64
"""Deeper nesting than any file or request of pinchpoint has; refused before it costs a stack."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_NUMBER_EXPECTED = f"a finite number of at most {MAX_SAFE_INTEGER} in size"

Error = type[PinchpointError]


# --- files ----------------------------------------------------------------------------------------


def read_regular_file(
    path: str | os.PathLike[str], *, error: Error, what: str, expected: str, limit: int
) -> bytes:
    """Read the bytes of a regular file, refusing a pipe, a device, a socket, a folder or a huge file.

    The file is opened without waiting (``O_NONBLOCK``: opening a named pipe otherwise waits for
    a writer) and checked on the open descriptor, so nothing can be swapped in between the check
    and the read; a device such as ``/dev/zero`` never ends and is refused before a byte is read.

    Args:
        path: The file.
        error: The error class to raise.
        what: What the file is, in the messages ("the case file").
        expected: What the path should be ("a YAML case file or a directory of them").
        limit: The largest size read, in bytes.

    Raises:
        PinchpointError: Of class ``error``: the path does not exist, is not a regular file, is
            larger than ``limit`` bytes, or cannot be read (no permission, an I/O failure).
    """
    origin = os.fspath(path)
    try:
        descriptor = os.open(origin, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise error(f"{what} does not exist", location=origin, expected=expected) from exc
    except IsADirectoryError as exc:  # Windows; on POSIX a folder opens and fstat names it
        raise error(
            "the path is not a regular file (it is a directory)", location=origin, expected=expected
        ) from exc
    except OSError as exc:
        raise error(f"{what} cannot be read", location=origin, expected=expected, got=exc.strerror) from exc
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise error(
                f"the path is not a regular file (it is {_file_kind(status.st_mode)})",
                location=origin,
                expected=expected,
            )
        try:
            data = _read_to_end(descriptor, status.st_size, limit)
        except OSError as exc:
            raise error(
                f"{what} cannot be read", location=origin, expected=expected, got=exc.strerror
            ) from exc
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise error(
            f"{what} is too large", location=origin, expected=f"{expected} of at most {limit // 1024} KiB"
        )
    return data


def _read_to_end(descriptor: int, size: int, limit: int) -> bytes:
    """Read a regular file to its end, or to ``limit + 1`` bytes if it is longer.

    The first read asks for the size the file had when opened (plus one byte, to see it grow):
    asking a buffered stream for ``limit + 1`` bytes allocated that much for every file, ten
    times the cost of reading a case file. A file that grew is read on until its end or the limit.
    """
    chunks = []
    total = 0
    wanted = min(size, limit) + 1
    while total <= limit:
        chunk = os.read(descriptor, wanted)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        wanted = limit + 1 - total
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


# --- YAML -----------------------------------------------------------------------------------------


class _RefusalError(yaml.MarkedYAMLError):
    """A construct the strict loader does not read; keeps the place and what was expected."""

    def __init__(self, problem: str, mark: yaml.Mark | None, expected: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.expected = expected


class StrictLoader(_SafeLoader):
    """PyYAML's safe loader reading YAML 1.2 core scalars, refusing duplicates, aliases and merges."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012 (PyYAML's API)

    def get_single_data(self) -> Any:
        """Compose the document, refuse anchors, aliases and merge keys, then construct it."""
        node = self.get_single_node()
        if node is None:
            return None
        _refuse_shared_nodes(node)
        return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Construct a mapping as the safe loader does, after checking that its keys are distinct.

        Raises:
            _RefusalError: Two keys of the mapping are equal.
        """
        seen: dict[Hashable, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class reports it with its place
                continue
            if first is not key_node:
                raise _RefusalError(
                    f"key {_shown(key)} is written twice in one mapping (first on line"
                    f" {first.start_mark.line + 1})",
                    key_node.start_mark,
                    "each key at most once in a mapping",
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """Read a decimal integer (YAML 1.2 core), refusing one beyond :data:`MAX_SAFE_INTEGER`."""
        text = str(self.construct_scalar(node))
        if len(text.lstrip("+-")) > len(str(MAX_SAFE_INTEGER)) or abs(int(text)) > MAX_SAFE_INTEGER:
            raise _RefusalError(
                f"the number {_clipped(text)} is too large", node.start_mark, _NUMBER_EXPECTED
            )
        return int(text)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        """Read a decimal number (YAML 1.2 core), refusing one that is not finite."""
        text = str(self.construct_scalar(node))
        value = float(text)
        if not math.isfinite(value):
            raise _RefusalError(
                f"the number {_clipped(text)} is out of range", node.start_mark, _NUMBER_EXPECTED
            )
        return value


StrictLoader.add_constructor(_INT_TAG, StrictLoader.construct_yaml_int)
StrictLoader.add_constructor(_FLOAT_TAG, StrictLoader.construct_yaml_float)
# YAML 1.2 core schema: no sexagesimal, octal, hexadecimal, underscores, yes/no/on/off or dates.
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
StrictLoader.add_implicit_resolver(_MERGE_TAG, re.compile(r"^(?:<<)$"), ["<"])  # found, then refused
StrictLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
StrictLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


def _refuse_shared_nodes(root: yaml.Node) -> None:
    """Refuse a node reached twice (an alias of an anchor) and any merge key, walking each node once."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _RefusalError(
                "an anchor is used again through an alias (&name ... *name)",
                node.start_mark,
                "every value written out where it stands; pinchpoint reads no aliases",
            )
        seen.add(id(node))
        if depth > _MAX_DEPTH:
            raise _RefusalError("the YAML nests too deeply", node.start_mark, f"at most {_MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    raise _RefusalError(
                        "a merge key (<<) is not read", key.start_mark, "every key written out in its mapping"
                    )
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]


def load_yaml(data: bytes | str, *, origin: str, error: Error, expected: str, what: str = "the file") -> Any:
    """Parse one YAML document strictly (see the module docstring).

    Args:
        data: The text, or its UTF-8 bytes (a byte-order mark is allowed).
        origin: Where the text came from (a file name), named in every message.
        error: The error class to raise.
        expected: What the text should be, for the message of a malformed document.
        what: What the text is, in the messages ("the case file").

    Raises:
        PinchpointError: Of class ``error``: the text is not UTF-8, not YAML, or holds a
            duplicate key, an alias, a merge key, a number out of range or a character YAML
            does not allow; the message names the line.
    """
    with _yaml_errors(origin, error, expected, what):
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        try:
            return _load_plain_yaml(text)
        except _UnsureError:
            _refuse_deep_nesting(text)
            return yaml.load(text, Loader=StrictLoader)


def _refuse_deep_nesting(text: str) -> None:
    """Refuse nesting deeper than :data:`_MAX_DEPTH` from the parser's events, before any node is composed.

    libyaml composes a document's nodes by recursion in C, with no limit: a few hundred
    kilobytes of ``[[[[...`` (100,000 levels) overflow the C stack and kill the process, which
    no Python handler can catch. Counting the depth over the events costs no recursion. Text
    malformed before it gets deep is left to the full loader, which reports it with its place.

    Raises:
        _RefusalError: The text nests deeper than :data:`_MAX_DEPTH` levels.
    """
    parser = _SafeLoader(text)
    starts = (_EVENTS.MappingStartEvent, _EVENTS.SequenceStartEvent)
    ends = (_EVENTS.MappingEndEvent, _EVENTS.SequenceEndEvent)
    depth = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, starts):
                depth += 1
                if depth > _MAX_DEPTH:
                    mark = cast("yaml.Mark", event.start_mark)  # libyaml's mark: the same line and column
                    raise _RefusalError("the YAML nests too deeply", mark, f"at most {_MAX_DEPTH} levels")
            elif isinstance(event, ends):
                depth -= 1
    except yaml.YAMLError as exc:
        if isinstance(exc, _RefusalError):
            raise
    finally:
        parser.dispose()


class _UnsureError(Exception):
    """The fast reader met something only :class:`StrictLoader` answers exactly (or refuses)."""


_PLAIN_SCALAR = re.compile(
    r"(?P<bool>true|True|TRUE|false|False|FALSE)$|(?P<null>~|null|Null|NULL|)$|(?P<int>[-+]?[0-9]+)$"
    r"|(?P<float>[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"
)
"""StrictLoader's implicit resolvers in one pattern, in their order (an int before a float)."""
_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))
_EVENTS = yaml.events
_SCALARS: dict[str, Any] = {}
"""Plain scalars already resolved (``true``, ``low_back``, ``38``), at most :data:`_MEMO_SIZE` of them."""
_MEMO_SIZE = 4096


def _load_plain_yaml(text: str) -> Any:
    """Read a document of plain mappings, sequences and untagged scalars straight from parser events.

    The result is what :class:`StrictLoader` gives, built in a third of the time: a case
    file is read in less time than a bare ``yaml.load``, since no node tree is composed
    and no constructor dispatched per node. Anything beyond that plain subset (a tag, an
    anchor, an alias, a merge key, a repeated or compound key, a number out of range, deep
    nesting, more or less than one document, malformed text) raises :class:`_UnsureError`,
    and the caller reads the text again with :class:`StrictLoader`, which gives the value
    or the refusal with its exact message and place.

    Raises:
        _UnsureError: The text needs the full loader.
    """
    parser = _SafeLoader(text)
    try:
        return _built(parser.get_event)
    except yaml.YAMLError as exc:  # the full loader reports it with its place
        raise _UnsureError from exc
    finally:
        parser.dispose()


def _built(next_event: Any) -> Any:  # noqa: PLR0912 (one loop over the event kinds, kept whole for speed)
    """Build the value of one document from its events."""
    scalar, mapping_start, mapping_end = (
        _EVENTS.ScalarEvent,
        _EVENTS.MappingStartEvent,
        _EVENTS.MappingEndEvent,
    )
    sequence_start, sequence_end, memo = _EVENTS.SequenceStartEvent, _EVENTS.SequenceEndEvent, _SCALARS
    if next_event().__class__ is not _EVENTS.StreamStartEvent:
        raise _UnsureError
    if next_event().__class__ is not _EVENTS.DocumentStartEvent:
        raise _UnsureError
    no_key = _UnsureError  # a marker no YAML value can be
    containers: list[Any] = []
    keys: list[Any] = []
    while True:
        event = next_event()
        kind = event.__class__
        if kind is scalar:
            if event.anchor is not None or event.tag is not None:
                raise _UnsureError
            value = event.value
            if event.implicit[0]:  # plain: resolved as StrictLoader resolves it, once per text
                text, value = value, memo.get(value, no_key)
                if value is no_key:
                    value = _plain_scalar(text)
                    if len(memo) < _MEMO_SIZE:
                        memo[text] = value
        elif kind is mapping_start or kind is sequence_start:
            if event.anchor is not None or event.tag is not None or len(containers) >= _MAX_DEPTH:
                raise _UnsureError
            containers.append({} if kind is mapping_start else [])
            keys.append(no_key)
            continue
        elif kind is mapping_end or kind is sequence_end:
            value = containers.pop()
            keys.pop()
        else:  # an alias, or the end of an empty document
            raise _UnsureError
        if not containers:
            break
        container = containers[-1]
        if container.__class__ is list:
            container.append(value)
        elif keys[-1] is no_key:
            if value.__class__ is dict or value.__class__ is list or value in container:
                raise _UnsureError
            keys[-1] = value
        else:
            container[keys[-1]] = value
            keys[-1] = no_key
    if next_event().__class__ is not _EVENTS.DocumentEndEvent:
        raise _UnsureError
    if next_event().__class__ is not _EVENTS.StreamEndEvent:
        raise _UnsureError
    return value


def _plain_scalar(text: str) -> Any:
    """Resolve and construct an untagged plain scalar as :class:`StrictLoader` does."""
    match = _PLAIN_SCALAR.match(text)
    if match is None:
        if text == "<<":
            raise _UnsureError
        return text
    kind = match.lastgroup
    if kind == "bool":
        return text[0] in "tT"
    if kind == "null":
        return None
    if kind == "int":
        if len(text.lstrip("+-")) > _INTEGER_DIGITS or abs(int(text)) > MAX_SAFE_INTEGER:
            raise _UnsureError
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise _UnsureError
    return number


@contextmanager
def _yaml_errors(origin: str, error: Error, expected: str, what: str) -> Iterator[None]:
    """Translate the errors of decoding and parsing YAML into ``error``, with the line."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} is not text: byte {exc.start} cannot be decoded",
            location=origin,
            expected="YAML text encoded as UTF-8",
            got=exc.object[exc.start : exc.start + 1],
        ) from exc
    except _RefusalError as exc:
        raise error(str(exc.problem), location=_at(origin, exc.problem_mark), expected=exc.expected) from exc
    except yaml.MarkedYAMLError as exc:
        raise error(
            f"{what} is not valid YAML: {_yaml_problem(exc)}",
            location=_at(origin, exc.problem_mark or exc.context_mark),
            expected=expected,
        ) from exc
    except yaml.reader.ReaderError as exc:
        raise error(
            f"{what} holds a character YAML does not allow (#x{exc.character:04x})",
            location=f"{origin}: character {exc.position + 1}",
            expected="printable UTF-8 text",
        ) from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} is not valid YAML", location=origin, expected=expected, got=str(exc)) from exc
    except RecursionError as exc:
        raise error(f"{what} nests too deeply to read", location=origin, expected=expected) from exc


def _at(origin: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return origin
    return f"{origin}: line {mark.line + 1}, column {mark.column + 1}"


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    parts = (exc.context, exc.problem)
    return ", ".join(part for part in parts if part) or "malformed"


# --- JSON -----------------------------------------------------------------------------------------


class _JsonRefusalError(ValueError):
    """Something the strict JSON reader does not read, with what was expected."""

    def __init__(self, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, value in pairs:
        if key in table:
            raise _JsonRefusalError(
                f"key {_shown(key)} is written twice in one object", "each key at most once"
            )
        table[key] = value
    return table


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > len(str(MAX_SAFE_INTEGER)) or abs(int(text)) > MAX_SAFE_INTEGER:
        raise _JsonRefusalError(f"the number {_clipped(text)} is too large", _NUMBER_EXPECTED)
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRefusalError(f"the number {_clipped(text)} is out of range", _NUMBER_EXPECTED)
    return value


def _constant(name: str) -> Any:
    raise _JsonRefusalError(f"{name} is not a JSON number", _NUMBER_EXPECTED)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_int=_integer, parse_float=_number, parse_constant=_constant
)


def load_json(data: bytes | str, *, origin: str, error: Error, expected: str = "a JSON document") -> Any:
    """Parse JSON text strictly (see the module docstring).

    Args:
        data: The text, or its UTF-8 bytes (a byte-order mark is allowed).
        origin: Where the text came from (a file name, ``request body``), named in every message.
        error: The error class to raise.
        expected: What the text should be, for the message of malformed JSON.

    Raises:
        PinchpointError: Of class ``error``: the text is not UTF-8 or not JSON, or holds a
            duplicate key, a number out of range, a lone surrogate or too deep a nesting.
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        value = _DECODER.decode(text)
        _refuse_unwritable(value)
    except UnicodeDecodeError as exc:
        raise error(
            f"the text is not UTF-8: byte {exc.start} cannot be decoded",
            location=origin,
            expected=f"{expected} encoded as UTF-8",
        ) from exc
    except json.JSONDecodeError as exc:
        raise error(
            f"the text is not valid JSON: {exc.msg}",
            location=f"{origin}: line {exc.lineno}, column {exc.colno}",
            expected=expected,
        ) from exc
    except _JsonRefusalError as exc:
        raise error(exc.problem, location=origin, expected=exc.expected) from exc
    except RecursionError as exc:
        raise error("the JSON nests too deeply to read", location=origin, expected="JSON") from exc
    return value


def _refuse_unwritable(value: Any) -> None:
    """Refuse a string (key or value) holding a lone surrogate, and nesting deeper than :data:`_MAX_DEPTH`."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise _JsonRefusalError("the JSON nests too deeply", f"at most {_MAX_DEPTH} levels")
        if isinstance(item, str):
            _refuse_surrogates(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _refuse_surrogates(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack += [(child, depth + 1) for child in item]


def _refuse_surrogates(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _JsonRefusalError(
            f"a string holds a lone surrogate (\\u{ord(text[exc.start]):04x})",
            "text of whole Unicode characters",
        ) from exc


def _shown(key: object) -> str:
    return _clipped(repr(key))


def _clipped(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
