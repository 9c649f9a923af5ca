"""Importing pinchpoint does no I/O on the knowledge, and only the program's start-up freezes memory.

The knowledge loads on first use (``load_knowledge()``, ``pinchpoint.__knowledge_version__``),
so that a tool importing one module (the case reader, the contract) pays nothing for the
rest; and ``gc.freeze()`` is a decision about the whole process, which only the command line
and the server's start-up can make.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pinchpoint

_PACKAGE = Path(pinchpoint.__file__).resolve().parent

_IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
import pinchpoint
skipped = ("pinchpoint.__main__", "pinchpoint.service.migrations.env")  # run, not imported
names = [m.name for m in pkgutil.walk_packages(pinchpoint.__path__, "pinchpoint.")
         if m.name not in skipped and ".migrations.versions." not in m.name]
for name in names:
    importlib.import_module(name)
print(json.dumps({"package": pinchpoint.__file__, "modules": names, "opened": opened}))
"""


def test_importing_every_module_reads_no_knowledge_file() -> None:
    """No data file, and no cached compiled knowledge, is opened by importing any module."""
    environment = {**os.environ, "PYTHONPATH": str(_PACKAGE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERY_MODULE],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env=environment,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert Path(result["package"]).resolve() == _PACKAGE / "__init__.py"
    assert "pinchpoint.core.triage" in result["modules"]
    assert "pinchpoint.cli.main" in result["modules"]
    data = str(_PACKAGE / "knowledge" / "data")
    read = [path for path in result["opened"] if path.startswith(data) or path.endswith((".yaml", ".pickle"))]
    assert read == []


def test_knowledge_version_is_resolved_on_first_use() -> None:
    """``__knowledge_version__`` is still a plain attribute to its users, computed when first read."""
    assert re.fullmatch(r"\d+\.\d+\.\d+\+[0-9a-f]{12}", pinchpoint.__knowledge_version__)
    assert "__knowledge_version__" in pinchpoint.__all__


def test_only_the_program_start_up_freezes_memory() -> None:
    """``gc.freeze()`` appears in the command line and the server start-up, and nowhere else."""
    freezing = sorted(
        str(path.relative_to(_PACKAGE))
        for path in _PACKAGE.rglob("*.py")
        if "gc.freeze(" in path.read_text(encoding="utf-8")
    )
    assert freezing == ["cli/main.py", "web/server.py"]
