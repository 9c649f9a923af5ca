"""Tell a FHIR JSON file from a YAML case file by its first bytes.

Kept apart from the FHIR readers so that the CLI can route a file without importing the
FHIR models, which take a third of a second to import and only FHIR input needs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["is_fhir_file", "looks_like_fhir"]


def looks_like_fhir(data: bytes) -> bool:
    """Say whether file content is JSON (a FHIR resource) rather than a YAML case.

    A YAML case is a mapping of keys and never starts with ``{``; FHIR JSON always does.
    """
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def is_fhir_file(path: Path) -> bool:
    """Say whether ``path`` is a readable regular file holding JSON (FHIR) rather than a YAML case.

    A named pipe or a device is never opened here (opening a pipe waits for a writer): the
    case-file reader refuses it.
    """
    try:
        if not path.is_file():
            return False
        with path.open("rb") as file:
            return looks_like_fhir(file.read(64))
    except OSError:
        return False  # the case-file reader reports what is wrong with the path
