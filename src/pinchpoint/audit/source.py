"""The input folder: find its NDJSON files, count their lines, and set aside lines no engine should read.

A FHIR Bulk Data export is a folder of NDJSON files named after their resource type
(``Patient.ndjson``, ``Condition.001.ndjson``). Before an engine reads the files, one streaming
pass over each file's bytes counts its lines (the reconciliation's total) and finds the lines the
engines must not load: a line longer than the configured limit (a 2 GB line would exhaust memory),
a line holding the byte 0x01 (the engines split lines with it; valid JSON never holds a raw control
character) and a line that is not UTF-8 (a reader of text would stop at it, or change it). A file
with such a line is copied with that line left empty, so that line numbers stay the same; every
other file is read where it is. Memory stays bounded by the block size.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from pinchpoint.errors import InputError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "SetAside", "SourceFile", "scan_source"]

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest line the audit reads; a longer line is refused, not loaded."""

_BLOCK = 8 * 1024 * 1024
_SEPARATOR = b"\x01"


@dataclass(frozen=True, slots=True)
class SetAside:
    """A line refused before the engines read the file: its number, length and reason."""

    line_no: int
    size: int
    reason: str


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One NDJSON file: its name, the resource type its name announces, and what to read.

    ``longest`` bounds the length in bytes of every line an engine reads from ``read_path`` (the
    longest line of the file, or the limit if that is shorter: a line set aside is read as empty),
    so that a reader can size its line buffer.
    """

    name: str
    resource_type: str
    path: Path
    read_path: Path
    lines: int
    set_aside: tuple[SetAside, ...]
    longest: int = 0


def scan_source(
    source: Path, work: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> list[SourceFile]:
    """Find and scan the NDJSON files of ``source`` (a folder, or one file).

    Raises:
        InputError: The source does not exist or holds no ``.ndjson`` file.
    """
    if source.is_file():
        paths = [source]
    elif source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.is_file() and p.name.endswith(".ndjson"))
    else:
        raise InputError(
            "the audit source does not exist", location=str(source), expected="a folder of NDJSON files"
        )
    if not paths:
        raise InputError(
            "the audit source holds no NDJSON file",
            location=str(source),
            expected="files named after their resource type, such as Patient.ndjson and Condition.ndjson",
        )
    work.mkdir(parents=True, exist_ok=True)
    return [_scan(path, work, max_line_bytes) for path in paths]


def _scan(path: Path, work: Path, limit: int) -> SourceFile:
    lines, refused, longest = _find(path, limit)
    read_path = path
    if refused:
        read_path = work / f"clean-{path.name}"
        _copy_without(path, read_path, {r.line_no for r in refused})
    resource_type = path.name.split(".", 1)[0]
    return SourceFile(path.name, resource_type, path, read_path, lines, tuple(refused), min(longest, limit))


def _find(path: Path, limit: int) -> tuple[int, list[SetAside], int]:
    """Count lines, find those no engine should read, and measure the longest, one block at a time.

    Each block is split at its newlines and the lengths of its lines measured in C (``split`` and
    ``map(len, ...)``); Python looks at a line only when a block holds one longer than the limit, a
    0x01 byte or a byte outside ASCII (then the line must decode as UTF-8). The line left open at
    the end of a block carries its length, its 0x01 and its partial UTF-8 into the next.
    """
    refused: list[SetAside] = []
    line_no = 1
    longest = 0
    line = _OpenLine()
    last = b"\n"
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            last = block[-1:]
            parts = block.split(b"\n")
            if len(parts) == 1:
                line.add(parts[0], final=False)
                continue
            line.add(parts[0], final=True)
            lengths = list(map(len, parts))
            longest = max(longest, line.length, *lengths[1:-1])
            _judge(
                refused, line_no, line.length, separator=line.separator, not_text=line.not_text, limit=limit
            )
            inner = range(1, len(parts) - 1)
            inner_bytes = memoryview(block)[lengths[0] + 1 : -lengths[-1] - 1]
            plain = _SEPARATOR not in block and (block.isascii() or _is_text(inner_bytes))
            if not plain or (len(parts) > 2 and max(lengths[1:-1]) > limit):
                for index in inner:
                    part = parts[index]
                    separator, not_text = _SEPARATOR in part, not _is_text(part)
                    _judge(
                        refused,
                        line_no + index,
                        lengths[index],
                        separator=separator,
                        not_text=not_text,
                        limit=limit,
                    )
            line_no += len(parts) - 1
            line = _OpenLine()
            line.add(parts[-1], final=False)
    if last != b"\n":
        line.add(b"", final=True)
        longest = max(longest, line.length)
        _judge(refused, line_no, line.length, separator=line.separator, not_text=line.not_text, limit=limit)
        line_no += 1
    return line_no - 1, refused, longest


class _OpenLine:
    """A line read so far, in pieces: its length, whether it holds 0x01, and whether it is not UTF-8.

    Its bytes are not kept: a piece outside ASCII goes through an incremental UTF-8 decoder, which
    holds only a character cut at the end of a block.
    """

    __slots__ = ("decoder", "length", "not_text", "separator")

    def __init__(self) -> None:
        self.length = 0
        self.separator = False
        self.not_text = False
        self.decoder: codecs.IncrementalDecoder | None = None

    def add(self, piece: bytes, *, final: bool) -> None:
        self.length += len(piece)
        self.separator = self.separator or _SEPARATOR in piece
        if self.not_text or (self.decoder is None and piece.isascii()):
            return
        self.decoder = self.decoder or codecs.getincrementaldecoder("utf-8")()
        try:
            self.decoder.decode(piece, final)
        except UnicodeDecodeError:
            self.not_text = True


def _is_text(data: bytes | memoryview) -> bool:
    """Whether ``data`` is UTF-8 (bytes are most often ASCII, which is checked first and faster)."""
    if isinstance(data, bytes) and data.isascii():
        return True
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _judge(
    refused: list[SetAside], line_no: int, length: int, *, separator: bool, not_text: bool, limit: int
) -> None:
    if length > limit:
        refused.append(SetAside(line_no, length, f"line too long ({length} bytes; the limit is {limit})"))
    elif separator:
        refused.append(SetAside(line_no, length, "a raw control character (0x01) in the line: not JSON"))
    elif not_text:
        refused.append(SetAside(line_no, length, "not UTF-8 text (a Bulk Data export is UTF-8 NDJSON)"))


def _copy_without(path: Path, target: Path, drop: set[int]) -> None:
    """Copy ``path`` to ``target`` with the lines numbered in ``drop`` left empty.

    A block holding no such line (nor the end of one) is written as it is.
    """
    line_no = 1
    dropping = 1 in drop
    with path.open("rb") as stream, target.open("wb") as out:
        while block := stream.read(_BLOCK):
            newlines = block.count(b"\n")
            if not dropping and not any(line_no < n <= line_no + newlines for n in drop):
                out.write(block)
                line_no += newlines
                continue
            parts = block.split(b"\n")
            for index, part in enumerate(parts):
                if not dropping:
                    out.write(part)
                if index < len(parts) - 1:
                    out.write(b"\n")
                    line_no += 1
                    dropping = line_no in drop
