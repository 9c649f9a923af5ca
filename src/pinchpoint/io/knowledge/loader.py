"""Read, validate and assemble the knowledge base from its data files.

This is the only module that reads knowledge files, through the strict YAML reader of
:mod:`pinchpoint.io.readers` (a duplicate key, an alias or a merge key is refused with its
line). Loading is all or nothing: a file that does not match its schema, a row that names
something that does not exist, or a source id missing from ``sources.yaml`` raises a
:class:`~pinchpoint.errors.KnowledgeError` and no knowledge is returned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic

from pinchpoint.core.knowledge import Knowledge, build_knowledge
from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.errors import SchemaError
from pinchpoint.io.knowledge import cache
from pinchpoint.io.knowledge.references import check_references
from pinchpoint.io.readers import load_yaml
from pinchpoint.knowledge.schema import TABLES, Table, allowed_keys_at

__all__ = [
    "KNOWLEDGE_SEMVER",
    "data_directory",
    "knowledge_version",
    "load_knowledge",
]

KNOWLEDGE_SEMVER = "0.3.1"
"""Semantic version of the knowledge base; bump it with every clinical change to data/."""

_VOCABULARY_FILE = "vocabulary.yaml"


def data_directory() -> Path:
    """Return the folder of the packaged knowledge data files."""
    return Path(str(resources.files("pinchpoint.knowledge") / "data"))


@lru_cache(maxsize=4)
def load_knowledge(directory: Path | None = None) -> Knowledge:
    """Load, validate and compile the knowledge base (cached per directory and per user).

    A run reuses what an earlier run of the same program compiled from the same data
    files (see :mod:`pinchpoint.io.knowledge.cache`).

    Args:
        directory: A folder of knowledge files; the packaged data when omitted.

    Raises:
        SchemaError: A file is not valid YAML or does not match its table's schema.
        UnresolvedReferenceError: A row names a root, nerve, region, site, finding or
            definition that does not exist.
        MissingSourceError: A row cites a source id that sources.yaml does not define.
    """
    folder = directory or data_directory()
    version = knowledge_version(folder)
    path = cache.cache_path(version)
    cached = cache.read(path) if path is not None else None
    if cached is not None:
        return build_knowledge(cached.tables, cached.vocabulary, version, model=cached.model)
    vocabulary = Vocabulary.from_mapping(_read_yaml(folder / _VOCABULARY_FILE), origin=_VOCABULARY_FILE)
    tables = {name: _load_table(folder, name, model) for name, model in TABLES.items()}
    check_references(tables, vocabulary)
    knowledge = build_knowledge(tables, vocabulary, version)
    if path is not None:
        knowledge.model.stacked  # noqa: B018 (computed once, before it is cached)
        cache.write(path, cache.Compiled(vocabulary, tables, knowledge.model))
    return knowledge


def knowledge_version(directory: Path | None = None) -> str:
    """Return ``<semver>+<hash>``: the semantic version and a hash of every data file's bytes."""
    folder = directory or data_directory()
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"{KNOWLEDGE_SEMVER}+{digest.hexdigest()[:12]}"


def _load_table(folder: Path, name: str, model: type[Table]) -> Table:
    file_name = f"{name}.yaml"
    raw = _read_yaml(folder / file_name)
    with _schema_errors(file_name, model):
        table = model.model_validate(raw)
    if table.table != name:
        raise SchemaError(
            "the file declares the wrong table",
            location=f"{file_name}: table",
            expected=repr(name),
            got=table.table,
        )
    return table


def _read_yaml(path: Path) -> Mapping[str, Any]:
    """Read one knowledge file with the strict reader that case files use too.

    A key written twice (a second ``level:`` under a rule), an alias or a merge key is refused
    with the file, the line and the key: PyYAML alone would keep the last value silently.
    """
    with _schema_errors(path.name, None):
        raw = path.read_bytes()
    data = load_yaml(
        raw,
        origin=path.name,
        error=SchemaError,
        expected="a knowledge table in YAML",
        what="the knowledge file",
    )
    if not isinstance(data, Mapping):
        raise SchemaError(
            "the file is not a YAML mapping",
            location=path.name,
            expected="a mapping",
            got=type(data).__name__,
        )
    return data


@contextmanager
def _schema_errors(file_name: str, model: type[Table] | None) -> Iterator[None]:
    """Translate the foreign errors of reading and validating one file into SchemaError."""
    try:
        yield
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        row = ".".join(str(part) for part in first["loc"])
        expected = first["msg"]
        if first["type"] == "extra_forbidden" and model is not None:
            allowed = allowed_keys_at(model, tuple(first["loc"][:-1]))
            expected = (
                "only the keys " + ", ".join(allowed) if allowed else "only the keys of " + model.__name__
            )
        raise SchemaError(
            f"{exc.error_count()} schema error(s); first",
            location=f"{file_name}: {row}",
            expected=expected,
            got=first.get("input"),
        ) from exc
    except OSError as exc:
        raise SchemaError(
            "the file cannot be read", location=file_name, expected="a readable UTF-8 file", got=str(exc)
        ) from exc
