"""``POST /api/v1/text`` documents exactly the text it reads: its schema's pattern and read_text agree.

The audit of issue 14 found schema-valid text refused (a control character, only spaces): the
schema said "a string of 1 to 5000 characters" while the reader refused more. The pattern now in
the schema must accept a text exactly when the reader does.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint.api.text import TEXT_PATTERN
from pinchpoint.errors import InvalidTextError
from pinchpoint.io.freetext import _check_text

pytestmark = pytest.mark.core

_PATTERN = re.compile(TEXT_PATTERN)


def _read(text: str) -> bool:
    try:
        _check_text(text)
    except InvalidTextError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "read"),
    [("foot drop", True), ("a\tb\r\n", True), ("\u3000x", True), (" ", False), ("\x1f", False),
     ("\u00a0", False), ("a\x85", False), ("a\x00b", False), ("x\ufffd", False), ("\u2028", False)],
)  # fmt: skip
def test_the_pattern_says_what_is_read(text: str, read: bool) -> None:
    """Each listed text is read, or refused, by the pattern and the reader alike."""
    assert (bool(_PATTERN.fullmatch(text)), _read(text)) == (read, read)


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40))
@settings(max_examples=400, deadline=None)
def test_the_pattern_and_the_reader_agree_on_any_text(text: str) -> None:
    """For any short text, the schema's pattern matches exactly when the reader accepts it."""
    assert bool(_PATTERN.fullmatch(text)) == _read(text)
