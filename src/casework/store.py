"""How events are stored: sealed fields, a hash chain, and side records in the same transaction.

- `CaseworkMapper` seals the fields an event class names in `protected` with the client's key
  (AES-GCM, the field's place as associated data) and opens them on the way back; a field whose key
  was destroyed comes back as `{"withheld": "erased"}`.
- `ChainedEventStore` writes into each stored event the HMAC of its predecessor's stored bytes,
  under a key derived from the master key (never in the database), so the chain is over what is
  on disk (it survives upcasting and the destruction of a key) and only this service can extend it.
- `CaseworkRecorder` writes idempotency records, the case register and chain heads in the very
  transaction that inserts the events, so a command is recorded whole or not at all. The bulk
  import writes new cases with COPY instead (`put_new`): the same rows, in notification order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import msgspec
import psycopg
from cryptography.exceptions import InvalidTag
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    EventStore,
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    Notification,
    OperationalError,
    Recording,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic, resolve_topic, retry

from casework.domain.events import CaseOpened, EventMeta
from casework.domain.state import CaseState
from casework.keys import KeyRing, seal, unseal

GENESIS = "0" * 64
ERASED = {"withheld": "erased"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    request_digest bytea NOT NULL,
    response bytea,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
-- A key is claimed (response NULL) before its command runs; answered with its events.
ALTER TABLE idempotency_keys ALTER COLUMN response DROP NOT NULL;
CREATE TABLE IF NOT EXISTS chain_heads (
    originator_id uuid PRIMARY KEY,
    version bigint NOT NULL,
    hash text NOT NULL
);
"""


class Sealed(msgspec.Struct, frozen=True):
    blob: bytes


class SealedAsBase64(Transcoding):
    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> str:
        return base64.b64encode(obj.blob).decode()

    def decode(self, data: str) -> Sealed:
        return Sealed(base64.b64decode(data))


class StructAsDict(Transcoding):
    """Any msgspec Struct of ours, as a plain dict."""

    def __init__(self, struct: type[msgspec.Struct], name: str) -> None:
        self.type = struct
        self.name = name

    def encode(self, obj: msgspec.Struct) -> dict[str, Any]:
        return msgspec.to_builtins(obj)

    def decode(self, data: dict[str, Any]) -> msgspec.Struct:
        return msgspec.convert(data, self.type)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def casework_transcoder() -> JSONTranscoder:
    """The transcoder of stored events: eventsourcing's transcodings and ours."""
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    transcoder.register(SealedAsBase64())
    transcoder.register(DateAsISO())
    transcoder.register(StructAsDict(EventMeta, "event_meta"))
    transcoder.register(StructAsDict(CaseState, "case_state"))
    return transcoder


def chain_hash(stored: StoredEvent, key: bytes) -> str:
    """The keyed hash (HMAC-SHA256) of a stored event's bytes: id, version, topic and state
    exactly as written."""
    h = hmac.new(key, digestmod=hashlib.sha256)
    h.update(str(stored.originator_id).encode())
    h.update(stored.originator_version.to_bytes(8, "big"))
    h.update(stored.topic.encode())
    h.update(b"\x00")
    h.update(stored.state)
    return h.hexdigest()


