"""One bounded pool of threads for the CPU work of requests: assessments and free text.

The event loop parses requests, answers ``/healthz`` and refuses what is over its limits
(:mod:`pinchpoint.web.limits`); it must never be the thread that spends milliseconds assessing a
case or reading a description, or every other client waits behind that work. :func:`run_cpu` runs
such work in a worker thread instead, at most :data:`CPU_THREADS` at a time per event loop: more
threads would not add speed (the interpreter runs one thread of Python at a time) but would
share the processor in slices and make every request slow instead of some waiting. The work
waiting for a thread is bounded by the concurrency limits of :mod:`pinchpoint.web.limits`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["CPU_THREADS", "run_cpu"]

CPU_THREADS = 2
"""Worker threads doing CPU work at once: one computes while the other hands its answer back."""

_T = TypeVar("_T")
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """Return the running event loop's limiter (tests start many loops; each gets its own)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(CPU_THREADS)
    return limiter


async def run_cpu(work: Callable[..., _T], *args: object) -> _T:
    """Run ``work(*args)`` in the CPU pool and return its result (or raise its error)."""
    return await anyio.to_thread.run_sync(work, *args, limiter=_limiter())
