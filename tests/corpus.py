"""Where the tests find their data: the packaged vocabulary and the development cases of ``../shared``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pinchpoint.core.vocabulary import Vocabulary
from pinchpoint.io.knowledge.loader import data_directory

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_CASES = SHARED / "cases"
SHARED_VOCABULARY = SHARED / "contract" / "vocabulary.yaml"
PACKAGED_VOCABULARY = REPO / "src" / "pinchpoint" / "knowledge" / "data" / "vocabulary.yaml"
PACKAGED_EXAMPLES = REPO / "src" / "pinchpoint" / "examples"
USER_EXAMPLES = REPO / "examples"


def load_vocabulary(path: Path) -> Vocabulary:
    """Build a vocabulary from a YAML file, as the knowledge loader does from its copy."""
    return Vocabulary.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), origin=path.name)


def shared_case_params() -> list[object]:
    """Return one parameter per development case file, with the case id as pytest id.

    Without ``../shared`` a single skipped parameter says why, so the suite still runs.
    """
    if not SHARED_CASES.is_dir():
        reason = f"the development cases are absent: {SHARED_CASES} does not exist"
        return [pytest.param(None, id="no-shared-cases", marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(path, id=path.stem) for path in sorted(SHARED_CASES.glob("*.yaml"))]


def copy_knowledge_with(tmp_path: Path, file_name: str, old: str, new: str) -> Path:
    """Copy the packaged data to tmp_path/data with ``old`` replaced by ``new`` (once) in one file."""
    folder = tmp_path / "data"
    shutil.copytree(data_directory(), folder)
    path = folder / file_name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{file_name} no longer holds {old!r} exactly once; update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder
