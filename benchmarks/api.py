"""Benchmark: the REST API under load and overload, from a second process, on loopback.

Usage::

    python benchmarks/api.py [--rate R] [--seconds S] [--overload-seconds S] [--half-open N]
                             [--closed-loop] [--src DIR] [--cases DIR]

The server is started as ``pinchpoint serve`` would start it: ``python -m pinchpoint serve`` on
127.0.0.1 and a free port, in its own process, over a SQLite file in a temporary folder
(``--src`` runs another checkout's code, to measure before and after a change). This process is
the load generator: plain HTTP/1.1 over asyncio sockets (light, so that it leaves the CPU to the
server), with the development cases' findings as the bodies of ``POST /api/v1/assess``.

It measures, in order:

1. **Sustained load, open loop**: ``--rate`` requests per second (default 200) for ``--seconds``
   (default 20), each scheduled at a fixed time (``start + i / rate``) whatever the server does,
   its latency counted from that scheduled time (so a server that falls behind shows its queue,
   which a closed-loop client hides); p50, p99, the largest, and the count of each status.
2. **Capacity**: a closed loop (4 connections, each sending its next request when the last one is
   answered) for 5 s; the 200 answers per second it gets.
3. **Overload**: twice that capacity offered open loop for ``--overload-seconds`` (default 10):
   the share answered 503, their latency (they must come promptly), the 200s' latency and rate,
   and ``GET /healthz`` sampled every 100 ms on a new connection during it (must stay < 100 ms).
4. **Half-sent requests** (``--half-open``, default 1,100): that many connections each send half a
   request header and then nothing; while they are held, ``/healthz`` and ``POST /api/v1/assess``
   are timed, then the benchmark waits and counts how many of them the server has closed, and
   how many bytes the server wrote to its log meanwhile.
5. With ``--closed-loop``, the older closed-loop figures as well: ``POST /api/v1/fhir/assess``
   and whole REST interviews (each answer step timed).

Figures are printed as lines and, last, as one JSON object. A benchmark, not a test: it asserts
nothing; the load is bounded in count and time and the server is stopped at the end. Only
loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
HOST = "127.0.0.1"
STARTUP_SECONDS = 60.0
REQUEST_TIMEOUT = 10.0
IDLE_REUSE_SECONDS = 2.0  # below the server's keep-alive timeout: an idle connection is reused only then
HEALTH_EVERY = 0.1
ASSESS = "/api/v1/assess"


# --- a minimal HTTP/1.1 client --------------------------------------------------------------------


def encode_request(
    method: str, path: str, port: int, body: bytes = b"", media: str = "application/json"
) -> bytes:
    """Return the bytes of one HTTP/1.1 request (keep-alive), ready to write."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if body or method == "POST":
        head += f"Content-Type: {media}\r\nContent-Length: {len(body)}\r\n"
    return head.encode("ascii") + b"\r\n" + body


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, float]


class Pool:
    """Keep-alive connections to the server; a new one is opened when none is idle."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.opened = 0

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` and return the status and the body of the answer."""
        now = time.monotonic()
        while self.idle:
            reader, writer, last = self.idle.pop()
            if now - last < IDLE_REUSE_SECONDS and not reader.at_eof():
                break
            writer.close()
        else:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            self.opened += 1
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            start = lower.find(b"content-length:")
            length = int(lower[start + 15 : lower.find(b"\r\n", start)]) if start >= 0 else 0
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if b"connection: close" in lower:
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, body

    def close(self) -> None:
        """Close the idle connections."""
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


