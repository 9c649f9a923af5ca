"""Tests of ``pinchpoint serve``: loopback and the user's data folder by default; it logs no findings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import platformdirs
import pytest

from pinchpoint.cli.main import main
from pinchpoint.web.settings import Settings
from tests.corpus import REPO
from tests.web.livebrowser import free_port


def test_the_defaults_bind_loopback_and_use_the_user_data_folder() -> None:
    """Without options the server binds 127.0.0.1 and keeps a SQLite file in the user's data folder."""
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.loopback
    folder = platformdirs.user_data_path("pinchpoint", appauthor=False)
    assert settings.resolved_database_url() == f"sqlite:///{folder / 'pinchpoint.sqlite3'}"
    assert "evil.example" not in settings.resolved_allowed_hosts()
    assert {"127.0.0.1", "localhost", "[::1]"} <= set(settings.resolved_allowed_hosts())


@pytest.mark.parametrize(
    ("host", "loopback", "names_host"),
    [
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("192.0.2.7", False, True),  # a LAN address the user asked for: answered by that name too
        ("0.0.0.0", False, False),  # every interface: only this computer's names, never any name
    ],
)
def test_the_host_decides_loopback_and_the_names_answered(
    host: str, loopback: bool, names_host: bool
) -> None:
    """Only loopback addresses count as loopback; a chosen address is a name answered too; never ``*``."""
    settings = Settings(host=host)
    assert settings.loopback is loopback
    names = settings.resolved_allowed_hosts()
    assert "*" not in names
    assert (host in names) is names_host
    assert "127.0.0.1" in names
    assert Settings(host=host, allowed_hosts=("Clinic.Example",)).resolved_allowed_hosts() == (
        "clinic.example",
    )


def test_a_port_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """``--port 70000`` exits 2 with one line saying what is allowed."""
    assert main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err == (
        "pinchpoint: error: pinchpoint serve --port: the port is out of range; "
        "expected 1 to 65535 (got 70000)\n"
    )


def test_a_bad_database_url_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """A database URL that cannot be opened exits 2 with the store's message."""
    assert main(["serve", "--port", str(free_port()), "--database", "nonsense://x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "pinchpoint: error: opening the database nonsense://x: the database driver is not installed"
    )
    assert "Traceback" not in err


def test_serve_answers_on_loopback_and_logs_no_findings(tmp_path: Path) -> None:
    """The real command serves the app; its output names the address and never a finding."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "pinchpoint", "serve", "--port", str(port),
               "--database", f"sqlite:///{tmp_path / 'db.sqlite3'}"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)
        body = json.dumps({"findings": {"saddle_numbness": True, "pain_regions": ["calf_posterior.left"]}})
        request = urllib.request.Request(
            base + "/api/assess", data=body.encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["triage"] == "emergency"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert f"pinchpoint: serving on http://127.0.0.1:{port}/" in err
    assert "warning" not in err.lower().split("serving")[0]
    for secret in ("saddle", "calf_posterior", "findings"):
        assert secret not in out + err
