"""Benchmark: the web server under load from a second process, on loopback.

Usage::

    python benchmarks/web.py [--requests N] [--concurrency C] [--seconds S]

The server runs as ``pinchpoint serve`` in its own process (SQLite file in a temporary
folder, bound to 127.0.0.1 on a free port); this process is the client: C threads, each
with one keep-alive HTTP connection, send requests in turn until N requests are done or
S seconds have passed (whichever comes first; both are bounded). It reports requests per
second and the median and 99th percentile latency for:

1. ``POST /api/assess``: a development case as JSON, assessed, not saved;
2. ``POST /check/form``: the self-check form of a case, assessed and saved in one transaction
   (answered with a redirect to the result).

Cases rotate through ``../shared/cases``. Only loopback is ever contacted. A benchmark,
not a test: it asserts only that every request succeeded, and takes about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pinchpoint.casefile import read_cases
from pinchpoint.knowledge.loader import load_knowledge
from pinchpoint.web.content import load_content
from pinchpoint.web.forms import findings_to_form, page_ids

REPO = Path(__file__).resolve().parents[1]
CASES = REPO.parent / "shared" / "cases"
HOST = "127.0.0.1"
WARM_UP = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def bodies() -> tuple[list[bytes], list[bytes]]:
    """Return the JSON bodies and the self-check form bodies of the development cases."""
    knowledge = load_knowledge()
    content = load_content(knowledge)
    allowed = page_ids("self_check", knowledge, content)
    json_bodies, form_bodies = [], []
    for case in read_cases(CASES, knowledge.vocabulary):
        findings = {k: list(v) if isinstance(v, tuple) else v for k, v in case.findings.items()}
        json_bodies.append(json.dumps({"findings": findings}).encode())
        values = findings_to_form({k: v for k, v in case.findings.items() if k in allowed})
        items = [(k, i) for k, v in values.items() for i in (v if isinstance(v, tuple) else (v,))]
        form_bodies.append(urlencode(items).encode())
    return json_bodies, form_bodies


def start_server(port: int, database: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        "-m",
        "pinchpoint",
        "serve",
        "--port",
        str(port),
        "--database",
        f"sqlite:///{database}",
    ]
    # The server logs one line per request: to a file, so that a full pipe never blocks it.
    with log.open("w") as sink:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start: " + log.read_text())


def run(  # noqa: PLR0917 - one scenario's target, payloads and bounds
    port: int,
    path: str,
    content_type: str,
    payloads: list[bytes],
    requests: int,
    concurrency: int,
    seconds: float,
    expected: int,
) -> dict[str, Any]:
    """Send ``requests`` requests (at most ``seconds``) from ``concurrency`` threads; return the figures."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        headers = {"content-type": content_type, "origin": f"http://{HOST}:{port}"}
        while time.monotonic() < stop_at:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            started = time.perf_counter()
            connection.request("POST", path, body=payloads[index % len(payloads)], headers=headers)
            try:
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError as exc:
                status = 0
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                with lock:
                    failures.append(type(exc).__name__)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status not in (expected, 0):
                    failures.append(str(status))
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": len(latencies),
        "failures": len(failures),
        "seconds": wall,
        "rps": len(latencies) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per scenario (default 30)")
    args = parser.parse_args()
    json_bodies, form_bodies = bodies()
    scenarios = [
        ("POST /api/assess (assess only)", "/api/assess", "application/json", json_bodies, 200),
        (
            "POST /check/form (assess and save)",
            "/check/form",
            "application/x-www-form-urlencoded",
            form_bodies,
            303,
        ),
    ]
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(port, Path(folder) / "bench.sqlite3", Path(folder) / "server.log")
        try:
            print(f"pinchpoint web benchmark: server pid {server.pid} on {HOST}:{port}, "
                  f"{args.concurrency} client threads, {len(json_bodies)} cases in rotation")  # fmt: skip
            print(f"{'scenario':<34} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>6}")
            for name, path, kind, payloads, expected in scenarios:
                run(port, path, kind, payloads, WARM_UP, 2, args.seconds, expected)
                figures = run(
                    port, path, kind, payloads, args.requests, args.concurrency, args.seconds, expected
                )
                print(f"{name:<34} {figures['requests']:>8} {figures['rps']:>8.1f} {figures['p50_ms']:>8.2f} "
                      f"{figures['p99_ms']:>8.2f} {figures['failures']:>6}")  # fmt: skip
                if figures["failures"]:
                    return 1
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