class CaseworkMapper(Mapper[UUID]):
    keyring: KeyRing  # set by the application once the database is reachable

    def _client_key(self, originator_id: UUID, state: dict[str, Any], cls: type) -> bytes | None:
        if issubclass(cls, CaseOpened):
            self.keyring.remember_case(originator_id, UUID(state["client_id"]))
        return self.keyring.key(self.keyring.client_of(originator_id))

    def to_stored_event(self, domain_event: Any, prev_hash: str | None = None) -> StoredEvent:
        cls = type(domain_event)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        protected = [f for f in getattr(cls, "protected", ()) if state.get(f) is not None]
        if protected:
            key = self._client_key(originator_id, state, cls)
            assert key is not None, "cannot record personal data of an erased client"
            for field in protected:
                plaintext = self.transcoder.encode(state[field])
                state[field] = Sealed(seal(key, plaintext, f"{originator_id}:{field}"))
        if prev_hash is not None:
            state["prev_hash"] = prev_hash
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(cls),
            state=self.transcoder.encode(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        state: dict[str, Any] = self.transcoder.decode(stored_event.state)
        state.pop("prev_hash", None)
        sealed = [f for f, v in state.items() if isinstance(v, Sealed)]
        if sealed:
            key = self._client_key(stored_event.originator_id, state, cls)
            for field in sealed:
                state[field] = self._open(
                    key, state[field], f"{stored_event.originator_id}:{field}"
                )
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < getattr(cls, "class_version", 1):
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _open(self, key: bytes | None, value: Sealed, context: str) -> Any:
        if key is None:
            return ERASED
        try:
            return self.transcoder.decode(unseal(key, value.blob, context))
        except InvalidTag:
            # A sealed field moved or altered on disk: withhold it; `verify` names the row.
            return {"withheld": "tampered"}


EventRow = tuple[UUID, int, str, bytes]
"""A stored event as COPY writes it: originator id and version, topic, state."""


def event_row(stored: StoredEvent) -> EventRow:
    return (stored.originator_id, stored.originator_version, stored.topic, stored.state)


class ChainedEventStore(EventStore[UUID]):
    HEADS_CACHED = 10_000

    def __init__(self, mapper: Mapper[UUID], recorder: Any, chain_key: bytes) -> None:
        super().__init__(mapper, recorder)
        self.chain_key = chain_key
        # The newest hash this process wrote per aggregate, so a command needn't re-read it.
        self._heads: OrderedDict[UUID, tuple[int, str]] = OrderedDict()
        self._heads_lock = threading.Lock()

    def _head(self, originator_id: UUID, version: int) -> str:
        if version == 0:
            return GENESIS
        with self._heads_lock:
            cached = self._heads.get(originator_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = self.recorder.select_events(originator_id, gt=version - 1, lte=version)
        if not rows:
            raise LookupError(f"{originator_id} has no version {version} to chain onto")
        return chain_hash(rows[0], self.chain_key)

    def chained(
        self, domain_events: Sequence[Any]
    ) -> tuple[list[StoredEvent], dict[UUID, tuple[int, str]]]:
        """The events as stored, each carrying its predecessor's hash; the new head per case."""
        heads: dict[UUID, tuple[int, str]] = {}
        stored_events: list[StoredEvent] = []
        for event in domain_events:
            oid = event.originator_id
            prev = heads.get(oid)
            prev_hash = prev[1] if prev else self._head(oid, event.originator_version - 1)
            stored = self.mapper.to_stored_event(event, prev_hash=prev_hash)
            heads[oid] = (event.originator_version, chain_hash(stored, self.chain_key))
            stored_events.append(stored)
        return stored_events, heads

    def forget_stale_head(self, originator_id: UUID, version: int, hash_: str) -> None:
        """Forget the head this process wrote if the store's newest link is older or another:
        rows since removed (and the removal acknowledged)."""
        with self._heads_lock:
            cached = self._heads.get(originator_id)
            if cached and (cached[0] > version or (cached[0] == version and cached[1] != hash_)):
                del self._heads[originator_id]

    def _remember(self, heads: dict[UUID, tuple[int, str]]) -> None:
        with self._heads_lock:
            for oid, head in heads.items():
                self._heads[oid] = head
                self._heads.move_to_end(oid)
            while len(self._heads) > self.HEADS_CACHED:
                self._heads.popitem(last=False)

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        stored_events, heads = self.chained(domain_events)
        ids = self.recorder.insert_events(stored_events, chain_heads=heads, **kwargs) or []
        self._remember(heads)
        return [
            Recording(d, Notification(s.originator_id, s.originator_version, s.topic, s.state, n))
            for d, s, n in zip(domain_events, stored_events, ids, strict=True)
        ]

    def put_new(
        self, rows: Sequence[EventRow], heads: dict[UUID, tuple[int, str]], **side_records: Any
    ) -> None:
        """Store the events of new aggregates, mapped and chained by `chained` (in this process
        or another) and handed over as rows, with COPY in one transaction with the side records:
        the bulk import."""
        self.recorder.copy_new_events(rows, chain_heads=heads, **side_records)
        self._remember(heads)


class CaseworkRecorder(PostgresApplicationRecorder):
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert events and their side records in one transaction, statement by statement.

        eventsourcing pipelines these statements; with a parameter of a megabyte or so,
        psycopg 3.3's pipeline waited in `sync()` forever while holding the events table's lock,
        and every other writer queued behind it. Without the pipeline the same write takes
        milliseconds (bench B1 measures the cost of the extra round trips).
        """
        with self.datastore.transaction(commit=True) as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def copy_new_events(
        self,
        rows: Sequence[EventRow],
        *,
        chain_heads: dict[UUID, tuple[int, str]],
        new_clients: Sequence[tuple[UUID, bytes, bytes, bytes]] = (),
        cases: Sequence[tuple[UUID, UUID, bool]] = (),
        register_reads: Sequence[tuple[str, str, UUID, str]] = (),
    ) -> None:
        """Insert the events of new aggregates and their side records with COPY, in one
        transaction. A clash with stored rows (a version or client already there) is an
        IntegrityError and nothing is written."""
        copies: list[tuple[str, Sequence[tuple[Any, ...]]]] = [
            ("client_keys (client_id, wrapped)", [(c[0], c[1]) for c in new_clients]),
            ("clients (client_id, code_digest, code_sealed)",
             [(c[0], c[2], c[3]) for c in new_clients]),
            ("register_reads (actor_id, actor_role, client_id, purpose)", register_reads),
            ("client_cases (case_id, client_id, open)", cases),
            ("chain_heads (originator_id, version, hash)",
             [(oid, version, hash_) for oid, (version, hash_) in chain_heads.items()]),
        ]  # fmt: skip
        try:
            with self.datastore.transaction(commit=True) as curs:
                for table, records in copies:
                    self._copy(curs, table, records)
                # Notification ids must commit in the order they are issued, as in `put`.
                self._lock_table(curs)
                self._notify_channel(curs)
                table = f'"{self.datastore.schema}"."{self.events_table_name}"'
                self._copy(curs, f"{table} (originator_id, originator_version, topic, state)", rows)
        except psycopg.IntegrityError as error:
            raise IntegrityError(error) from error

    @staticmethod
    def _copy(curs: Any, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            with curs.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def _insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        chain_heads: dict[UUID, tuple[int, str]] | None = None,
        idempotency: tuple[str, str, bytes, bytes] | None = None,
        open_case: tuple[UUID, UUID] | None = None,
        close_case: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if idempotency is not None:
            # Answer our own claim, or claim and answer at once; a key answered already, or
            # claimed for another request, makes the whole write fail.
            curs.execute(
                "INSERT INTO idempotency_keys (scope, key, request_digest, response) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (scope, key) DO UPDATE "
                "SET response = EXCLUDED.response, recorded_at = now() "
                "WHERE idempotency_keys.response IS NULL "
                "AND idempotency_keys.request_digest = EXCLUDED.request_digest",
                idempotency,
            )
            if curs.rowcount != 1:
                raise IntegrityError(f"idempotency key {idempotency[1]!r} is taken")
        if open_case is not None:
            curs.execute(
                "INSERT INTO client_cases (case_id, client_id, open) VALUES (%s, %s, true)",
                open_case,
            )
        if close_case is not None:
            curs.execute("UPDATE client_cases SET open = false WHERE case_id = %s", (close_case,))
        for originator_id, (version, hash_) in (chain_heads or {}).items():
            curs.execute(
                "INSERT INTO chain_heads (originator_id, version, hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (originator_id) DO UPDATE "
                "SET version = EXCLUDED.version, hash = EXCLUDED.hash",
                (originator_id, version, hash_),
                prepare=True,
            )
