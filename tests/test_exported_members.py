"""The public API is what the documentation says it is (after httpx's ``tests/test_exported_members.py``).

``pinchpoint.__all__`` must equal the names listed under "Public API" in ``docs/architecture.md``,
every listed name must exist, the README's Python example may import only names that exist (from
``pinchpoint`` only public ones), and every module's ``__all__`` may list only names it defines.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import pytest

import pinchpoint
from tests.corpus import REPO

pytestmark = pytest.mark.core

_DOCS = REPO / "docs" / "architecture.md"
_README = REPO / "README.md"
_NOT_IMPORTABLE = ("pinchpoint.service.migrations", "pinchpoint.__main__")
"""Alembic's environment and revisions run only inside Alembic, and ``__main__`` runs the command."""


def _documented_names() -> list[str]:
    """Return the names of the bullets of the "Public API" section, in the order written."""
    text = _DOCS.read_text(encoding="utf-8")
    section = text[text.index("\n## Public API\n") :]
    following = section.find("\n## ", 1)
    section = section if following == -1 else section[:following]
    names = []
    for line in section.splitlines():
        if line.startswith("- "):
            listed = line[2:].split(": ", 1)[0]
            names += re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", listed)
    return names


def _modules() -> list[str]:
    walked = pkgutil.walk_packages(pinchpoint.__path__, prefix="pinchpoint.")
    return sorted(
        ["pinchpoint", *(info.name for info in walked if not info.name.startswith(_NOT_IMPORTABLE))]
    )


def test_the_package_exports_exactly_what_the_docs_list() -> None:
    documented = _documented_names()
    assert len(documented) > 20, "the Public API section was not found or not read"
    assert len(documented) == len(set(documented)), "a name is listed twice in the docs"
    assert sorted(pinchpoint.__all__) == sorted(documented)


@pytest.mark.parametrize("name", pinchpoint.__all__)
def test_every_exported_name_exists(name: str) -> None:
    assert hasattr(pinchpoint, name)


def test_the_readme_imports_only_what_exists() -> None:
    """Every ``from pinchpoint... import ...`` of the README resolves; from the package, only public names."""
    text = _README.read_text(encoding="utf-8")
    imports = re.findall(r"^from (pinchpoint[\w.]*) import ([\w, ]+)$", text, flags=re.MULTILINE)
    assert imports, "the README shows no Python import"
    for module_name, listed in imports:
        module = importlib.import_module(module_name)
        for name in (part.strip() for part in listed.split(",")):
            assert hasattr(module, name), f"{module_name}.{name}"
            public = getattr(module, "__all__", None)
            assert public is None or name in public, f"{module_name}.{name} is not in its __all__"


def test_every_all_lists_only_defined_names() -> None:
    """Each module that declares ``__all__`` (the package, subpackages, modules) defines every name in it."""
    checked, wrong = 0, {}
    for module_name in _modules():
        module: ModuleType = importlib.import_module(module_name)
        public = getattr(module, "__all__", None)
        if public is None:
            continue
        checked += 1
        missing = [name for name in public if not hasattr(module, name)]
        if missing or len(public) != len(set(public)):
            wrong[module_name] = missing or "a name listed twice"
    assert checked > 40, "the walk over the package found too few modules"
    assert wrong == {}
