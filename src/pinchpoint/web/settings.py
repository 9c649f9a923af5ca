"""How the web app is run: address, database, which hosts it answers to, TLS, secrets, CDS clients."""

from __future__ import annotations

import os
import secrets
import ssl
import stat
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import platformdirs

from pinchpoint.errors import InputError
from pinchpoint.service.store import SESSION_IDLE_LIMIT, sqlite_url

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LOOPBACK_HOSTS",
    "Settings",
    "UnsafeServeError",
    "default_database_url",
    "default_secret_file",
    "load_secret",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Names and addresses of this computer: the server binds to loopback unless told otherwise."""
_EVERY_INTERFACE = ("0.0.0.0", "::")
_SECRET_BYTES = 32


class UnsafeServeError(InputError):
    """``pinchpoint serve`` was asked to expose health data without the protection it needs."""


def default_database_url() -> str:
    """Return the SQLite file in the user's data folder, as ``platformdirs`` gives it."""
    return sqlite_url(platformdirs.user_data_path("pinchpoint", appauthor=False) / "pinchpoint.sqlite3")


def default_secret_file() -> Path:
    """Return the file of the key that signs session cookies, in the user's data folder."""
    return platformdirs.user_data_path("pinchpoint", appauthor=False) / "session-secret"


@dataclass(frozen=True, slots=True)
class Settings:
    """Settings of one running web app.

    Attributes:
        host: The address to bind to; loopback by default, so that health data never
            leaves this computer unless the user asks for it.
        port: The TCP port.
        database_url: A SQLAlchemy URL; the user's SQLite file when empty.
        allowed_hosts: The ``Host`` header values the app answers to (protection against
            DNS rebinding); the loopback names (and a loopback ``host``) when empty. Never ``*``.
        session_idle_limit: How long an unfinished interview session is kept after its last
            answer (30 days; see :data:`~pinchpoint.service.store.SESSION_IDLE_LIMIT`).
        tls_cert: The PEM certificate (chain) uvicorn serves HTTPS with; with ``tls_key``.
        tls_key: The PEM private key of ``tls_cert``.
        behind_tls_proxy: A reverse proxy in front terminates TLS: cookies are marked Secure
            and the origin of pages is ``https``.
        secret_file: The file holding the key that signs session cookies; made (mode 0600)
            when missing; :func:`default_secret_file` when empty.
        cds_issuers: The CDS clients trusted to call ``/cds-services``: ``(issuer, jwks)`` pairs,
            ``jwks`` a JWKS file or an ``https://`` URL of the issuer's public keys.
        public_url: The address clients use to reach this server (``https://pinchpoint.clinic``),
            the audience CDS clients sign their JWTs for; the request's own address when empty.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = ""
    allowed_hosts: tuple[str, ...] = field(default=())
    session_idle_limit: timedelta = SESSION_IDLE_LIMIT
    tls_cert: str = ""
    tls_key: str = ""
    behind_tls_proxy: bool = False
    secret_file: str = ""
    cds_issuers: tuple[tuple[str, str], ...] = field(default=())
    public_url: str = ""

    def resolved_database_url(self) -> str:
        """Return ``database_url``, or the default SQLite file when it is empty."""
        return self.database_url or default_database_url()

    def resolved_allowed_hosts(self) -> tuple[str, ...]:
        """Return the Host names to accept: the given ones, or the loopback names (and a loopback ``host``).

        Never ``*``: on every interface (``0.0.0.0``) without names given, only this computer's
        names are answered, and ``pinchpoint serve`` refuses to start (:meth:`refusals`).
        """
        if self.allowed_hosts:
            return tuple(name.lower() for name in self.allowed_hosts)
        names = (*LOOPBACK_HOSTS, "[::1]")
        if self.host in _EVERY_INTERFACE:
            return names
        return tuple(dict.fromkeys((*names, self.host.lower())))

    def resolved_secret_file(self) -> Path:
        """Return ``secret_file``, or the default file in the user's data folder."""
        return Path(self.secret_file) if self.secret_file else default_secret_file()

    @property
    def loopback(self) -> bool:
        """Whether the server binds to this computer only."""
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    @property
    def exposed(self) -> bool:
        """Whether other computers' requests reach the server: a network address, or a proxy in front.

        A proxy on this computer forwards other computers' requests from a loopback address,
        so a server behind one is exposed even when it binds to loopback.
        """
        return not self.loopback or self.behind_tls_proxy

    @property
    def tls(self) -> bool:
        """Whether clients reach the server over TLS (its own certificate, or a proxy in front)."""
        return bool(self.tls_cert) or self.behind_tls_proxy

    def refusals(self, *, accounts: bool) -> list[str]:
        """Return why serving with these settings would be unsafe (empty: it is safe to start).

        On loopback anything goes. On any other address (or behind a proxy) health data crosses a
        network, so the server needs: at least one account (``accounts``), TLS (a certificate and
        its key, or a proxy in front that terminates TLS), and the host names it answers to
        (never ``*``).
        """
        problems = []
        if "*" in self.allowed_hosts:
            problems.append("--allowed-host '*' is refused: name the host names clients use")
        if bool(self.tls_cert) != bool(self.tls_key):
            problems.append("--tls-cert and --tls-key go together: give both")
        unreadable = [
            f"{option} {path!r} is not a readable file"
            for option, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key))
            if path and not (os.path.isfile(path) and os.access(path, os.R_OK))
        ]
        problems += unreadable
        if self.tls_cert and self.tls_key and not unreadable:
            problems += _certificate_problems(self.tls_cert, self.tls_key)
        if not self.exposed:
            return problems
        if not accounts:
            problems.append(
                "no account is configured: add one first with "
                "'pinchpoint users add NAME --role admin' (with the same --database)"
            )
        if not self.tls:
            problems.append(
                "no TLS: give --tls-cert FILE --tls-key FILE, or --behind-tls-proxy when a reverse "
                "proxy in front serves HTTPS"
            )
        if not self.allowed_hosts:
            problems.append("no --allowed-host: name the host name(s) clients use to reach this server")
        return problems

    def check_safe_to_serve(self, *, accounts: bool) -> None:
        """Refuse settings that would expose health data (see :meth:`refusals`).

        Raises:
            UnsafeServeError: Every reason at once, in one message.
        """
        problems = self.refusals(accounts=accounts)
        if problems:
            raise UnsafeServeError(
                f"refusing to serve on {self.host}: " + "; ".join(problems),
                location="pinchpoint serve",
                expected="on an address other than loopback: accounts, TLS and --allowed-host",
            )


def load_secret(path: Path) -> bytes:
    """Return the key that signs session cookies, making it (mode 0600) when the file is missing.

    Raises:
        UnsafeServeError: The file can be read by other users, or cannot be read or made.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(_SECRET_BYTES))
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsafeServeError(
            "the session key cannot be read or made",
            location=str(path),
            expected="a file this user can write, or a folder where it can be made",
            got=str(exc),
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnsafeServeError(
            "the session key can be read by other users",
            location=str(path),
            expected="a file readable by its owner only",
            hint=f"chmod 600 {path}",
        )
    if len(text) < _SECRET_BYTES:
        raise UnsafeServeError(
            "the session key is too short",
            location=str(path),
            expected=f"at least {_SECRET_BYTES} random characters (delete the file to make a new one)",
        )
    return text.encode("ascii")


def _certificate_problems(cert: str, key: str) -> list[str]:
    """Why the TLS certificate and key cannot serve HTTPS (empty: they load), checked before serving.

    uvicorn loads them only as it starts, where a file that is not PEM, or a key that is not the
    certificate's, stopped the server with a traceback of the ssl module.
    """
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or "not PEM"
        return [f"--tls-cert {cert!r} and --tls-key {key!r} are not a PEM certificate and its key ({reason})"]
    return []
