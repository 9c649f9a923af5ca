"""Every error pinchpoint raises on purpose, in one tree.

::

    PinchpointError
    ├── KnowledgeError                 the knowledge base is broken (a developer's problem)
    │   ├── SchemaError                a data file does not match its schema
    │   ├── UnresolvedReferenceError   a row names a muscle, root, site ... that does not exist
    │   └── MissingSourceError         a row cites a source that is not in sources.yaml
    ├── InputError                     a user's input cannot be used (the user's problem)
    │   ├── InvalidCaseError           a case file or mapping is malformed
    │   ├── UnknownFindingError        a finding id is not in the vocabulary (also a KeyError)
    │   ├── ContradictoryFindingsError two findings cannot both be true
    │   ├── InvalidAnswerError         an interview answer does not fit its question
    │   ├── InvalidSessionError        a saved interview session is corrupt or does not fit
    │   ├── InterviewConflictError     a request does not fit the session's state (HTTP 409)
    │   ├── NotFoundError              a requested record (an interview session) does not exist (HTTP 404)
    │   ├── InvalidTextError           free text to read is empty, too long or not text
    │   └── InvalidRequestError        a request to the API or a CDS service is malformed
    │       ├── PrefetchMissingError   a CDS Hooks request lacks data the service needs (HTTP 412)
    │       ├── PayloadTooLargeError   a request body is larger than the server reads (HTTP 413)
    │       └── UnsupportedMediaTypeError  a request body is not of a type the route reads (HTTP 415)
    └── AdapterError                   an adapter could not translate to or from the outside
        ├── FhirMappingError
        └── StoreError

Every message has one shape: *what* was wrong, *where*, *what was expected*, *what
arrived*, and how to fix it. The parts are also kept as attributes (``location``,
``expected``, ``got``) so that a web layer can build a structured response without
parsing the message.
"""

from __future__ import annotations

import itertools
import reprlib

__all__ = [
    "AdapterError",
    "ContradictoryFindingsError",
    "FhirMappingError",
    "InputError",
    "InterviewConflictError",
    "InvalidAnswerError",
    "InvalidCaseError",
    "InvalidRequestError",
    "InvalidSessionError",
    "InvalidTextError",
    "KnowledgeError",
    "MissingSourceError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PinchpointError",
    "PrefetchMissingError",
    "SchemaError",
    "StoreError",
    "UnknownFindingError",
    "UnresolvedReferenceError",
    "UnsupportedMediaTypeError",
]


class PinchpointError(Exception):
    """Base class of every error pinchpoint raises on purpose.

    Args:
        problem: What was wrong, in one phrase.
        location: Where: a file and key, a knowledge table and row, or a JSON path.
        expected: What would have been accepted.
        got: What arrived instead, if it helps to show it.
        hint: How to fix it, if that is not obvious from ``expected``.
    """

    def __init__(
        self,
        problem: str,
        *,
        location: str = "",
        expected: str = "",
        got: object = None,
        hint: str = "",
    ) -> None:
        self.problem = problem
        self.location = location
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = f"{self.location}: {self.problem}" if self.location else self.problem
        if self.expected:
            text += f"; expected {self.expected}"
        if self.got is not None:
            text += f" (got {_show(self.got)})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __str__(self) -> str:
        return self._compose()

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by the parts, so an error raised in a worker process reaches the parent whole."""
        parts = {"location": self.location, "expected": self.expected, "got": self.got, "hint": self.hint}
        return (_rebuilt, (type(self), self.problem, parts))


def _rebuilt(kind: type[PinchpointError], problem: str, parts: dict[str, object]) -> PinchpointError:
    return kind(problem, **parts)  # type: ignore[arg-type]


class _Shown(reprlib.Repr):
    """A ``repr`` that stops early: a deeply shared structure or a huge body is never expanded.

    Mappings keep their order (the base class sorts them), so a message shows keys as written.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 12
        self.maxstring = self.maxother = 200

    def repr_dict(self, x: dict[object, object], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
            for key, value in itertools.islice(x.items(), self.maxdict)
        ]
        return "{" + ", ".join(pieces) + (", ..." if len(x) > self.maxdict else "") + "}"


_SHOWN = _Shown()


def _show(value: object) -> str:
    text = _SHOWN.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class KnowledgeError(PinchpointError):
    """The knowledge base is inconsistent; it is never loaded in part."""


class SchemaError(KnowledgeError):
    """A knowledge data file does not match the schema of its table."""


class UnresolvedReferenceError(KnowledgeError):
    """A knowledge row refers to something (a root, muscle, site, finding) that does not exist."""


class MissingSourceError(KnowledgeError):
    """A knowledge row cites a source id that sources.yaml does not define."""


class InputError(PinchpointError):
    """A user's input (a case, an answer, a file) cannot be used as it is."""


class InvalidCaseError(InputError, ValueError):
    """A case is malformed: wrong type, out of range, unknown region, bad structure."""


class UnknownFindingError(InputError, KeyError):
    """A finding id is not in the vocabulary."""

    def __str__(self) -> str:
        # KeyError would quote the message; keep the plain sentence.
        return self._compose()


class ContradictoryFindingsError(InputError, ValueError):
    """Two findings of one case cannot both hold (a pregnant male, say)."""


class InvalidAnswerError(InputError, ValueError):
    """An interview answer has the wrong type or range, or answers a question that was not asked."""


class InvalidSessionError(InputError, ValueError):
    """A saved interview session is corrupt or does not fit the question bank; it is not loaded."""


class InvalidRequestError(InputError, ValueError):
    """A request to the REST API or a CDS Hooks service is malformed (a missing or wrong field)."""


class PrefetchMissingError(InvalidRequestError):
    """A CDS Hooks request lacks prefetched data that the service needs and cannot fetch itself."""


class InterviewConflictError(InputError):
    """A well-formed request that does not fit the interview's state now.

    For example an answer to a question that is not the one asked, or the result of an
    unfinished interview.
    """


class NotFoundError(InputError, LookupError):
    """A record that a request names (an interview session) does not exist."""


class InvalidTextError(InputError, ValueError):
    """Free text given to be read (``pinchpoint read-text``, ``POST /api/v1/text``) cannot be read."""


class AdapterError(PinchpointError):
    """An adapter could not translate between pinchpoint and the outside world."""


class FhirMappingError(AdapterError, ValueError):
    """A FHIR resource could not be mapped to or from pinchpoint's findings."""


class StoreError(AdapterError):
    """The database could not store or return a record."""


class PayloadTooLargeError(InvalidRequestError):
    """A request body is larger than the server reads; it is refused before it is read whole."""


class UnsupportedMediaTypeError(InvalidRequestError):
    """A request body is not of a media type the route reads (JSON routes read only JSON)."""
