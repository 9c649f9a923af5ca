"""Benchmark: the REST API under load, from a second process, on loopback.

Usage::

    python benchmarks/api.py [--requests N] [--concurrency C] [--cases DIR]

A uvicorn server (one worker, the app of :func:`pinchpoint.api.app.create_api_app`) is started as a
child process on 127.0.0.1 and a free port; this process then sends ``POST /api/v1/assess``
requests with the development cases' findings, from C client threads, until N requests have
been answered (default 2,000, concurrency 4), and prints requests per second and the p50 / p99
latency in milliseconds, plus the same for ``POST /api/v1/fhir/assess`` (a QuestionnaireResponse,
fewer requests), and an interview scenario: each client thread runs whole REST interviews
(``POST /api/v1/interviews`` with the case's intake, then ``POST .../answers`` with the answer the
case gives to each question asked, until finished, then ``GET .../result``), cases in turn, and the
latency of each step (one answer, which chooses the next question) is reported, with interviews
per second (``--interviews``, default 64). The load is bounded in count and time and stops by
itself; the server is stopped at the end. Only loopback is used.

A benchmark, not a test: it asserts nothing (except that every request got a 200).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx

from pinchpoint.core.case import Case
from pinchpoint.evaluation.simulation import simulated_answer
from pinchpoint.io.casefile import read_cases
from pinchpoint.io.fhir._boundary import to_json
from pinchpoint.io.fhir.response import case_to_response
from pinchpoint.io.knowledge.loader import load_knowledge

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = REPO.parent / "shared" / "cases"
HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
TIME_LIMIT_SECONDS = 120.0
SERVER = """
import sys, uvicorn
from pinchpoint.api.app import create_api_app
from pinchpoint.io.knowledge.loader import load_knowledge
uvicorn.run(create_api_app(load_knowledge()), host=sys.argv[1], port=int(sys.argv[2]), log_level="warning",
            access_log=False)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base}/api/v1/knowledge", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start in time")


def _load(
    base: str, path: str, bodies: list[dict[str, Any]], total: int, concurrency: int
) -> dict[str, float]:
    """Send ``total`` POST requests from ``concurrency`` threads; return throughput and latencies."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + TIME_LIMIT_SECONDS

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=10.0) as client:
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                body = bodies[index % len(bodies)]
                start = time.perf_counter()
                response = client.post(path, json=body)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        failures.append(response.status_code)

    wall = _run_concurrently(worker, concurrency)
    if failures:
        raise SystemExit(f"{len(failures)} requests to {path} failed, e.g. status {failures[0]}")
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / wall,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def _run_concurrently(worker: Callable[[], None], concurrency: int) -> float:
    """Run ``worker`` in ``concurrency`` threads until each returns; return the wall time in seconds."""
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def _json(value: object) -> Any:
    return json.loads(json.dumps(value, default=list))


def _interviews(base: str, cases: list[Case], total: int, concurrency: int) -> dict[str, float]:
    """Run ``total`` whole interviews from ``concurrency`` threads; return step latencies and rates."""
    knowledge = load_knowledge()
    bank = knowledge.questions
    steps: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + TIME_LIMIT_SECONDS

    def interview(client: httpx.Client, case: Case) -> None:
        intake = {q: simulated_answer(bank[q], case.findings) for q in bank.intake}
        response = client.post("/api/v1/interviews", json={"mode": "clinician", "intake": _json(intake)})
        view = response.json()
        while response.status_code in (200, 201) and not view["finished"]:
            question = bank[view["question"]["id"]]
            answer = {"question": question.id, "value": _json(simulated_answer(question, case.findings))}
            start = time.perf_counter()
            response = client.post(f"/api/v1/interviews/{view['id']}/answers", json=answer)
            elapsed = time.perf_counter() - start
            view = response.json()
            with lock:
                steps.append(elapsed)
        result = client.get(f"/api/v1/interviews/{view.get('id')}/result")
        if result.status_code != 200:
            with lock:
                failures.append(f"{case.id}: {response.status_code} {result.status_code}")

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                interview(client, cases[index % len(cases)])

    wall = _run_concurrently(worker, concurrency)
    if failures:
        raise SystemExit(f"{len(failures)} interviews failed, e.g. {failures[0]}")
    ordered = sorted(steps)
    done = total - len(list(counter))
    return {
        "interviews": done,
        "per_s": done / wall,
        "steps": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--interviews", type=int, default=64)
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    args = parser.parse_args()

    knowledge = load_knowledge()
    cases = read_cases(args.cases, knowledge.vocabulary)
    case_bodies = [
        {"id": c.id, "findings": {k: list(v) if isinstance(v, tuple) else v for k, v in c.findings.items()}}
        for c in cases
    ]
    fhir_bodies = [to_json(case_to_response(c, knowledge)) for c in cases]

    port = _free_port()
    base = f"http://{HOST}:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    server = subprocess.Popen([sys.executable, "-c", SERVER, HOST, str(port)], env=env)
    try:
        _wait_until_up(base, server)
        for path, bodies in (("/api/v1/assess", case_bodies), ("/api/v1/fhir/assess", fhir_bodies)):
            _load(base, path, bodies, min(100, args.requests), args.concurrency)  # warm-up
            total = args.requests if path == "/api/v1/assess" else max(1, args.requests // 4)
            result = _load(base, path, bodies, total, args.concurrency)
            print(
                f"POST {path:<22} {int(result['requests']):>6} requests  {result['rps']:8.1f} req/s  "
                f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                f"(concurrency {args.concurrency}, {len(bodies)} distinct bodies)"
            )
        _interviews(base, cases, min(8, args.interviews), args.concurrency)  # warm-up
        result = _interviews(base, cases, args.interviews, args.concurrency)
        print(
            f"REST interviews {int(result['interviews']):>6} interviews {result['per_s']:8.1f} per s  "
            f"answer step p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
            f"({int(result['steps'])} steps, concurrency {args.concurrency}, {len(cases)} cases)"
        )
        print(json.dumps({"knowledge_version": knowledge.version, "python": sys.version.split()[0]}))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
