"""Saved assessments and interview sessions: the database adapter.

A :class:`Store` keeps two kinds of record in a SQL database through SQLAlchemy 2:

* an **assessment**: the case as the contract's JSON, the result as the contract's JSON,
  the knowledge version that produced it, its triage level (for the history list) and
  the time it was made;
* an **interview session**: the JSON state of a self-check interview, so a person can leave
  and come back (in the one format of :mod:`pinchpoint.service.sessions`; the interview itself
  lives in the reasoning core).

Every record carries its **owner**: the id of the user who made it, or :data:`LOCAL_OWNER` when
no account is configured (one person on their own computer). The web app reaches the store only
through :meth:`Store.as_user`, an :class:`OwnedStore` that lists, reads, changes and deletes the
records of one :class:`Accessor` only (an admin reads every assessment, never another user's
interview), and writes every access to the **access log** in the same transaction as the access
itself: what was created, read, updated or deleted, by whom, and whether it was allowed, shaped
as a FHIR ``AuditEvent`` (:class:`AccessEvent`). The log holds record ids, never a finding.

:class:`InterviewStore` is what the session service needs of a store; :class:`Store` has it,
and :class:`MemoryInterviewStore` keeps sessions in memory (the API app alone, tests).

SQLite is the default (one file in the user's data folder); PostgreSQL works with a
``postgresql+psycopg://`` URL. The schema is created and upgraded by the Alembic
migrations shipped in :mod:`pinchpoint.service.migrations`, run by :meth:`Store.open`.

Every write runs in one transaction: it is committed whole or not at all, so a crash
in the middle of a save never leaves half an assessment behind. Every error of the
database driver, SQLAlchemy or Alembic is translated once, in :func:`_database_errors`,
into :class:`~pinchpoint.errors.StoreError`; the store never lets a foreign exception
out.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import orm
from sqlalchemy.pool import StaticPool

from pinchpoint.errors import PinchpointError, StoreError

__all__ = [
    "LOCAL_OWNER",
    "SESSION_IDLE_LIMIT",
    "AccessEvent",
    "Accessor",
    "AssessmentRecord",
    "Clock",
    "InterviewRecord",
    "InterviewRecordLike",
    "InterviewStore",
    "MemoryInterviewStore",
    "OwnedStore",
    "Store",
    "database_errors",
    "sqlite_url",
    "upgrade",
]

_ID_LENGTH = 32  # uuid4().hex
_MEMORY_LIMIT = 10_000
LOCAL_OWNER = "local"
"""The owner of every record saved while no account is configured (and of every record saved before
accounts existed): the one person using pinchpoint on their own computer."""

Action = Literal["C", "R", "U", "D", "E"]
"""FHIR ``AuditEvent.action``: create, read, update, delete, execute (a search: the history list)."""
_SUCCESS = "0"
_REFUSED = "4"  # FHIR AuditEvent.outcome "minor failure": no such record for this user

SESSION_IDLE_LIMIT = timedelta(days=30)
"""How long an unfinished interview session is kept after its last answer (pinchpoint-design).

Long enough to come back to a self-check after a weekend away or an appointment weeks later;
short enough that answers about someone's health that were never finished do not stay on the
server for good. A finished session stays as long as the saved assessment it belongs to (the
record the user keeps or deletes in the history).
"""
_PURGE_EVERY = timedelta(hours=1)
"""How often a running store deletes expired sessions again, on its next write of a session."""

Clock = Callable[[], datetime]
"""Returns the current time as an aware :class:`~datetime.datetime`."""


class _Base(orm.DeclarativeBase):
    """Declarative base of the store's tables."""


class _AssessmentRow(_Base):
    __tablename__ = "assessments"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(_ID_LENGTH), primary_key=True)
    created_at: orm.Mapped[datetime] = orm.mapped_column(sa.DateTime(timezone=True), index=True)
    mode: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    triage: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    knowledge_version: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    case_json: orm.Mapped[str] = orm.mapped_column(sa.Text)
    result_json: orm.Mapped[str] = orm.mapped_column(sa.Text)
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(_ID_LENGTH), index=True, default=LOCAL_OWNER)


