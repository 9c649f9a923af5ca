"""``pinchpoint assess DIR --json``: every case of a folder as contract JSON Lines, on every core.

A folder of fewer than :data:`PARALLEL_FROM` files is read and assessed in this process. A
larger one is split into runs of consecutive files; worker processes forked after the
knowledge is loaded (so they share it, read-only, and never load it again) each read, assess
and encode a run, and this process writes the runs in file-name order. As in one process,
nothing is written until every file has been read: a file that is not a valid case stops
the command with its error and no output.

Every BLAS pool is one thread while the command runs (the workers inherit it), and a worker
collects no garbage cycles (:func:`gc.disable`): reading and assessing a case leaves
none, and a worker lives only as long as the command.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from threadpoolctl import threadpool_limits

from pinchpoint.core.engine import assess_many
from pinchpoint.io.casefile import case_names, read_case, read_cases
from pinchpoint.service.contract import to_contract

if TYPE_CHECKING:
    from pinchpoint.core.case import Case
    from pinchpoint.core.knowledge import Knowledge

__all__ = ["PARALLEL_FROM", "available_cores", "json_lines", "write_json_lines"]

PARALLEL_FROM = 1000
"""The fewest case files worth starting worker processes for (forking costs tens of milliseconds)."""
_RUN = 100
"""How many consecutive files one worker task reads and assesses: small enough that the workers
finish together (the last task of one is all the other waits for), large enough that handing
out tasks costs little."""
_CHUNK = 256
"""How many cases are assessed together: their array work is shared."""

_shared: Knowledge | None = None
"""The knowledge the workers inherit when they are forked (set only while a pool runs)."""


def available_cores() -> int:
    """The number of cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def write_json_lines(path: Path, knowledge: Knowledge, *, detail: bool, jobs: int) -> None:
    """Assess a case file or a folder of case files and write one contract JSON object per line.

    Args:
        path: A case file or a folder of ``*.yaml`` / ``*.yml`` case files.
        knowledge: The loaded knowledge.
        detail: Add the reasons and the plan's wording (``--detail``).
        jobs: How many processes may assess at once; 1 keeps all the work in this process.
    """
    # The matrices of one chunk are small: a BLAS pool of several threads only spins, burning
    # as much CPU again as the work (measured: 5.0 s against 3.1 s for 5,000 cases in one
    # process), and a worker of its own per core already fills every core.
    with threadpool_limits(limits=1):
        names = case_names(path) if path.is_dir() else []
        if jobs > 1 and len(names) >= PARALLEL_FROM:
            chunks: Iterable[bytes] = _in_workers(path, names, knowledge, detail=detail, jobs=jobs)
        else:
            chunks = json_lines(read_cases(path, knowledge.vocabulary), knowledge, detail=detail)
        sys.stdout.flush()
        out = getattr(sys.stdout, "buffer", None)
        for chunk in chunks:
            if out is None:  # a text-only stream (a test's StringIO)
                sys.stdout.write(chunk.decode())
            else:
                out.write(chunk)


def json_lines(cases: Sequence[Case], knowledge: Knowledge, *, detail: bool) -> Iterator[bytes]:
    """Yield the contract JSON of the cases, one line each, a chunk of lines at a time.

    orjson writes the same JSON as the standard library, several times faster: at batch scale,
    encoding costs about as much as the reasoning it reports.
    """
    for start in range(0, len(cases), _CHUNK):
        yield b"".join(
            orjson.dumps(to_contract(assessment, detail=detail), option=orjson.OPT_APPEND_NEWLINE)
            for assessment in assess_many(cases[start : start + _CHUNK], knowledge, explain_findings=detail)
        )


def _in_workers(
    folder: Path, names: list[str], knowledge: Knowledge, *, detail: bool, jobs: int
) -> list[bytes]:
    """Read, assess and encode the files in runs on ``jobs`` forked workers; the runs in order.

    A run is handed over as file names in ``folder``: each worker makes its own paths.
    """
    global _shared  # noqa: PLW0603 (handed to the forked workers, which inherit the parent's memory)
    runs = [names[start : start + _RUN] for start in range(0, len(names), _RUN)]
    _shared = knowledge
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(runs)), mp_context=context, initializer=gc.disable
        ) as pool:
            return list(pool.map(partial(_assess_run, folder=folder, detail=detail), runs))
    finally:
        _shared = None


def _assess_run(names: list[str], *, folder: Path, detail: bool) -> bytes:
    """In a worker: read, assess and encode one run of files of ``folder``."""
    knowledge = _shared
    if knowledge is None:  # pragma: no cover (only reached in a worker started some other way)
        raise RuntimeError("a batch worker was started without the parent's knowledge")
    cases = [read_case(folder / name, knowledge.vocabulary) for name in names]
    return b"".join(json_lines(cases, knowledge, detail=detail))
