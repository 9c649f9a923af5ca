"""Write or compare the contract JSON of every case folder, to show that a refactor changed no answer.

Usage::

    python tools/contract_snapshot.py write DIR      # before the change
    python tools/contract_snapshot.py compare DIR    # after it: lists every file that differs

Each case folder (the development cases and the published validation cases beside the repo, and
``validation/published``) is assessed by ``pinchpoint assess FOLDER --json`` and by
``--json --detail`` in a fresh process with the knowledge cache off, exactly as a user would
run it; the output is kept byte for byte. ``--ignore-version`` compares with the knowledge
version blanked, for a change that only edits knowledge text elsewhere.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_FOLDERS = (
    _ROOT.parent / "shared" / "cases",
    _ROOT.parent / "shared" / "validation",
    _ROOT / "validation" / "published",
)
_VERSION = re.compile(rb'"knowledge_version": ?"[^"]*"')


def _outputs() -> dict[str, bytes]:
    env = {**os.environ, "PINCHPOINT_CACHE": "off", "PYTHONPATH": str(_ROOT / "src")}
    found = {}
    for folder in _FOLDERS:
        if not folder.is_dir():
            continue
        for flags in (["--json"], ["--json", "--detail"]):
            command = [sys.executable, "-m", "pinchpoint", "assess", str(folder), *flags]
            name = f"{folder.parent.name}-{folder.name}{'-detail' if '--detail' in flags else ''}.jsonl"
            found[name] = subprocess.run(command, env=env, capture_output=True, check=True).stdout
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("write", "compare"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--ignore-version", action="store_true", help="blank the knowledge version first")
    args = parser.parse_args()
    outputs = _outputs()
    if args.action == "write":
        args.directory.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            (args.directory / name).write_bytes(data)
        print(f"wrote {len(outputs)} files to {args.directory}")
        return 0
    differing = []
    for name, data in outputs.items():
        before, after = (args.directory / name).read_bytes(), data
        if args.ignore_version:
            before, after = _VERSION.sub(b"", before), _VERSION.sub(b"", after)
        if before != after:
            differing.append(name)
    lines = sum(data.count(b"\n") for data in outputs.values())
    print(
        f"{len(outputs)} files, {lines} assessments: "
        + (f"differ: {differing}" if differing else "identical")
    )
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