@dataclass
class Outcome:
    """The answers of one phase: latency in seconds by status ('timeout', 'error' for no answer)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)

    def add(self, status: str, latency: float) -> None:
        """Record one answer."""
        self.latencies.setdefault(status, []).append(latency)

    def count(self, status: str) -> int:
        """Return how many answers had ``status``."""
        return len(self.latencies.get(status, []))

    @property
    def total(self) -> int:
        """Return how many requests were sent."""
        return sum(len(values) for values in self.latencies.values())

    def counts(self) -> dict[str, int]:
        """Return the count of each status."""
        return {status: len(values) for status, values in sorted(self.latencies.items())}

    def all_latencies(self) -> list[float]:
        """Return every latency, whatever the status."""
        return [value for values in self.latencies.values() for value in values]


def quantiles_ms(values: list[float]) -> dict[str, float]:
    """Return p50, p99 and the largest of latencies (seconds), in milliseconds."""
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


async def timed(pool: Pool, request: bytes, scheduled: float, outcome: Outcome) -> None:
    """Send one request; record its status and its latency counted from ``scheduled``."""
    try:
        status, _ = await asyncio.wait_for(pool.exchange(request), REQUEST_TIMEOUT)
        key = str(status)
    except TimeoutError:
        key = "timeout"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        key = "error"
    outcome.add(key, time.monotonic() - scheduled)


async def open_loop(pool: Pool, requests: list[bytes], rate: float, seconds: float) -> Outcome:
    """Offer ``rate`` requests per second for ``seconds``, each at its scheduled time (open loop)."""
    outcome = Outcome()
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic() + 0.05
    for index in range(int(rate * seconds)):
        scheduled = start + index / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(pool, requests[index % len(requests)], scheduled, outcome)))
    await asyncio.gather(*tasks)
    return outcome


async def closed_loop(
    pool: Pool, requests: list[bytes], connections: int, seconds: float
) -> tuple[Outcome, float]:
    """Keep ``connections`` requests in flight for ``seconds``; return the answers and the wall time."""
    outcome = Outcome()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        while time.monotonic() < deadline:
            await timed(pool, requests[next(counter) % len(requests)], time.monotonic(), outcome)

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return outcome, time.monotonic() - began


async def sample_health(port: int, stop: asyncio.Event) -> list[float]:
    """Time ``GET /healthz`` on a new connection every 100 ms until ``stop``; failures count 10 s."""
    latencies: list[float] = []
    request = encode_request("GET", "/healthz", port)
    while not stop.is_set():
        pool = Pool(port)
        began = time.monotonic()
        try:
            status, _ = await asyncio.wait_for(pool.exchange(request), REQUEST_TIMEOUT)
            latencies.append(time.monotonic() - began if status == 200 else REQUEST_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            latencies.append(REQUEST_TIMEOUT)
        pool.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEALTH_EVERY)
    return latencies


async def with_health(port: int, work: Callable[[], Awaitable[Outcome]]) -> tuple[Outcome, list[float]]:
    """Run ``work`` while sampling ``/healthz``; return both."""
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_health(port, stop))
    try:
        outcome = await work()
    finally:
        stop.set()
    return outcome, await sampler


# --- the phases -----------------------------------------------------------------------------------


def describe(outcome: Outcome, seconds: float) -> dict[str, Any]:
    ok = outcome.latencies.get("200", [])
    refused = outcome.latencies.get("503", [])
    return {
        "offered": outcome.total,
        "statuses": outcome.counts(),
        "ok_per_s": round(len(ok) / seconds, 1),
        "all": quantiles_ms(outcome.all_latencies()),
        "ok": quantiles_ms(ok),
        "refused_503": quantiles_ms(refused),
        "share_503": round(len(refused) / outcome.total, 3) if outcome.total else 0.0,
        "errors": outcome.total - len(ok) - len(refused),
    }


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) the process has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """Return the one-minute load average of this machine (how busy the shared cores were)."""
    return round(os.getloadavg()[0], 2)


async def load_phases(port: int, bodies: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    requests = [encode_request("POST", ASSESS, port, body) for body in bodies]
    pool = Pool(port)
    figures: dict[str, Any] = {}
    await open_loop(pool, requests, min(args.rate, 100.0), 3.0)  # warm-up

    cpu = cpu_seconds(args.pid)
    outcome, health = await with_health(port, lambda: open_loop(pool, requests, args.rate, args.seconds))
    figures["sustained"] = {"rate": args.rate, "seconds": args.seconds, **describe(outcome, args.seconds)}
    figures["sustained"]["healthz"] = quantiles_ms(health)
    used = cpu_seconds(args.pid) - cpu
    figures["sustained"]["server_cpu_ms_per_request"] = round(1000 * used / outcome.total, 2)
    figures["sustained"]["load_average"] = load_average()
    line("sustained", figures["sustained"])
    await asyncio.sleep(2.0)  # let a queue, if any, drain

    cpu = cpu_seconds(args.pid)
    outcome, wall = await closed_loop(pool, requests, 4, 5.0)
    cpu_per_request = round(1000 * (cpu_seconds(args.pid) - cpu) / outcome.total, 2)
    capacity = outcome.count("200") / wall
    figures["capacity"] = {"ok_per_s": round(capacity, 1), "connections": 4, **describe(outcome, wall)}
    figures["capacity"] |= {"server_cpu_ms_per_request": cpu_per_request, "load_average": load_average()}
    line("capacity", figures["capacity"])
    await asyncio.sleep(2.0)

    rate = 2 * max(capacity, 1.0)
    outcome, health = await with_health(port, lambda: open_loop(pool, requests, rate, args.overload_seconds))
    figures["overload"] = {"rate": round(rate, 1), "seconds": args.overload_seconds}
    figures["overload"] |= describe(outcome, args.overload_seconds)
    figures["overload"]["healthz"] = quantiles_ms(health)
    figures["overload"]["healthz_samples"] = len(health)
    figures["overload"]["load_average"] = load_average()
    line("overload", figures["overload"])
    pool.close()
    await asyncio.sleep(2.0)
    return figures


async def half_open_phase(port: int, count: int, body: bytes, log: Path) -> dict[str, Any]:
    """Hold ``count`` half-sent requests; time other clients meanwhile; count the ones closed."""
    partial = f"POST {ASSESS} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: appl".encode("ascii")
    log_before = log.stat().st_size
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    refused = 0
    for _ in range(count):
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(partial)
            held.append((reader, writer))
        except OSError:
            refused += 1
    await asyncio.sleep(1.0)
    assess = encode_request("POST", ASSESS, port, body)
    health = encode_request("GET", "/healthz", port)
    timings: dict[str, list[float]] = {"healthz": [], "assess": []}
    failures = Counter[str]()
    for _ in range(10):
        for name, request in (("healthz", health), ("assess", assess)):
            pool = Pool(port)
            began = time.monotonic()
            try:
                status, _ = await asyncio.wait_for(pool.exchange(request), REQUEST_TIMEOUT)
                timings[name].append(time.monotonic() - began)
                if status != 200:
                    failures[f"{name} {status}"] += 1
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                failures[f"{name} no answer"] += 1
            pool.close()
        await asyncio.sleep(0.1)
    # wait for the server to close them (its header timeout), up to 30 s
    deadline = time.monotonic() + 30.0
    open_after = len(held)
    while time.monotonic() < deadline:
        open_after = sum(1 for reader, _ in held if not reader.at_eof())
        if open_after == 0:
            break
        await asyncio.sleep(0.5)
        for reader, _ in held:
            if not reader.at_eof():
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(reader.read(65536), 0.001)
    for _, writer in held:
        writer.close()
    figures = {
        "connections": count,
        "refused_at_connect": refused,
        "healthz": quantiles_ms(timings["healthz"]),
        "assess": quantiles_ms(timings["assess"]),
        "failures": dict(failures),
        "still_open_after_30s": open_after,
        "log_bytes": log.stat().st_size - log_before,
    }
    line("half-open", figures)
    return figures


def line(name: str, figures: dict[str, Any]) -> None:
    """Print one phase's figures on one line."""
    parts = [f"{name:<10}"]
    keys = ("rate", "offered", "ok_per_s", "share_503", "errors", "connections", "still_open_after_30s")
    parts.extend(f"{key} {figures[key]}" for key in keys if key in figures)
    for key in ("all", "ok", "refused_503", "healthz", "assess"):
        if key in figures and figures[key]["p50_ms"] is not None:
            q = figures[key]
            parts.append(f"{key} p50 {q['p50_ms']} p99 {q['p99_ms']} max {q['max_ms']} ms")
    keys = ("server_cpu_ms_per_request", "load_average", "statuses", "failures", "log_bytes")
    parts.extend(f"{key} {figures[key]}" for key in keys if key in figures)
    print("  ".join(parts), flush=True)


