"""A throwaway PostgreSQL server for the store's tests, from the system's own PostgreSQL binaries.

:func:`postgres_server` runs ``initdb`` in a fresh temporary folder and starts the server on a
Unix socket in that folder only (no TCP port), with fsync off; it yields a :class:`PostgresServer`
that creates one empty database per test, and stops the server and deletes the folder at the end.
As root (PostgreSQL refuses to run as root) the server runs as the ``postgres`` user of Debian's
``postgresql`` package.

Whether the tests run: with ``PINCHPOINT_TEST_POSTGRES=1`` they must (anything missing fails
them, with the reason); without it they run when the server binaries and psycopg are present
and are skipped, with the reason, otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REQUIRED = os.environ.get("PINCHPOINT_TEST_POSTGRES") == "1"
_SERVER_USER = "postgres"
_DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def server_binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH, else Debian's newest version."""
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(
        _DEBIAN_BINARIES.glob("*/bin/pg_ctl"), key=lambda p: [int(n) for n in re.findall(r"\d+", p.parts[-3])]
    )
    return versions[-1].parent if versions else None


def missing() -> list[str]:
    """What is missing to run a server, in words (empty when everything is there)."""
    reasons = []
    if server_binaries() is None:
        reasons.append("the PostgreSQL server binaries are not installed (apt-get install postgresql)")
    if importlib.util.find_spec("psycopg") is None:
        reasons.append("psycopg is not installed (pip install 'pinchpoint[postgres]')")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError:
            reasons.append(f"running as root and there is no {_SERVER_USER!r} user to run the server as")
    return reasons


@dataclass(frozen=True)
class PostgresServer:
    """A running server: its socket folder and superuser; makes one database per call."""

    socket_dir: Path
    user: str

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL (psycopg over the Unix socket)."""
        import psycopg  # noqa: PLC0415 (optional dependency)

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(
            host=str(self.socket_dir), user=self.user, dbname="postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{self.user}@/{name}?host={self.socket_dir}"


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server in a temporary folder; stop it and delete the folder after."""
    binaries = server_binaries()
    assert binaries is not None
    folder = Path(tempfile.mkdtemp(prefix="pinchpoint-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam(_SERVER_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", _SERVER_USER, "--"]
    data = folder / "data"
    user = "pinchpoint"
    started = False
    try:
        _run([*run_as, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", user,
              "-E", "UTF8", "--locale=C", "--no-sync"])  # fmt: skip
        options = f"-k {folder} -c listen_addresses='' -F -c full_page_writes=off"
        _run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
              "-l", str(folder / "server.log"), "-w", "-t", "60", "start"])  # fmt: skip
        started = True
        yield PostgresServer(folder, user)
    finally:
        if started:
            _run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:6])} failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        )
