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
   (answered with a redirect to the result);
3. ``POST /check/interviews/{id}/answer``: one step of the adaptive interview: the session is
   read and checked, the answer ("don't know" to the question asked now) goes through
   ``Interview.answer``, the next question is chosen and the session saved (answered with a
   redirect). The sessions are started beforehand, each at its first question after an
   intake taken from a development case, so every request answers a different session.

Cases rotate through ``../shared/cases``. Only loopback is ever contacted. A benchmark,
not a test: it asserts only that every request succeeded, and takes about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pinchpoint.io.casefile import read_cases
from pinchpoint.io.knowledge.loader import load_knowledge
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


def bodies() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Return the JSON bodies, the self-check form bodies and the interview intake bodies of the cases."""
    knowledge = load_knowledge()
    content = load_content(knowledge)
    allowed = page_ids("self_check", knowledge, content)
    json_bodies, form_bodies, intake_bodies = [], [], []
    for case in read_cases(CASES, knowledge.vocabulary):
        intake = [("mode", "self_check")]
        for name in ("age", "sex", "pain_regions"):
            value = case.findings.get(name)
            if isinstance(value, tuple):
                intake += [(name, region) for region in value] or [(name, "none")]
            elif value is not None:
                intake.append((name, str(value)))
        intake_bodies.append(urlencode(intake).encode())
        findings = {k: list(v) if isinstance(v, tuple) else v for k, v in case.findings.items()}
        json_bodies.append(json.dumps({"findings": findings}).encode())
        values = findings_to_form({k: v for k, v in case.findings.items() if k in allowed})
        items = [(k, i) for k, v in values.items() for i in (v if isinstance(v, tuple) else (v,))]
        form_bodies.append(urlencode(items).encode())
    return json_bodies, form_bodies, intake_bodies


def start_sessions(port: int, intakes: list[bytes], count: int) -> list[tuple[str, bytes]]:
    """Start ``count`` interview sessions; return for each its answer path and a "don't know" body."""
    headers = {"content-type": "application/x-www-form-urlencoded", "origin": f"http://{HOST}:{port}"}

    def one(index: int) -> tuple[str, bytes]:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        connection.request("POST", "/check/interviews", body=intakes[index % len(intakes)], headers=headers)
        response = connection.getresponse()
        response.read()
        session = response.getheader("location") or ""
        connection.request("GET", session)
        page = connection.getresponse().read().decode()
        connection.close()
        found = re.search(r'name="question" value="([^"]+)"', page)
        if response.status != 303 or found is None:
            raise SystemExit(f"could not start an interview session (status {response.status})")
        return f"{session}/answer", urlencode({"question": found.group(1), "action": "dont_know"}).encode()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


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
    content_type: str,
    payloads: list[tuple[str, bytes]],
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
            path, body = payloads[index % len(payloads)]
            connection.request("POST", path, body=body, headers=headers)
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
    json_bodies, form_bodies, intake_bodies = bodies()
    form = "application/x-www-form-urlencoded"
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(port, Path(folder) / "bench.sqlite3", Path(folder) / "server.log")
        try:
            print(f"pinchpoint web benchmark: server pid {server.pid} on {HOST}:{port}, "
                  f"{args.concurrency} client threads, {len(json_bodies)} cases in rotation")  # fmt: skip
            print(f"{'scenario':<34} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>6}")
            sessions = start_sessions(port, intake_bodies, WARM_UP + args.requests)
            scenarios = [
                ("POST /api/assess (assess only)", "application/json",
                 [("/api/assess", b) for b in json_bodies], 200),
                ("POST /check/form (assess and save)", form, [("/check/form", b) for b in form_bodies], 303),
                ("POST .../answer (interview step)", form, sessions, 303),
            ]  # fmt: skip
            for name, kind, payloads, expected in scenarios:
                # The interview's warm-up uses sessions of its own: each session is answered once.
                warm, measured = (
                    (payloads[:WARM_UP], payloads[WARM_UP:]) if payloads is sessions else (payloads, payloads)
                )
                run(port, kind, warm, WARM_UP, 2, args.seconds, expected)
                figures = run(port, kind, measured, args.requests, args.concurrency, args.seconds, expected)
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
