"""A per-user cache of the validated and compiled knowledge base.

Reading, validating and compiling the data files takes about a tenth of a second, which
every ``pinchpoint assess`` run would otherwise pay before its first case. The cache keeps
the result in the user's cache folder, keyed by the knowledge version (a hash of every
data file) and a hash of pinchpoint's own source, so a changed data file or a changed
program never meets a stale entry. It is only ever an optimisation: an entry that is
missing, unreadable or from another program is rebuilt from the data files, and a cache
folder that cannot be written is simply not used.

The folder is ``platformdirs``' user cache folder, or the one named by the environment
variable ``PINCHPOINT_CACHE``; ``PINCHPOINT_CACHE=off`` turns the cache off. Entries are
pickles: the folder is created readable by its owner only, and should stay so.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import platformdirs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pinchpoint.core.likelihood import LikelihoodModel
    from pinchpoint.core.vocabulary import Vocabulary
    from pinchpoint.knowledge.schema import Table

__all__ = ["CACHE_ENV", "Compiled", "cache_path", "read", "write"]

CACHE_ENV = "PINCHPOINT_CACHE"
"""Environment variable naming the cache folder, or ``off``."""

_PACKAGE = Path(__file__).resolve().parents[2]


class Compiled(NamedTuple):
    """What the cache keeps: the checked vocabulary and tables, and the compiled model."""

    vocabulary: Vocabulary
    tables: Mapping[str, Table]
    model: LikelihoodModel


def cache_path(version: str) -> Path | None:
    """Return the cache file for a knowledge version under this program, or None when off."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting.lower() == "off":
        return None
    folder = Path(setting) if setting else platformdirs.user_cache_path("pinchpoint", appauthor=False)
    return folder / f"knowledge-{_key(version)}.pickle"


def read(path: Path) -> Compiled | None:
    """Return the cached knowledge at ``path``, or None when there is none that can be used."""
    collecting = gc.isenabled()
    gc.disable()  # unpickling makes thousands of objects; collecting among them triples the time
    try:
        with path.open("rb") as file:
            compiled = pickle.load(file)  # the user's own cache folder (see above)
    except Exception:  # missing, damaged or foreign: the entry is rebuilt from the data files
        return None
    finally:
        if collecting:
            gc.enable()
    return compiled if isinstance(compiled, Compiled) else None


def write(path: Path, compiled: Compiled) -> None:
    """Store ``compiled`` at ``path`` atomically, in place of any older entry.

    Only the newest entry is kept, so that the folder does not grow with every upgrade; a
    folder that cannot be written is left alone.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".knowledge-", delete=False) as file:
            pickle.dump(compiled, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(file.name, path)
        for older in path.parent.glob("knowledge-*.pickle"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError:
        return


def _key(version: str) -> str:
    """Hash the knowledge version, the Python version and every source file of the package."""
    digest = hashlib.sha256(f"{version}\0{sys.version}".encode())
    for source in sorted(_PACKAGE.rglob("*.py")):
        digest.update(str(source.relative_to(_PACKAGE)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]
