"""Accounts for a shared server: users with a role, their passwords, their sessions and API tokens.

A clinic's server holds the records of many people, so each user of it has an account
(:class:`Accounts`, kept in the same database as the records, tables of migration 0003):

* a **name** (lower-case letters, digits, ``.``, ``_``, ``-``; ``local`` is reserved for the one
  owner of a computer without accounts) and a **role**: ``clinician`` (their own records) or
  ``admin`` (also lists, reads and deletes every saved assessment; every access is logged);
* a **password**, kept only as an argon2id hash (argon2-cffi's defaults, RFC 9106's second
  recommended profile); it is checked against a dummy hash when the name is unknown, so an
  answer's time does not tell which names exist, and re-hashed on login when the parameters
  have been raised since;
* **tokens**: a browser session (made at login, 12 hours) or an API token (made by
  ``pinchpoint users token``, until revoked), each 32 random bytes of which only the SHA-256 is
  stored. A token is as strong as a key, so a fast hash is enough, and checking one costs no
  argon2 work on every API request. Removing a user removes their tokens.

Nothing here knows about HTTP: the web layer (:mod:`pinchpoint.web.auth`) reads the cookie or
the ``Authorization`` header and asks this module who it is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pinchpoint.errors import InputError
from pinchpoint.service.store import LOCAL_OWNER, Accessor, database_errors

__all__ = [
    "API_TOKEN_PREFIX",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "ROLES",
    "SESSION_LIFETIME",
    "AccountError",
    "Accounts",
    "Role",
    "TokenKind",
    "User",
    "no_such_user",
]

Role = Literal["clinician", "admin"]
ROLES: tuple[Role, ...] = ("clinician", "admin")
TokenKind = Literal["session", "api"]
MIN_PASSWORD = 12
"""The shortest password accepted (NIST SP 800-63B asks at least 8; a clinic's records deserve more)."""
MAX_PASSWORD = 1024
"""The longest password accepted: argon2 hashes any length, but a megabyte would be a denial of service."""
SESSION_LIFETIME = timedelta(hours=12)
"""How long a browser session lasts after login: one working day, then log in again."""
API_TOKEN_PREFIX = "pp_"
"""The prefix of an API token, so that one found in a log or a repository is recognisable."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_TOKEN_BYTES = 32

Clock = Callable[[], datetime]

_metadata = sa.MetaData()
_users = sa.Table(
    "users",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
_tokens = sa.Table(
    "user_tokens",
    _metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
)


class AccountError(InputError):
    """An account cannot be made or changed as asked: a bad name, role or password, or no such user."""


@dataclass(frozen=True, slots=True)
class User:
    """An account: its id (the owner of its records), name, role and when it was made."""

    id: str
    name: str
    role: Role
    created_at: datetime

    def accessor(self, address: str | None = None) -> Accessor:
        """This user as the store's :class:`~pinchpoint.service.store.Accessor` (an admin reads all)."""
        return Accessor(owner=self.id, name=self.name, reads_all=self.role == "admin", address=address)


class Accounts:
    """The users of one database and their tokens.

    Args:
        engine: The engine of a database migrated to revision 0003 or later
            (:attr:`pinchpoint.service.store.Store.engine`).
        clock: Returns the current time (tests pass their own).
        hasher: The argon2 password hasher (tests pass cheaper parameters).
    """

    def __init__(
        self, engine: sa.Engine, *, clock: Clock | None = None, hasher: PasswordHasher | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    # --- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        """Create an account; the password is kept as an argon2 hash only.

        Raises:
            AccountError: The name is malformed, reserved or taken, the role unknown, or the
                password too short or too long.
        """
        _check_name(name)
        checked_role = _check_role(role)
        _check_password(password)
        user = User(id=uuid.uuid4().hex, name=name, role=checked_role, created_at=self._clock())
        row = {
            "id": user.id,
            "name": name,
            "role": checked_role,
            "password_hash": self._hasher.hash(password),
            "created_at": user.created_at,
        }
        with database_errors("changing the accounts"), self._engine.begin() as connection:
            if connection.execute(sa.select(_users.c.id).where(_users.c.name == name)).first():
                raise AccountError(
                    "there is already a user with this name",
                    location="user name",
                    expected="a new name (pinchpoint users list shows the names in use)",
                    got=name,
                )
            connection.execute(_users.insert().values(**row))
        return user

    def remove_user(self, name: str) -> bool:
        """Remove an account and every session and token it holds; False when there is none.

        Their saved records stay (an admin can still list, read and delete them).
        """
        with database_errors("changing the accounts"), self._engine.begin() as connection:
            user_id = connection.execute(sa.select(_users.c.id).where(_users.c.name == name)).scalar()
            if user_id is None:
                return False
            connection.execute(_tokens.delete().where(_tokens.c.user_id == user_id))
            connection.execute(_users.delete().where(_users.c.id == user_id))
            return True

    def users(self) -> list[User]:
        """Return every account, by name."""
        query = sa.select(_users.c.id, _users.c.name, _users.c.role, _users.c.created_at)
        with database_errors("reading the accounts"), self._engine.connect() as connection:
            return [_user(row._mapping) for row in connection.execute(query.order_by(_users.c.name))]

    def user(self, name: str) -> User | None:
        """Return the account with this name, or None."""
        query = sa.select(_users.c.id, _users.c.name, _users.c.role, _users.c.created_at)
        with database_errors("reading the accounts"), self._engine.connect() as connection:
            row = connection.execute(query.where(_users.c.name == name)).first()
        return None if row is None else _user(row._mapping)

    def any(self) -> bool:
        """Whether at least one account exists (then every request must say who it comes from)."""
        with database_errors("reading the accounts"), self._engine.connect() as connection:
            return connection.execute(sa.select(_users.c.id).limit(1)).first() is not None

    def authenticate(self, name: str, password: str) -> User | None:
        """Return the user whose name and password these are, or None.

        An unknown name costs the same argon2 work as a wrong password. A hash made with
        older parameters is replaced by one with the current parameters.
        """
        if len(password) > MAX_PASSWORD:
            return None
        query = sa.select(_users).where(_users.c.name == name)
        with database_errors("reading the accounts"), self._engine.connect() as connection:
            row = connection.execute(query).first() if _NAME.match(name) else None
        stored = self._dummy_hash() if row is None else str(row.password_hash)
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with database_errors("changing the accounts"), self._engine.begin() as connection:
                connection.execute(
                    _users.update()
                    .where(_users.c.id == row.id)
                    .values(password_hash=self._hasher.hash(password))
                )
        return _user(row._mapping)

    def _dummy_hash(self) -> str:
        """A hash of a random password, made on first use, to check unknown names against."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_hex(16))
        return self._dummy

    # --- tokens --------------------------------------------------------------------------------

    def new_token(self, user: User, kind: TokenKind) -> str:
        """Make a token for ``user`` and return it (only its SHA-256 is kept).

        A session token expires after :data:`SESSION_LIFETIME`; an API token lasts until revoked.
        """
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        if kind == "api":
            token = API_TOKEN_PREFIX + token
        now = self._clock()
        expires = now + SESSION_LIFETIME if kind == "session" else None
        with database_errors("changing the accounts"), self._engine.begin() as connection:
            connection.execute(
                _tokens.delete().where(_tokens.c.expires_at.is_not(None), _tokens.c.expires_at < now)
            )
            connection.execute(
                _tokens.insert().values(
                    token_hash=_digest(token), user_id=user.id, kind=kind, created_at=now, expires_at=expires
                )
            )
        return token

    def user_of_token(self, token: str, kind: TokenKind) -> User | None:
        """Return the user holding this token of this kind, unexpired; None otherwise."""
        if not token or len(token) > 200:
            return None
        query = (
            sa.select(_users.c.id, _users.c.name, _users.c.role, _users.c.created_at, _tokens.c.expires_at)
            .join(_tokens, _tokens.c.user_id == _users.c.id)
            .where(_tokens.c.token_hash == _digest(token), _tokens.c.kind == kind)
        )
        with database_errors("reading the accounts"), self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        if row.expires_at is not None and _aware(row.expires_at) <= self._clock():
            return None
        return _user(row._mapping)

    def revoke_token(self, token: str) -> None:
        """Forget a token (logout)."""
        with database_errors("changing the accounts"), self._engine.begin() as connection:
            connection.execute(_tokens.delete().where(_tokens.c.token_hash == _digest(token)))

    def revoke_api_tokens(self, name: str) -> int:
        """Forget every API token of a user; return how many there were."""
        with database_errors("changing the accounts"), self._engine.begin() as connection:
            user_id = connection.execute(sa.select(_users.c.id).where(_users.c.name == name)).scalar()
            if user_id is None:
                raise no_such_user(name)
            result = connection.execute(
                _tokens.delete().where(_tokens.c.user_id == user_id, _tokens.c.kind == "api")
            )
            return int(result.rowcount or 0)


def _user(mapping: sa.RowMapping) -> User:
    role = str(mapping["role"])
    return User(
        id=str(mapping["id"]),
        name=str(mapping["name"]),
        role="admin" if role == "admin" else "clinician",
        created_at=_aware(mapping["created_at"]),
    )


def _aware(moment: object) -> datetime:
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise AccountError(
            "the user name is not valid",
            location="user name",
            expected="1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
            got=name,
        )
    if name == LOCAL_OWNER:
        raise AccountError(
            "this user name is reserved",
            location="user name",
            expected=f"another name ({LOCAL_OWNER!r} owns the records made without accounts)",
            got=name,
        )


def _check_role(role: str) -> Role:
    if role == "admin":
        return "admin"
    if role == "clinician":
        return "clinician"
    raise AccountError("the role is not known", location="role", expected=" or ".join(ROLES), got=role)


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(
            "the password is too short" if len(password) < MIN_PASSWORD else "the password is too long",
            location="password",
            expected=f"{MIN_PASSWORD} to {MAX_PASSWORD} characters (a passphrase of several words is good)",
        )


def no_such_user(name: str, *, location: str = "user name") -> AccountError:
    """The error for a user name that has no account."""
    return AccountError(
        "there is no user with this name",
        location=location,
        expected="a name that pinchpoint users list shows",
        got=name,
    )