# --- the older closed-loop figures (httpx, threads) -----------------------------------------------


def closed_loop_figures(base: str, cases_dir: Path) -> dict[str, Any]:
    """``POST /api/v1/fhir/assess`` and whole interviews, closed loop, as the earlier benchmark did."""
    import threading  # noqa: PLC0415

    import httpx2 as httpx  # noqa: PLC0415

    from pinchpoint.evaluation.simulation import simulated_answer  # noqa: PLC0415
    from pinchpoint.io.casefile import read_cases  # noqa: PLC0415
    from pinchpoint.io.fhir._boundary import to_json  # noqa: PLC0415
    from pinchpoint.io.fhir.response import case_to_response  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    knowledge = load_knowledge()
    cases = read_cases(cases_dir, knowledge.vocabulary)
    fhir_bodies = [to_json(case_to_response(c, knowledge)) for c in cases]
    bank = knowledge.questions
    lock = threading.Lock()

    def run(worker: Callable[[httpx.Client, int], float | None], total: int) -> dict[str, Any]:
        latencies: list[float] = []
        counter = iter(range(total))

        def loop() -> None:
            with httpx.Client(base_url=base, timeout=30.0) as client:
                while (index := next(counter, None)) is not None:
                    elapsed = worker(client, index)
                    if elapsed is not None:
                        with lock:
                            latencies.append(elapsed)

        threads = [threading.Thread(target=loop) for _ in range(4)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {
            "count": total,
            "per_s": round(total / (time.perf_counter() - began), 1),
            **quantiles_ms(latencies),
        }

    def fhir(client: httpx.Client, index: int) -> float:
        began = time.perf_counter()
        client.post("/api/v1/fhir/assess", json=fhir_bodies[index % len(fhir_bodies)])
        return time.perf_counter() - began

    def plain(value: object) -> Any:
        return json.loads(json.dumps(value, default=list))

    def interview(client: httpx.Client, index: int) -> None:
        case = cases[index % len(cases)]
        intake = {q: simulated_answer(bank[q], case.findings) for q in bank.intake}
        view = client.post("/api/v1/interviews", json={"mode": "clinician", "intake": plain(intake)}).json()
        while not view.get("finished", True):
            question = bank[view["question"]["id"]]
            answer = {"question": question.id, "value": plain(simulated_answer(question, case.findings))}
            view = client.post(f"/api/v1/interviews/{view['id']}/answers", json=answer).json()
        client.get(f"/api/v1/interviews/{view.get('id')}/result")

    figures = {"fhir_assess": run(fhir, 400), "interviews": run(interview, 32)}
    print(f"closed-loop {json.dumps(figures)}", flush=True)
    return figures


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    request = encode_request("GET", "/healthz", port)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            status, _ = asyncio.run(Pool(port).exchange(request))
            if status == 200:
                return
        except (OSError, asyncio.IncompleteReadError):
            time.sleep(0.2)
    raise SystemExit("the server did not start in time")


def case_bodies(cases_dir: Path) -> list[bytes]:
    """The development cases as the JSON bodies of ``POST /api/v1/assess``."""
    from pinchpoint.io.casefile import read_cases  # noqa: PLC0415
    from pinchpoint.io.knowledge.loader import load_knowledge  # noqa: PLC0415

    cases = read_cases(cases_dir, load_knowledge().vocabulary)
    return [
        json.dumps(
            {
                "id": c.id,
                "findings": {k: list(v) if isinstance(v, tuple) else v for k, v in c.findings.items()},
            }
        ).encode("utf-8")
        for c in cases
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second offered (default 200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the sustained phase")
    parser.add_argument("--overload-seconds", type=float, default=10.0, help="length of the 2x phase")
    parser.add_argument("--half-open", type=int, default=1100, help="half-sent connections (0: skip)")
    parser.add_argument("--closed-loop", action="store_true", help="also the FHIR and interview figures")
    parser.add_argument(
        "--src", type=Path, default=REPO / "src", help="the code to serve (default: this checkout)"
    )
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    args = parser.parse_args()

    bodies = case_bodies(args.cases)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pinchpoint-bench-") as folder:
        log = Path(folder) / "server.log"
        env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
        command = [sys.executable, "-m", "pinchpoint", "serve", "--host", HOST, "--port", str(port)]
        command += ["--database", f"sqlite:///{folder}/bench.sqlite3"]
        with log.open("wb") as log_file:
            server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_until_up(port, server)
            args.pid = server.pid
            figures: dict[str, Any] = {"src": str(args.src), "python": sys.version.split()[0]}
            figures |= asyncio.run(load_phases(port, bodies, args))
            if args.half_open:
                figures["half_open"] = asyncio.run(half_open_phase(port, args.half_open, bodies[0], log))
            if args.closed_loop:
                figures["closed_loop"] = closed_loop_figures(f"http://{HOST}:{port}", args.cases)
            figures["server_alive"] = server.poll() is None
            print(json.dumps(figures))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
