"""The eventsourcing Application: commands in, events stored, the past read back.

A thin façade: load the aggregate, let it decide, save what it recorded — together with the
idempotency record and the case register, in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic

from casework.access_log import AccessLog
from casework.db import Database
from casework.domain import commands as c
from casework.domain import rules, timeline
from casework.domain.case import ClientCase
from casework.domain.employer import Employer
from casework.domain.errors import (
    IdempotencyKeyReused,
    NotFound,
    OpenCaseExists,
    StaleVersion,
    UnknownCase,
    UnknownVersion,
    ValidationFailed,
)
from casework.domain.events import CaseClosed, created_items
from casework.domain.state import CaseState
from casework.integrity import Integrity
from casework.keys import KeyRing, derive_key
from casework.partner_tasks import TaskIds
from casework.register import ClientRegister
from casework.store import (
    SCHEMA,
    CaseworkMapper,
    CaseworkRecorder,
    ChainedEventStore,
    casework_transcoder,
)
from casework.webhooks import PartnerWebhooks

SNAPSHOT_INTERVAL = 50
CONFLICT_ATTEMPTS = 5


class CommandResult(msgspec.Struct, frozen=True):
    """What a command did: the case's new version, the events it recorded and the items they
    created, by kind (`{"handoff": "handoff-16"}`)."""

    case_id: UUID
    version: int
    events: list[str]
    replayed: bool = False
    created: dict[str, str] = {}


class CaseworkApp(Application[UUID]):
    name = "casework"
    snapshotting_intervals = {ClientCase: SNAPSHOT_INTERVAL}
    env = {
        "APPLICATION_RECORDER_TOPIC": get_topic(CaseworkRecorder),
        "AGGREGATE_CACHE_MAXSIZE": "2000",
        # Fail within seconds when PostgreSQL is away: the API answers 503, never hangs.
        "POSTGRES_CONNECT_TIMEOUT": "5",
    }

    def __init__(self, database: Database, master_key: bytes, **env: str) -> None:
        # Needed by the event store, which the base class builds; never stored anywhere.
        self.chain_key = derive_key(master_key, "event-chain")
        super().__init__(env=database.eventsourcing_env() | env)
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        self.keyring = KeyRing(datastore, master_key)
        self.integrity = Integrity(self, derive_key(master_key, "chain-checkpoints"))
        self.mapper.keyring = self.keyring  # type: ignore[attr-defined]
        self.clients = ClientRegister(self.keyring)
        self.access = AccessLog(datastore)
        self.tasks = TaskIds.from_master_key(master_key)
        self.webhooks = PartnerWebhooks(datastore, derive_key(master_key, "partner-webhooks"))
        self.keyring.create_schema()
        self.clients.create_schema()
        self.access.create_schema()
        self.webhooks.create_schema()
        with datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)
        self.integrity.create_schema()

    def construct_mapper(self) -> CaseworkMapper:
        return CaseworkMapper(transcoder=self.construct_transcoder())

    def construct_transcoder(self) -> JSONTranscoder:
        return casework_transcoder()

    def construct_event_store(self) -> ChainedEventStore:
        return ChainedEventStore(self.mapper, self.recorder, self.chain_key)

    @staticmethod
    def context(
        actor: c.Actor, correlation_id: str | None = None, causation_id: str | None = None
    ) -> c.Context:
        """The context of a command arriving now."""
        return c.Context(
            actor=actor,
            recorded_at=datetime.now(UTC),
            correlation_id=correlation_id or uuid4().hex,
            causation_id=causation_id,
        )

    # Commands

    def open_case(
        self,
        cmd: c.OpenCase,
        ctx: c.Context,
        idempotency_key: str | None = None,
        case_id: UUID | None = None,
    ) -> CommandResult:
        """Open a programme case for the client with this identity code (registered if new)."""
        scope = open_case_scope(ctx.actor)
        digest = self.request_digest(cmd)
        if idempotency_key and (earlier := self._replay(scope, idempotency_key, digest)):
            return earlier
        # Judged before the client is registered: a refused opening leaves no trace.
        rules.check_open_case(cmd, ctx)
        client_id = self.clients.find_or_register(cmd.identity_code, ctx.actor)
        if existing := self.open_case_of(client_id):
            raise OpenCaseExists(existing)
        case = ClientCase.open(case_id or uuid4(), str(client_id), cmd, ctx)
        result = _result(case)
        try:
            self.save(
                case,
                open_case=(case.id, client_id),
                idempotency=_idempotency(scope, idempotency_key, digest, result),
            )
        except IntegrityError:
            if idempotency_key and (earlier := self._replay(scope, idempotency_key, digest)):
                return earlier
            if existing := self.open_case_of(client_id):
                raise OpenCaseExists(existing) from None
            raise
        return result

    def execute(
        self,
        case_id: UUID,
        cmd: c.Command,
        ctx: c.Context,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """Run a command on a case. Refused commands record nothing.

        With an expected version, a case that moved on is a StaleVersion. Without one, the command
        is judged against the current state: losing a race to another writer means trying again.
        """
        return self.execute_with_state(case_id, cmd, ctx, expected_version, idempotency_key)[0]

    def execute_with_state(
        self,
        case_id: UUID,
        cmd: c.Command,
        ctx: c.Context,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[CommandResult, CaseState]:
        """`execute`, also answering with the case's state after the command."""
        scope = case_scope(case_id)
        digest = self.request_digest(cmd)
        self._refuse_if_broken(case_id)
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            if idempotency_key and (earlier := self._replay(scope, idempotency_key, digest)):
                return earlier, self.get_case(case_id).state
            case = self.get_case(case_id)
            if expected_version is not None and case.version != expected_version:
                raise StaleVersion(expected_version, case.version)
            self._check_employer(cmd)
            case.execute(cmd, ctx)
            result = _result(case)
            closes = any(isinstance(e, CaseClosed) for e in case.pending_events)
            try:
                self.save(
                    case,
                    idempotency=_idempotency(scope, idempotency_key, digest, result),
                    close_case=case.id if closes else None,
                )
            except IntegrityError:
                # Another writer got there first (perhaps a retry of ours, with our key).
                if expected_version is not None or attempt == CONFLICT_ATTEMPTS:
                    if idempotency_key and (
                        earlier := self._replay(scope, idempotency_key, digest)
                    ):
                        return earlier, self.get_case(case_id).state
                    seen = result.version - len(result.events)
                    raise StaleVersion(seen, self.get_case(case_id).version) from None
                continue
            return result, case.state
        raise AssertionError("unreachable")

    def _check_employer(self, cmd: c.Command) -> None:
        """A match, job referral, subsidy application or employment names a registered
        employer, and a job referral a vacancy of theirs that is open. Checked here, before
        anything is written: the journey's rules do no I/O, so they cannot look it up."""
        employer_id: UUID | None = getattr(cmd, "employer_id", None)
        if employer_id is None:
            return
        employer = self.get_employer(employer_id)
        if employer is None:
            raise ValidationFailed.field("employer_id", "no employer registered with this id")
        if isinstance(cmd, c.MakeJobReferral):
            status = employer.vacancies.get(cmd.vacancy_id)
            if status is None:
                raise ValidationFailed.field(
                    "vacancy_id", "the employer has no vacancy with this id"
                )
            if status != "open":
                raise ValidationFailed.field("vacancy_id", f"the vacancy is {status}, not open")

    def _refuse_if_broken(self, case_id: UUID) -> None:
        """IntegrityBroken if the case fails the check before a write (integrity.py). A cached
        aggregate or head ahead of the store held rows since removed, and the removal was
        acknowledged (perhaps by another process): forget them."""
        newest = self.integrity.guard(case_id)
        cache = self.repository.cache
        with contextlib.suppress(KeyError):
            if cache is not None and cache.get(case_id).version > newest.version:
                cache.get(case_id, evict=True)
        self.events.forget_stale_head(case_id, newest.version, newest.hash)  # type: ignore[attr-defined]

    # Reads

    def get_case(self, case_id: UUID, version: int | None = None) -> ClientCase:
        """The case now, or at `version` (UnknownVersion beyond its last one)."""
        try:
            case: ClientCase = self.repository.get(case_id, version=version)
        except AggregateNotFoundError:
            raise UnknownCase(case_id) from None
        # The repository answers a version beyond the last with the last: not what was asked.
        if version is not None and case.version < version:
            raise UnknownVersion(case_id, version, case.version)
        return case

    def get_employer(self, employer_id: UUID) -> Employer | None:
        """The registered employer with this id, or None (an id of a case or a session too)."""
        try:
            employer = self.repository.get(employer_id)
        except AggregateNotFoundError:
            return None
        return employer if isinstance(employer, Employer) else None

    def case_at(
        self, case_id: UUID, known_at: datetime | None = None, effective_at: datetime | None = None
    ) -> tuple[CaseState, int]:
        """What the office knew at `known_at` (every event recorded by then; now if None) about
        the facts in effect at `effective_at` (all of them if None), and the newest version it
        knew. NotFound if the case had not been opened by then."""
        events = [self.mapper.to_domain_event(s) for s in self.recorder.select_events(case_id)]
        if not events:
            raise UnknownCase(case_id)
        known = timeline.recorded_by(events, known_at) if known_at is not None else events
        state = timeline.fold(known, effective_at)
        if state is not None:
            return state, known[-1].originator_version
        if known:
            raise NotFound(f"case {case_id} had not yet been opened at the effective_at asked for")
        raise NotFound(f"nothing had been recorded on case {case_id} by the time asked for")

    def stored_events(
        self, case_id: UUID, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """The case's events as stored, from version `after + 1` on (at most `limit`)."""
        return list(self.recorder.select_events(case_id, gt=after or None, limit=limit))

    def case_ids(self, open_only: bool = False) -> list[UUID]:
        """Every case in the register (or only the open ones)."""
        query = "SELECT case_id FROM client_cases" + (" WHERE open" if open_only else "")
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(query + " ORDER BY case_id")
            return [row["case_id"] for row in curs.fetchall()]

    def ping(self) -> None:
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute("SELECT 1")

    # Idempotency and the register

    def claim(self, scope: str, key: str, cmd: c.Command) -> CommandResult | None:
        """Claim an idempotency key for this command before it runs.

        The first caller claims it. A later caller with the same command gets the recorded
        result once there is one (None while the first is still running: sending the same
        command again is harmless, it is keyed all the way down); with another command, an
        IdempotencyKeyReused — so of two concurrent bodies under one key, one is refused.
        """
        digest = self.request_digest(cmd)
        with self.recorder.datastore.transaction(commit=True) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "INSERT INTO idempotency_keys (scope, key, request_digest) VALUES (%s, %s, %s) "
                "ON CONFLICT (scope, key) DO NOTHING",
                (scope, key, digest),
            )
            if curs.rowcount == 1:
                return None
        return self._replay(scope, key, digest)

    def release(self, scope: str, key: str, cmd: c.Command) -> None:
        """Give up a claim whose command was refused (nothing was written), so the key is free."""
        with self.recorder.datastore.transaction(commit=True) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "DELETE FROM idempotency_keys WHERE scope = %s AND key = %s"
                " AND request_digest = %s AND response IS NULL",
                (scope, key, self.request_digest(cmd)),
            )

    def _replay(self, scope: str, key: str, digest: bytes) -> CommandResult | None:
        """The recorded result under this key, marked as replayed; None if there is none yet."""
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "SELECT request_digest, response FROM idempotency_keys "
                "WHERE scope = %s AND key = %s",
                (scope, key),
            )
            row = curs.fetchone()
        if row is None:
            return None
        if bytes(row["request_digest"]) != digest:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different command"
            )
        if row["response"] is None:
            return None  # claimed, not yet answered
        result = msgspec.json.decode(row["response"], type=CommandResult)
        return msgspec.structs.replace(result, replayed=True)

    def request_digest(self, cmd: c.Command) -> bytes:
        """What identifies a request under an idempotency key: its command and body."""
        # Keyed, because an OpenCase body holds an identity code.
        return self.keyring.digest(cmd.name() + msgspec.json.encode(cmd).decode(), "request")

    def clients_with_open_cases(self, client_ids: Iterable[UUID]) -> set[UUID]:
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "SELECT client_id FROM client_cases WHERE client_id = ANY(%s) AND open",
                (list(client_ids),),
            )
            return {row["client_id"] for row in curs.fetchall()}

    def cases_of(self, client_id: UUID) -> list[UUID]:
        """Every case of a client, the open one first."""
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "SELECT case_id FROM client_cases WHERE client_id = %s ORDER BY open DESC, case_id",
                (client_id,),
            )
            return [row["case_id"] for row in curs.fetchall()]

    def open_case_of(self, client_id: UUID) -> UUID | None:
        """The client's open case, if any."""
        with self.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
            curs.execute(
                "SELECT case_id FROM client_cases WHERE client_id = %s AND open", (client_id,)
            )
            row = curs.fetchone()
        return row["case_id"] if row else None


def case_scope(case_id: UUID) -> str:
    """Idempotency keys of case commands are scoped to the case."""
    return f"case:{case_id}"


def open_case_scope(actor: c.Actor) -> str:
    """Idempotency keys of openings are scoped to the caller."""
    return f"open_case:{actor.id}"


def _result(case: ClientCase) -> CommandResult:
    """What the case's pending events do: its new version, their names, the items they create."""
    pending = case.pending_events
    names = [type(e).__name__ for e in pending]
    return CommandResult(case.id, case.version, names, created=created_items(pending))


def _idempotency(
    scope: str, key: str | None, digest: bytes, result: CommandResult
) -> tuple[str, str, bytes, bytes] | None:
    if key is None:
        return None
    return (scope, key, digest, msgspec.json.encode(result))
