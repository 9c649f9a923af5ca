"""The fast YAML path reads exactly what the strict loader reads, and refuses nothing on its own.

:func:`pinchpoint.io.readers.load_yaml` first builds the value straight from the parser's
events and hands anything beyond plain mappings, sequences and untagged scalars to
:class:`~pinchpoint.io.readers.StrictLoader`. These tests hold the two to the same answer:
for every document the fast path answers, the strict loader gives an equal value of the same
types; for every document the strict loader refuses, the fast path steps aside.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pinchpoint.errors import InvalidCaseError
from pinchpoint.io.readers import StrictLoader, _load_plain_yaml, _UnsureError, load_yaml

pytestmark = pytest.mark.core

_SCALAR_TEXTS = st.sampled_from(
    ["true", "False", "TRUE", "yes", "no", "on", "~", "null", "Null", "", "0", "-0", "+12", "012", "0x1F",
     "1_000", "1:30", "1.", ".5", "-.5e3", "1e5", "1E400", "9007199254740993", "9007199254740991", ".inf",
     ".nan", "2024-01-01", "<<", "a b", "low_back", "root.L5.left", "-", "+", "'quoted'", '"true"', "!!int 3",
     "&a 1", "*a", "!!str 5", "[1, 2]", "{a: 1}", "? x", "|\n  block", ">\n  folded", "x: y"]
)  # fmt: skip
_KEYS = st.sampled_from(["a", "b", "age", "true", "1", "1.0", "~", "<<", '"a"', "'b'", "[x]", "c d"])


def _strict(text: str) -> tuple[str, Any]:
    try:
        return "value", yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        return "refused", type(exc)


def _fast(text: str) -> tuple[str, Any]:
    try:
        return "value", _load_plain_yaml(text)
    except _UnsureError:
        return "unsure", None


def _typed(value: Any) -> Any:
    """The value with the type of every scalar beside it (``1 == True == 1.0`` in Python)."""
    if isinstance(value, dict):
        return {(type(key).__name__, key): _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _assert_agree(text: str) -> None:
    fast, strict = _fast(text), _strict(text)
    if fast[0] == "value":
        assert strict[0] == "value", text
        assert _typed(fast[1]) == _typed(strict[1]), text


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """YAML text: block mappings and lists, flow collections, and every awkward scalar above."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        key = draw(_KEYS)
        shape = draw(st.sampled_from(["scalar", "list", "flow", "nested"]))
        if shape == "scalar":
            lines.append(f"{key}: {draw(_SCALAR_TEXTS)}")
        elif shape == "list":
            items = draw(st.lists(_SCALAR_TEXTS.filter(lambda s: "\n" not in s), max_size=3))
            lines.append(f"{key}: [{', '.join(items)}]")
        elif shape == "flow":
            lines.append(
                f"{key}: {{{draw(_KEYS)}: {draw(_SCALAR_TEXTS.filter(lambda s: chr(10) not in s))}}}"
            )
        else:
            lines.append(f"{key}:")
            lines += [f"  {draw(_KEYS)}: {draw(_SCALAR_TEXTS.filter(lambda s: chr(10) not in s))}"
                      for _ in range(draw(st.integers(0, 3)))]  # fmt: skip
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(_documents())
def test_fast_path_agrees_with_the_strict_loader(text: str) -> None:
    _assert_agree(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1.-:[]{},'\"&*!#|>?~ \n\t")), max_size=40))
def test_fast_path_agrees_on_arbitrary_text(text: str) -> None:
    _assert_agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # a key written twice
        "1: x\ntrue: y\n",  # equal keys of two types (1 == True)
        "a: &x 1\nb: *x\n",  # an anchor and its alias
        "<<: {a: 1}\n",  # a merge key
        "a: 9007199254740993\n",  # beyond 2**53
        "a: 1e400\n",  # not finite
        "a: !!int 3\n",  # a tag
        "? [a]\n: 1\n",  # a key that is a list
        "a: 1\n---\nb: 2\n",  # two documents
        "",  # no document
        "[" * 70 + "]" * 70,  # deeper than the readers allow
        "a: [1, 2\n",  # malformed
    ],
)
def test_fast_path_steps_aside_for_what_only_the_strict_loader_answers(text: str) -> None:
    assert _fast(text) == ("unsure", None)


def test_a_refusal_keeps_the_strict_loaders_message_and_line() -> None:
    with pytest.raises(
        InvalidCaseError, match=r"key 'a' is written twice in one mapping \(first on line 1\)"
    ) as info:
        load_yaml(
            b"a: 1\na: 2\n", origin="x.yaml", error=InvalidCaseError, expected="a case", what="the case file"
        )
    assert info.value.location == "x.yaml: line 2, column 1"