class _InterviewRow(_Base):
    __tablename__ = "interview_sessions"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(_ID_LENGTH), primary_key=True)
    created_at: orm.Mapped[datetime] = orm.mapped_column(sa.DateTime(timezone=True))
    updated_at: orm.Mapped[datetime] = orm.mapped_column(sa.DateTime(timezone=True))
    state_json: orm.Mapped[str] = orm.mapped_column(sa.Text)
    assessment_id: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(_ID_LENGTH), sa.ForeignKey("assessments.id", ondelete="SET NULL"), nullable=True
    )
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(_ID_LENGTH), index=True, default=LOCAL_OWNER)


class _AccessRow(_Base):
    __tablename__ = "access_log"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    recorded: orm.Mapped[datetime] = orm.mapped_column(sa.DateTime(timezone=True), index=True)
    action: orm.Mapped[str] = orm.mapped_column(sa.String(1))
    agent_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    agent_name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    address: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    entity_type: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    entity_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), nullable=True)
    outcome: orm.Mapped[str] = orm.mapped_column(sa.String(2))


@dataclass(frozen=True, slots=True)
class Accessor:
    """Who reads or writes records: the owner id their records carry, and what the access log names.

    Attributes:
        owner: The user's id (:data:`LOCAL_OWNER` for the one local user without accounts).
        name: The name the access log records as the agent (a user name, ``local``, a CDS client).
        reads_all: Whether this accessor lists, reads and deletes every assessment (an admin);
            interview sessions in progress stay their owner's alone whatever the role.
        address: The network address the request came from, for the access log (None: unknown).
    """

    owner: str
    name: str
    reads_all: bool = False
    address: str | None = None


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One row of the access log: a FHIR ``AuditEvent`` without a finding or value in it.

    Attributes:
        recorded: When the access happened (UTC).
        action: ``C``, ``R``, ``U``, ``D``, or ``E`` for a search (listing the history).
        agent_id: The owner id of the accessor.
        agent_name: The accessor's name.
        address: The network address of the request, when known.
        entity_type: ``assessment`` or ``interview_session``.
        entity_id: The record's id (None for a search).
        outcome: FHIR ``AuditEvent.outcome``: ``"0"`` success, ``"4"`` refused (no such record
            for this accessor: missing, or someone else's).
    """

    recorded: datetime
    action: str
    agent_id: str
    agent_name: str
    address: str | None
    entity_type: str
    entity_id: str | None
    outcome: str

    def to_fhir(self) -> dict[str, Any]:
        """Return the event as a FHIR R4 ``AuditEvent`` resource (JSON), for export."""
        agent: dict[str, Any] = {
            "who": {"identifier": {"value": self.agent_id}, "display": self.agent_name},
            "requestor": True,
        }
        if self.address is not None:
            agent["network"] = {"address": self.address, "type": "2"}
        entity: dict[str, Any] = {"type": {"code": self.entity_type}}
        if self.entity_id is not None:
            entity["what"] = {"identifier": {"value": self.entity_id}}
        return {
            "resourceType": "AuditEvent",
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                "code": "rest",
                "display": "RESTful Operation",
            },
            "action": self.action,
            "recorded": self.recorded.isoformat(),
            "outcome": self.outcome,
            "agent": [agent],
            "source": {"observer": {"display": "pinchpoint"}},
            "entity": [entity],
        }


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    """One saved assessment.

    Attributes:
        id: The record id (32 hexadecimal digits).
        created_at: When it was saved (UTC).
        mode: Which page produced it: ``"self_check"`` or ``"clinician"``.
        triage: The triage level id, e.g. ``"emergency"``.
        knowledge_version: The knowledge version the result was computed with.
        case: The case as the contract's JSON (``{"id": ..., "findings": {...}}``).
        result: The assessment as :func:`pinchpoint.service.contract.to_contract` gives it.
        owner: The id of the user it belongs to (:data:`LOCAL_OWNER` without accounts).
    """

    id: str
    created_at: datetime
    mode: str
    triage: str
    knowledge_version: str
    case: Mapping[str, Any]
    result: Mapping[str, Any]
    owner: str = LOCAL_OWNER


@dataclass(frozen=True, slots=True)
class InterviewRecord:
    """One saved interview session: its JSON state and, once finished, its assessment."""

    id: str
    created_at: datetime
    updated_at: datetime
    state: Mapping[str, Any]
    assessment_id: str | None
    owner: str = LOCAL_OWNER


class InterviewRecordLike(Protocol):
    """A saved session: its id, its JSON state and, once its result is saved, that assessment's id."""

    @property
    def id(self) -> str:
        """The session id (32 hexadecimal digits)."""

    @property
    def state(self) -> Mapping[str, Any]:
        """The session state as JSON-ready data (see :mod:`pinchpoint.service.sessions`)."""

    @property
    def assessment_id(self) -> str | None:
        """The id of the assessment that finished the session, or None while it is open."""


class InterviewStore(Protocol):
    """Where interview sessions live between requests (:class:`Store` has these methods)."""

    def create_interview(self, state: Mapping[str, Any]) -> InterviewRecordLike:
        """Save a new session and return its record (with a new id)."""

    def update_interview(self, interview_id: str, state: Mapping[str, Any]) -> InterviewRecordLike:
        """Replace the state of a session."""

    def get_interview(self, interview_id: str) -> InterviewRecordLike | None:
        """Return the session with this id, or None."""


class _MemoryRecord:
    __slots__ = ("assessment_id", "id", "state")

    def __init__(self, interview_id: str, state: Mapping[str, Any]) -> None:
        self.id = interview_id
        self.state = dict(state)
        self.assessment_id: str | None = None


class MemoryInterviewStore:
    """Interview sessions in this process's memory: for the API app alone, tests and benchmarks.

    Thread-safe; keeps at most ``limit`` sessions and forgets the least recently used beyond that,
    so a long load test cannot exhaust memory. It saves no assessment, so no session is ever
    finished with a saved result here.
    """

    def __init__(self, limit: int = _MEMORY_LIMIT) -> None:
        self._sessions: OrderedDict[str, _MemoryRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def create_interview(self, state: Mapping[str, Any]) -> _MemoryRecord:
        """Save a new session under a random id."""
        record = _MemoryRecord(uuid.uuid4().hex, state)
        with self._lock:
            self._sessions[record.id] = record
            while len(self._sessions) > self._limit:
                self._sessions.popitem(last=False)
        return record

    def update_interview(self, interview_id: str, state: Mapping[str, Any]) -> _MemoryRecord:
        """Replace a session's state (a session forgotten meanwhile is saved again)."""
        record = _MemoryRecord(interview_id, state)
        with self._lock:
            self._sessions[interview_id] = record
            self._sessions.move_to_end(interview_id)
        return record

    def get_interview(self, interview_id: str) -> _MemoryRecord | None:
        """Return the session, or None."""
        with self._lock:
            record = self._sessions.get(interview_id)
            if record is not None:
                self._sessions.move_to_end(interview_id)
            return record


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """Return the SQLAlchemy URL of a SQLite database file."""
    return "sqlite:///" + str(Path(path))


class Store:
    """Assessments and interview sessions in a SQL database.

    Build one with :meth:`open`, which brings the schema up to date. Methods are safe to
    call from several threads: each call opens its own session and transaction.

    Args:
        engine: A SQLAlchemy engine whose schema is already at the latest migration.
        clock: Returns the current time (tests pass a fixed clock).
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock | None = None,
        session_idle_limit: timedelta = SESSION_IDLE_LIMIT,
    ) -> None:
        self._engine = engine
        self._sessions = orm.sessionmaker(engine, expire_on_commit=False)
        self._clock = clock or _utc_now
        self._idle_limit = session_idle_limit
        self._purged_at: datetime | None = None

    @classmethod
    def open(
        cls, url: str, *, clock: Clock | None = None, session_idle_limit: timedelta = SESSION_IDLE_LIMIT
    ) -> Store:
        """Connect to the database at ``url``, upgrade its schema and delete expired sessions.

        A SQLite file and its folder are created when missing, readable by the owner only
        (the file holds health data); an existing file readable by others is made private.

        Args:
            url: A SQLAlchemy URL: ``sqlite:///path/to/file.sqlite3``, ``sqlite://`` (in
                memory) or ``postgresql+psycopg://user@host/db``.
            clock: Returns the current time; UTC now when omitted.
            session_idle_limit: How long an unfinished interview session is kept after its
                last change (:data:`SESSION_IDLE_LIMIT` by default).

        Raises:
            StoreError: The URL is malformed, its driver is missing, the database cannot
                be reached or created, or a migration fails.
        """
        with _database_errors(f"opening the database {_redacted(url)}"):
            parsed = sa.make_url(url)
            engine = _engine(parsed)
            upgrade(engine)
        store = cls(engine, clock=clock, session_idle_limit=session_idle_limit)
        store.delete_expired_interviews()
        return store

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for migrations and tests)."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    # --- assessments -----------------------------------------------------------------------------

    def as_user(self, accessor: Accessor) -> OwnedStore:
        """Return this store as ``accessor`` sees it: their own records only, every access logged."""
        return OwnedStore(self, accessor)

    def save_assessment(
        self,
        *,
        case: Mapping[str, Any],
        result: Mapping[str, Any],
        mode: str,
        interview_id: str | None = None,
        accessor: Accessor | None = None,
    ) -> AssessmentRecord:
        """Save one assessment, in one transaction, and return the saved record.

        Args:
            case: The case as the contract's JSON.
            result: The contract JSON of the assessment; its ``triage`` and
                ``knowledge_version`` are kept in their own columns too.
            mode: ``"self_check"`` or ``"clinician"``.
            interview_id: The interview session this assessment finishes, if any; the
                session is linked to the assessment in the same transaction.
            accessor: Who saves it: the record is theirs and the save is logged (the local
                owner, unlogged, when None).

        Raises:
            StoreError: The result lacks ``triage`` or ``knowledge_version``, the
                interview does not exist (or is not the accessor's), or the database refused
                the write (nothing is saved then).
        """
        for key in ("triage", "knowledge_version"):
            if not isinstance(result.get(key), str):
                raise StoreError(
                    f"the assessment to save has no {key}",
                    location=f"result.{key}",
                    expected="the contract JSON of an assessment",
                    got=result.get(key),
                )
        now = self._clock()
        row = _AssessmentRow(
            id=uuid.uuid4().hex,
            created_at=now,
            mode=mode,
            triage=result["triage"],
            knowledge_version=result["knowledge_version"],
            case_json=_dumps(case, "case"),
            result_json=_dumps(result, "result"),
            owner=_owner(accessor),
        )
        with self._transaction("saving an assessment") as session:
            session.add(row)
            if interview_id is not None:
                interview = session.get(_InterviewRow, interview_id)
                if interview is None or not _owns(accessor, interview.owner):
                    raise _missing("interview session", interview_id)
                session.flush()
                interview.assessment_id = row.id
                interview.updated_at = now
            self._log(session, accessor, "C", _ASSESSMENT, row.id)
        return _assessment_record(row)

    def get_assessment(
        self, assessment_id: str, *, accessor: Accessor | None = None
    ) -> AssessmentRecord | None:
        """Return the assessment with this id, or None when there is none (for ``accessor``).

        Raises:
            StoreError: The database could not be read.
        """
        with self._transaction("reading an assessment") as session:
            row = session.get(_AssessmentRow, assessment_id)
            allowed = row is not None and _reads(accessor, row.owner)
            self._log(session, accessor, "R", _ASSESSMENT, assessment_id, allowed=allowed)
            return _assessment_record(row) if row is not None and allowed else None

    def list_assessments(
        self, *, limit: int = 200, offset: int = 0, accessor: Accessor | None = None
    ) -> list[AssessmentRecord]:
        """Return saved assessments (``accessor``'s own, or every one for an admin), newest first.

        Raises:
            StoreError: The database could not be read.
        """
        query = (
            sa.select(_AssessmentRow)
            .order_by(_AssessmentRow.created_at.desc(), _AssessmentRow.id)
            .limit(limit)
            .offset(offset)
        )
        if accessor is not None and not accessor.reads_all:
            query = query.where(_AssessmentRow.owner == accessor.owner)
        with self._transaction("listing assessments") as session:
            records = [_assessment_record(row) for row in session.scalars(query)]
            self._log(session, accessor, "E", _ASSESSMENT, None)
            return records

    def count_assessments(self, *, accessor: Accessor | None = None) -> int:
        """Return how many assessments are saved (``accessor``'s own, or all).

        Raises:
            StoreError: The database could not be read.
        """
        query = sa.select(sa.func.count()).select_from(_AssessmentRow)
        if accessor is not None and not accessor.reads_all:
            query = query.where(_AssessmentRow.owner == accessor.owner)
        with self._transaction("counting assessments") as session:
            return int(session.scalar(query) or 0)

    def delete_assessment(self, assessment_id: str, *, accessor: Accessor | None = None) -> bool:
        """Delete one assessment; return False when there was none with this id (for ``accessor``).

        Raises:
            StoreError: The database refused the delete (nothing is deleted then).
        """
        with self._transaction("deleting an assessment") as session:
            row = session.get(_AssessmentRow, assessment_id)
            allowed = row is not None and _reads(accessor, row.owner)
            self._log(session, accessor, "D", _ASSESSMENT, assessment_id, allowed=allowed)
            if row is None or not allowed:
                return False
            session.execute(
                sa.update(_InterviewRow)
                .where(_InterviewRow.assessment_id == assessment_id)
                .values(assessment_id=None)
            )
            session.delete(row)
            return True

    # --- interview sessions ------------------------------------------------------------------

    def delete_expired_interviews(self) -> int:
        """Delete the unfinished sessions idle longer than the store's limit; return how many.

        A session is unfinished when no saved assessment links to it (never finished, or its
        assessment was deleted). Runs when the store opens and then, at most once an hour, when
        a session is created.

        Raises:
            StoreError: The database refused the delete.
        """
        now = self._clock()
        self._purged_at = now
        query = sa.delete(_InterviewRow).where(
            _InterviewRow.assessment_id.is_(None), _InterviewRow.updated_at < now - self._idle_limit
        )
        with self._transaction("deleting expired interview sessions") as session:
            return int(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def create_interview(
        self, state: Mapping[str, Any], *, accessor: Accessor | None = None
    ) -> InterviewRecord:
        """Save the state of a new interview session (``accessor``'s) and return the record.

        Raises:
            StoreError: The state is not JSON, or the database refused the write.
        """
        now = self._clock()
        if self._purged_at is None or now - self._purged_at >= _PURGE_EVERY:
            self.delete_expired_interviews()
        row = _InterviewRow(
            id=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
            state_json=_dumps(state, "state"),
            owner=_owner(accessor),
        )
        with self._transaction("saving an interview session") as session:
            session.add(row)
            self._log(session, accessor, "C", _INTERVIEW, row.id)
        return _interview_record(row)

    def update_interview(
        self, interview_id: str, state: Mapping[str, Any], *, accessor: Accessor | None = None
    ) -> InterviewRecord:
        """Replace the state of an interview session.

        Raises:
            StoreError: There is no session with this id (of ``accessor``'s), the state is not
                JSON, or the database refused the write (the old state is kept then).
        """
        text = _dumps(state, "state")
        with self._transaction("saving an interview session") as session:
            row = session.get(_InterviewRow, interview_id)
            if row is None or not _owns(accessor, row.owner):
                raise _missing("interview session", interview_id)
            row.state_json = text
            row.updated_at = self._clock()
            self._log(session, accessor, "U", _INTERVIEW, interview_id)
            return _interview_record(row)

    def get_interview(self, interview_id: str, *, accessor: Accessor | None = None) -> InterviewRecord | None:
        """Return the interview session with this id (if it is ``accessor``'s), or None.

        Raises:
            StoreError: The database could not be read.
        """
        with self._transaction("reading an interview session") as session:
            row = session.get(_InterviewRow, interview_id)
            allowed = row is not None and _owns(accessor, row.owner)
            self._log(session, accessor, "R", _INTERVIEW, interview_id, allowed=allowed)
            if row is None or not allowed or self._expired(row):
                return None
            return _interview_record(row)

    def _expired(self, row: _InterviewRow) -> bool:
        """Whether an unfinished session is past its idle limit (deleted at the next purge)."""
        return row.assessment_id is None and _aware(row.updated_at) < self._clock() - self._idle_limit

    def interview_of_assessment(
        self, assessment_id: str, *, accessor: Accessor | None = None
    ) -> InterviewRecord | None:
        """Return the interview session that an assessment finished (``accessor``'s), or None.

        Raises:
            StoreError: The database could not be read.
        """
        query = sa.select(_InterviewRow).where(_InterviewRow.assessment_id == assessment_id)
        if accessor is not None:
            query = query.where(_InterviewRow.owner == accessor.owner)
        with self._transaction("reading an interview session") as session:
            row = session.scalars(query.limit(1)).first()
            if row is not None:
                self._log(session, accessor, "R", _INTERVIEW, row.id)
            return None if row is None else _interview_record(row)

    def delete_interview(self, interview_id: str, *, accessor: Accessor | None = None) -> bool:
        """Delete an interview session; return False when there was none (of ``accessor``'s).

        Raises:
            StoreError: The database refused the delete.
        """
        with self._transaction("deleting an interview session") as session:
            row = session.get(_InterviewRow, interview_id)
            allowed = row is not None and _owns(accessor, row.owner)
            self._log(session, accessor, "D", _INTERVIEW, interview_id, allowed=allowed)
            if row is None or not allowed:
                return False
            session.delete(row)
            return True

    # --- the access log ----------------------------------------------------------------------

    def access_log(self, *, limit: int = 1000, entity_id: str | None = None) -> list[AccessEvent]:
        """Return the latest rows of the access log, oldest first (those of one record if given).

        Raises:
            StoreError: The database could not be read.
        """
        query = sa.select(_AccessRow).order_by(_AccessRow.id.desc()).limit(limit)
        if entity_id is not None:
            query = query.where(_AccessRow.entity_id == entity_id)
        with self._transaction("reading the access log") as session:
            rows = list(session.scalars(query))
        return [_access_event(row) for row in reversed(rows)]

    def _log(
        self,
        session: orm.Session,
        accessor: Accessor | None,
        action: Action,
        entity_type: str,
        entity_id: str | None,
        *,
        allowed: bool = True,
    ) -> None:
        """Write one access, in the transaction of the access itself (nothing for unlogged callers)."""
        if accessor is None:
            return
        session.add(
            _AccessRow(
                recorded=self._clock(),
                action=action,
                agent_id=accessor.owner,
                agent_name=accessor.name,
                address=accessor.address,
                entity_type=entity_type,
                entity_id=entity_id,
                outcome=_SUCCESS if allowed else _REFUSED,
            )
        )

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[orm.Session]:
        """Run the block in one transaction: commit at the end, roll back on any error."""
        with _database_errors(doing), self._sessions.begin() as session:
            yield session


class OwnedStore:
    """A :class:`Store` as one :class:`Accessor` sees it: their records only, every access logged.

    It has the methods of :class:`InterviewStore` and of the session service's result store, so
    the interview service and the pages work on it unchanged. A record of someone else is
    answered exactly as a missing one (None, False, or "no such record"), so one user cannot
    even learn that another's record id exists; the refusal is in the access log.
    """

    def __init__(self, store: Store, accessor: Accessor) -> None:
        self.store = store
        self.accessor = accessor

    def save_assessment(
        self,
        *,
        case: Mapping[str, Any],
        result: Mapping[str, Any],
        mode: str,
        interview_id: str | None = None,
    ) -> AssessmentRecord:
        """Save an assessment as the accessor's (see :meth:`Store.save_assessment`)."""
        return self.store.save_assessment(
            case=case, result=result, mode=mode, interview_id=interview_id, accessor=self.accessor
        )

    def get_assessment(self, assessment_id: str) -> AssessmentRecord | None:
        """Return one of the accessor's assessments (any, for an admin), or None."""
        return self.store.get_assessment(assessment_id, accessor=self.accessor)

    def list_assessments(self, *, limit: int = 200, offset: int = 0) -> list[AssessmentRecord]:
        """Return the accessor's assessments (all, for an admin), newest first."""
        return self.store.list_assessments(limit=limit, offset=offset, accessor=self.accessor)

    def delete_assessment(self, assessment_id: str) -> bool:
        """Delete one of the accessor's assessments (any, for an admin)."""
        return self.store.delete_assessment(assessment_id, accessor=self.accessor)

    def create_interview(self, state: Mapping[str, Any]) -> InterviewRecord:
        """Start an interview session owned by the accessor."""
        return self.store.create_interview(state, accessor=self.accessor)

    def update_interview(self, interview_id: str, state: Mapping[str, Any]) -> InterviewRecord:
        """Replace the state of one of the accessor's sessions."""
        return self.store.update_interview(interview_id, state, accessor=self.accessor)

    def get_interview(self, interview_id: str) -> InterviewRecord | None:
        """Return one of the accessor's sessions, or None."""
        return self.store.get_interview(interview_id, accessor=self.accessor)

    def interview_of_assessment(self, assessment_id: str) -> InterviewRecord | None:
        """Return the accessor's session that an assessment finished, or None."""
        return self.store.interview_of_assessment(assessment_id, accessor=self.accessor)

    def delete_interview(self, interview_id: str) -> bool:
        """Delete one of the accessor's sessions."""
        return self.store.delete_interview(interview_id, accessor=self.accessor)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the schema of ``engine``'s database to the latest shipped migration (or to ``revision``).

    Every migration still to run, and the version stamp, run in one transaction: a crash (even
    ``kill -9``) or a refused statement leaves the database as it was, never a table without
    its version stamp, which the next start would try to create again. PostgreSQL's DDL is
    transactional as it stands. Python's SQLite driver opens a transaction only before a row is
    written and runs ``CREATE TABLE`` outside any, committing it at once; so on SQLite the
    driver's own transaction handling is switched off for this one connection and the
    transaction is opened explicitly (``BEGIN IMMEDIATE``: also the write lock, so two first
    starts at once run one after the other), as SQLAlchemy's documentation of the pysqlite
    driver advises for transactional DDL.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database refused a migration (callers
            translate it).
    """
    config = Config()
    config.set_main_option("script_location", str(resources.files("pinchpoint.service") / "migrations"))
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return
    with engine.connect() as connection, _explicit_transactions(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


@contextmanager
def _explicit_transactions(connection: sa.Connection) -> Iterator[None]:
    """Let the statements on a pysqlite connection open and close its transactions themselves."""
    driver = connection.connection.driver_connection
    before = driver.isolation_level  # type: ignore[union-attr]
    driver.isolation_level = None  # type: ignore[union-attr]
    try:
        yield
    finally:
        driver.isolation_level = before  # type: ignore[union-attr]


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every pooled connection would see its own empty database.
        return sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    _create_private_file(Path(url.database))
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _create_private_file(path: Path) -> None:
    """Create the SQLite file and its folder, readable and writable by the owner only.

    A file that exists already (made by an older version, copied, restored from a backup) is
    made private too, with SQLite's ``-wal`` and ``-shm`` files beside it: they hold the same
    health data. A file owned by another user is left as it is (only its owner may change it).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = file.stat()
        except FileNotFoundError:
            continue
        if status.st_mode & 0o077 and status.st_uid == os.geteuid():
            file.chmod(0o600)


@contextmanager
def _database_errors(doing: str) -> Iterator[None]:
    """Translate every error of SQLAlchemy, the driver, Alembic or the file system into StoreError.

    Raises:
        StoreError: Chained to the foreign error; the message names what was being done.
    """
    try:
        yield
    except PinchpointError:  # pinchpoint's own errors (a StoreError, an account refused) pass as they are
        raise
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            "the database driver is not installed",
            location=doing,
            expected="sqlite, or postgresql with psycopg installed (pip install 'pinchpoint[postgres]')",
            got=str(exc),
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            "the database URL is not valid",
            location=doing,
            expected="a SQLAlchemy URL such as sqlite:///path/to/pinchpoint.sqlite3 "
            "or postgresql+psycopg://user@host/dbname",
            got=str(exc),
        ) from exc
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise StoreError(
            f"the database failed: {type(exc).__name__}",
            location=doing,
            expected="a reachable, writable database",
            got=str(exc).splitlines()[0] if str(exc) else None,
            hint="check the --database URL, the file's permissions and the free disk space",
        ) from exc
    except Exception as exc:
        # Alembic raises its own CommandError and plain exceptions; nothing foreign escapes.
        raise StoreError(
            f"the database failed: {type(exc).__name__}",
            location=doing,
            expected="a database whose schema pinchpoint's migrations can manage",
            got=str(exc).splitlines()[0] if str(exc) else None,
        ) from exc


database_errors = _database_errors
"""Translate every foreign error of a database call into :class:`StoreError` (for the other store modules)."""


def _missing(kind: str, record_id: str) -> StoreError:
    return StoreError(
        f"there is no {kind} with this id", location=kind, expected="an existing id", got=record_id
    )


def _dumps(value: Mapping[str, Any], name: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"the {name} cannot be saved as JSON",
            location=name,
            expected="JSON values: text, numbers, true/false, lists and mappings",
            got=str(exc),
        ) from exc


def _assessment_record(row: _AssessmentRow) -> AssessmentRecord:
    return AssessmentRecord(
        id=row.id,
        created_at=_aware(row.created_at),
        mode=row.mode,
        triage=row.triage,
        knowledge_version=row.knowledge_version,
        case=json.loads(row.case_json),
        result=json.loads(row.result_json),
        owner=row.owner,
    )


def _interview_record(row: _InterviewRow) -> InterviewRecord:
    return InterviewRecord(
        id=row.id,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        state=json.loads(row.state_json),
        assessment_id=row.assessment_id,
        owner=row.owner,
    )


def _access_event(row: _AccessRow) -> AccessEvent:
    return AccessEvent(
        recorded=_aware(row.recorded),
        action=row.action,
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        address=row.address,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        outcome=row.outcome,
    )


_ASSESSMENT = "assessment"
_INTERVIEW = "interview_session"


def _owner(accessor: Accessor | None) -> str:
    return LOCAL_OWNER if accessor is None else accessor.owner


def _owns(accessor: Accessor | None, owner: str) -> bool:
    """Whether ``accessor`` owns a record of ``owner`` (an unscoped caller owns every record)."""
    return accessor is None or accessor.owner == owner


def _reads(accessor: Accessor | None, owner: str) -> bool:
    """Whether ``accessor`` may read or delete an assessment of ``owner``: their own, or any for an admin."""
    return accessor is None or accessor.reads_all or accessor.owner == owner


def _aware(moment: datetime) -> datetime:
    # SQLite keeps no time zone; every time the store writes is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _redacted(url: str) -> str:
    """Return the URL with any password hidden, for error messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return repr(url)
