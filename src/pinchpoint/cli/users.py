"""``pinchpoint users``: the accounts of a clinic's server, and its access log.

::

    pinchpoint users add NAME --role clinician|admin   the password from a prompt (twice), or stdin
    pinchpoint users list                              names, roles, when each was made
    pinchpoint users remove NAME                       the account and its sessions and tokens
    pinchpoint users token NAME                        a new API token (shown once)
    pinchpoint users revoke-tokens NAME                every API token of NAME
    pinchpoint users log [--limit N] [--record ID]     the access log, one FHIR AuditEvent per line

Each takes ``--database URL`` (the same as ``pinchpoint serve``'s; the user's SQLite file by
default). Whoever can run these commands on the server can read its database anyway: they are the
administration, and need no login.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from pinchpoint.errors import InputError

if TYPE_CHECKING:  # the database layers are imported by the users commands alone (assess never pays)
    from pinchpoint.service.accounts import AccountError, Accounts
    from pinchpoint.service.store import Store

__all__ = ["add_users_command"]

_OK = 0
_MAX_LIMIT = 2**53 - 1
"""The largest --limit: every database takes it (a larger one overflowed SQLite's integer, reported as
a broken database); no access log holds more events."""


def add_users_command(commands: Any) -> None:
    """Add ``pinchpoint users`` and its subcommands to the CLI's subparsers."""
    users = commands.add_parser("users", help="manage the accounts of a shared server, read its access log")
    actions = users.add_subparsers(metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an account; the password is read from a prompt or stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="clinician (own records) or admin (all records)")
    add.set_defaults(command=_add)
    listing = actions.add_parser("list", help="list the accounts")
    listing.set_defaults(command=_list)
    remove = actions.add_parser("remove", help="remove an account (its saved records stay, for admins)")
    remove.add_argument("name")
    remove.set_defaults(command=_remove)
    token = actions.add_parser("token", help="make an API token for Authorization: Bearer (shown once)")
    token.add_argument("name")
    token.set_defaults(command=_token)
    revoke = actions.add_parser("revoke-tokens", help="revoke every API token of an account")
    revoke.add_argument("name")
    revoke.set_defaults(command=_revoke)
    log = actions.add_parser("log", help="print the access log, one FHIR AuditEvent (JSON) per line")
    log.add_argument("--limit", type=int, default=1000, help="the latest N events (default: 1000)")
    log.add_argument("--record", metavar="ID", help="only the events of this record")
    log.set_defaults(command=_log)
    for parser in (add, listing, remove, token, revoke, log):
        parser.add_argument(
            "--database",
            metavar="URL",
            default="",
            help="SQLAlchemy URL (default: the SQLite file pinchpoint serve uses)",
        )


def _store(args: argparse.Namespace) -> Store:
    from pinchpoint.service.store import Store  # noqa: PLC0415 (only the users commands pay)
    from pinchpoint.web.settings import default_database_url  # noqa: PLC0415

    return Store.open(args.database or default_database_url())


def _accounts(store: Store) -> Accounts:
    from pinchpoint.service.accounts import Accounts  # noqa: PLC0415 (only the users commands pay)

    return Accounts(store.engine)


def _add(args: argparse.Namespace) -> int:
    password = _read_password()
    store = _store(args)
    try:
        user = _accounts(store).add_user(args.name, args.role, password)
    finally:
        store.close()
    sys.stdout.write(f"added {user.name} ({user.role})\n")
    return _OK


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        users = _accounts(store).users()
    finally:
        store.close()
    for user in users:
        sys.stdout.write(f"{user.name}\t{user.role}\t{user.created_at.isoformat(timespec='seconds')}\n")
    return _OK


def _remove(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        removed = _accounts(store).remove_user(args.name)
    finally:
        store.close()
    if not removed:
        raise _no_user(args.name)
    sys.stdout.write(f"removed {args.name}\n")
    return _OK


def _token(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        accounts = _accounts(store)
        user = accounts.user(args.name)
        if user is None:
            raise _no_user(args.name)
        token = accounts.new_token(user, "api")
    finally:
        store.close()
    sys.stdout.write(token + "\n")
    sys.stderr.write("pinchpoint: send it as 'Authorization: Bearer <token>'; it is not shown again\n")
    return _OK


def _revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        count = _accounts(store).revoke_api_tokens(args.name)
    finally:
        store.close()
    sys.stdout.write(f"revoked {count} API token(s) of {args.name}\n")
    return _OK


def _log(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= _MAX_LIMIT:
        raise InputError(
            "the limit is out of range", location="--limit", expected=f"1 to {_MAX_LIMIT}", got=args.limit
        )
    if args.record is not None and not args.record.isprintable():
        raise InputError(
            "the record id holds a character no record id has",
            location="--record",
            expected="a record id as the access log shows it (letters, digits and punctuation)",
            got=args.record,
        )
    store = _store(args)
    try:
        events = store.access_log(limit=args.limit, entity_id=args.record)
    finally:
        store.close()
    for event in events:
        sys.stdout.write(json.dumps(event.to_fhir(), sort_keys=True) + "\n")
    return _OK


def _read_password() -> str:
    """Read the new password: asked twice on a terminal, else the first line of stdin."""
    from pinchpoint.service.accounts import MAX_PASSWORD, AccountError  # noqa: PLC0415

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("The same password again: ") != first:
            raise AccountError(
                "the two passwords differ", location="password", expected="the same password twice"
            )
        return first
    line = sys.stdin.readline(MAX_PASSWORD + 2)
    return line.removesuffix("\n").removesuffix("\r")


def _no_user(name: str) -> AccountError:
    from pinchpoint.service.accounts import no_such_user  # noqa: PLC0415

    return no_such_user(name, location="pinchpoint users")
