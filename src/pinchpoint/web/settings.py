"""How the web app is run: address, database, and which hosts it answers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import platformdirs

from pinchpoint.service.store import SESSION_IDLE_LIMIT, sqlite_url

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LOOPBACK_HOSTS", "Settings", "default_database_url"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Names and addresses of this computer: the server binds to loopback unless told otherwise."""


def default_database_url() -> str:
    """Return the SQLite file in the user's data folder, as ``platformdirs`` gives it."""
    return sqlite_url(platformdirs.user_data_path("pinchpoint", appauthor=False) / "pinchpoint.sqlite3")


@dataclass(frozen=True, slots=True)
class Settings:
    """Settings of one running web app.

    Attributes:
        host: The address to bind to; loopback by default, so that health data never
            leaves this computer unless the user asks for it.
        port: The TCP port.
        database_url: A SQLAlchemy URL; the user's SQLite file when empty.
        allowed_hosts: The ``Host`` header values the app answers to (protection against
            DNS rebinding); derived from ``host`` when empty.
        session_idle_limit: How long an unfinished interview session is kept after its last
            answer (30 days; see :data:`~pinchpoint.service.store.SESSION_IDLE_LIMIT`).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = ""
    allowed_hosts: tuple[str, ...] = field(default=())
    session_idle_limit: timedelta = SESSION_IDLE_LIMIT

    def resolved_database_url(self) -> str:
        """Return ``database_url``, or the default SQLite file when it is empty."""
        return self.database_url or default_database_url()

    def resolved_allowed_hosts(self) -> tuple[str, ...]:
        """Return the Host names to accept: the given ones, or loopback names plus ``host``."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.host in ("0.0.0.0", "::"):  # the user asked to serve on every interface
            return ("*",)
        return tuple(dict.fromkeys((*LOOPBACK_HOSTS, "[::1]", self.host)))

    @property
    def loopback(self) -> bool:
        """Whether the server binds to this computer only."""
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
