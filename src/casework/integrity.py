"""Tamper evidence: the keyed chain checked against signed checkpoints; a break acknowledged.

The chain (store.py) shows whoever holds its key a row altered or removed. What it cannot show
alone is the newest rows removed with their head rolled back, since the head is in the same
database. So the service takes *checkpoints*: each signs the newest (version, hash) of every
aggregate whose events moved since the one before, and every version a checkpoint recorded must
stay there with the hash it had. Checkpoints are incremental (together they cover every
aggregate; a full copy of every head each minute would grow with the number of cases) and signed
twice: each case's entry on its own, so one case is checked by reading its own entries, and the
checkpoint over all its entries, so `casework audit verify` notices an entry removed.

A break, once found, is remembered (`chain_breaks`) and the case refuses writes until an admin
*acknowledges* it. The acknowledgement (who, when, why) is signed too and accepts the rows exactly
as they stood then: anything that changes after it is a new break.

Reads verify the whole chain; writes make the cheap check (`guard`): the remembered break, the
head against the newest row, the newest checkpoint against its row. README "Tamper evidence" has
the measured costs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
import structlog
from anyio import to_thread
from eventsourcing.persistence import StoredEvent

from casework.domain.commands import Actor
from casework.domain.errors import IllegalStep, IntegrityBroken, UnknownCase
from casework.store import GENESIS, chain_hash

if TYPE_CHECKING:
    from casework.application import CaseworkApp

CHECKPOINT_INTERVAL = 60.0
"""Seconds between the service's checkpoints: the newest events younger than this can be removed
without a trace by someone who can write to the database."""

log = structlog.get_logger("casework.integrity")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One checkpoint or acknowledgement at a time, across every process of the service.
_LOCK = 0x6377_6368

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS chain_checkpoint_ids;
CREATE TABLE IF NOT EXISTS chain_checkpoints (
    id bigint PRIMARY KEY,
    taken_at timestamptz NOT NULL,
    position bigint NOT NULL,
    heads integer NOT NULL,
    signature bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_checkpoint_heads (
    originator_id uuid NOT NULL,
    checkpoint_id bigint NOT NULL REFERENCES chain_checkpoints,
    version bigint NOT NULL,
    hash text NOT NULL,
    signature bytea NOT NULL,
    PRIMARY KEY (originator_id, checkpoint_id)
);
CREATE INDEX IF NOT EXISTS chain_checkpoint_heads_by_checkpoint
    ON chain_checkpoint_heads (checkpoint_id);
CREATE TABLE IF NOT EXISTS chain_breaks (
    originator_id uuid PRIMARY KEY,
    found_at timestamptz NOT NULL DEFAULT now(),
    first_broken_version bigint NOT NULL,
    problem text NOT NULL
);
CREATE TABLE IF NOT EXISTS chain_acknowledgements (
    originator_id uuid NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    reason text NOT NULL,
    first_broken_version bigint NOT NULL,
    problem text NOT NULL,
    checkpoint_id bigint NOT NULL,
    accepted bytea NOT NULL,
    signature bytea NOT NULL,
    PRIMARY KEY (originator_id, acknowledged_at)
);
"""

Finding = tuple[int, str]
"""A version and what is wrong with it."""


class Checkpoint(msgspec.Struct, frozen=True):
    id: int
    taken_at: datetime
    position: int  # the newest notification id it covers
    heads: int  # the aggregates whose newest link it records
    signature: str


class Acknowledgement(msgspec.Struct, frozen=True):
    """An admin's acceptance of a broken chain: who, when, why, and what was broken."""

    actor_id: str
    actor_role: str
    acknowledged_at: datetime
    reason: str
    first_broken_version: int
    problem: str


class Verification(msgspec.Struct, frozen=True):
    case_id: UUID
    intact: bool
    events: int
    first_broken_version: int | None = None
    problem: str | None = None
    acknowledged: Acknowledgement | None = None


class Link(msgspec.Struct, frozen=True):
    """A place in the chain: a version and its hash."""

    version: int
    hash: str


_ACKNOWLEDGEMENT = (
    "acknowledged_at", "actor_id", "actor_role", "reason", "first_broken_version", "problem",
    "checkpoint_id", "accepted", "signature",
)  # fmt: skip


@dataclass(frozen=True)
class _State:
    """What a check reads about a case besides its rows."""

    head: Link | None
    recorded: Finding | None
    acknowledgement: dict[str, Any] | None
    entry: dict[str, Any] | None  # the newest checkpoint entry since the acknowledgement
    newest: int  # the newest stored version, read with the head

    @property
    def since_checkpoint(self) -> int:
        """Checkpoints up to this one are superseded by the acknowledgement."""
        return self.acknowledgement["checkpoint_id"] if self.acknowledgement else 0

    @property
    def floor(self) -> Link:
        """The newest link the acknowledgement accepted, from which the chain is walked on."""
        accepted = _accepted(self.acknowledgement) if self.acknowledgement else []
        return accepted[-1] if accepted else Link(0, GENESIS)

    def acknowledged(self) -> Acknowledgement | None:
        ack = self.acknowledgement
        if ack is None:
            return None
        return Acknowledgement(
            ack["actor_id"], ack["actor_role"], ack["acknowledged_at"], ack["reason"],
            ack["first_broken_version"], ack["problem"],
        )  # fmt: skip


class _Recorded(msgspec.Struct):
    prev_hash: str | None = None


_recorded = msgspec.json.Decoder(_Recorded)


def recorded_prev_hash(stored: StoredEvent) -> str | None:
    """The predecessor hash a stored event carries (readable without any key)."""
    return _recorded.decode(stored.state).prev_hash


class Integrity:
    """Checkpoints, verification and acknowledgements over one application's event store."""

    def __init__(self, app: CaseworkApp, signing_key: bytes) -> None:
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.chain_key = app.chain_key
        self._signing_key = signing_key
        self._events = _table(app.recorder)
        self._snapshots = _table(app.snapshots.recorder) if app.snapshots else None

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    # Checkpoints

    def checkpoint(self, wait: bool = False) -> Checkpoint | None:
        """Sign the newest link of every aggregate whose events moved since the last checkpoint.
        None when nothing moved, or (unless asked to wait) another process is taking one."""
        taken_at = datetime.now(UTC)
        with self.datastore.transaction(commit=True) as curs:
            # One snapshot for the position and the heads it covers.
            curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            if wait:
                curs.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            else:
                curs.execute("SELECT pg_try_advisory_xact_lock(%s) AS locked", (_LOCK,))
                if not curs.fetchone()["locked"]:
                    return None
            curs.execute("SELECT max(position) AS position FROM chain_checkpoints")
            since = curs.fetchone()["position"]
            curs.execute(f"SELECT coalesce(max(notification_id), 0) AS n FROM {self._events}")
            position = curs.fetchone()["n"]
            curs.execute(
                "SELECT originator_id, version, hash FROM chain_heads WHERE originator_id IN "
                f"(SELECT originator_id FROM {self._events} WHERE notification_id > %s) "
                "ORDER BY originator_id",
                (since or 0,),
            )
            heads = curs.fetchall()
            if not heads:
                return None
            curs.execute("SELECT nextval('chain_checkpoint_ids') AS id")
            number = curs.fetchone()["id"]
            entries = [
                (h["originator_id"], number, h["version"], h["hash"],
                 self._sign("head", number, h["originator_id"], h["version"], h["hash"]))
                for h in heads
            ]  # fmt: skip
            signature = self._checkpoint_signature(number, taken_at, position, entries)
            curs.execute(
                "INSERT INTO chain_checkpoints (id, taken_at, position, heads, signature) "
                "VALUES (%s, %s, %s, %s, %s)",
                (number, taken_at, position, len(entries), signature),
            )
            with curs.copy(
                "COPY chain_checkpoint_heads "
                "(originator_id, checkpoint_id, version, hash, signature) FROM STDIN"
            ) as copy:
                for entry in entries:
                    copy.write_row(entry)
        return Checkpoint(number, taken_at, position, len(entries), signature.hex())

    def altered_checkpoints(self) -> list[tuple[int, str]]:
        """Every checkpoint not as this service signed it, with the problem: an entry altered,
        or one added or removed (which the check of one case cannot see)."""
        problems = []
        with self.datastore.get_connection() as conn:
            checkpoints = conn.execute("SELECT * FROM chain_checkpoints ORDER BY id").fetchall()
            for checkpoint in checkpoints:
                number = checkpoint["id"]
                entries = conn.execute(
                    "SELECT originator_id, checkpoint_id, version, hash, signature "
                    "FROM chain_checkpoint_heads WHERE checkpoint_id = %s ORDER BY originator_id",
                    (number,),
                ).fetchall()
                entries = [tuple(row.values()) for row in entries]
                expected = self._checkpoint_signature(
                    number, checkpoint["taken_at"], checkpoint["position"], entries
                )
                if not hmac.compare_digest(bytes(checkpoint["signature"]), expected) or any(
                    not self._signed(e[4], "head", number, e[0], e[2], e[3]) for e in entries
                ):
                    name = _name(number, checkpoint["taken_at"])
                    problems.append((number, f"{name} is not as this service signed it:"
                                     " an entry altered, added or removed"))  # fmt: skip
        return problems

    def _checkpoint_signature(
        self, number: int, taken_at: datetime, position: int, entries: Sequence[Sequence[Any]]
    ) -> bytes:
        entries_digest = hashlib.sha256(b"".join(bytes(e[-1]) for e in entries)).hexdigest()
        return self._sign(
            "checkpoint", number, _micros(taken_at), position, len(entries), entries_digest
        )

    # Verification

    def aggregate_ids(self) -> list[UUID]:
        """Every aggregate with a head or a checkpoint entry: also one whose rows, head and
        register entry were all removed."""
        with self.datastore.get_connection() as conn:
            rows = conn.execute(
                "SELECT originator_id FROM chain_heads UNION "
                "SELECT originator_id FROM chain_checkpoint_heads ORDER BY originator_id"
            ).fetchall()
        return [row["originator_id"] for row in rows]

    def verify(self, case_id: UUID) -> Verification:
        """The whole chain, from the first event (or the last acknowledgement) to the head,
        against every checkpoint that recorded the case. A break found is remembered."""
        with self.datastore.get_connection() as conn:
            # Rows last: a write meanwhile leaves rows beyond what was read before, never fewer.
            state = self._state(conn, case_id)
            entries = conn.execute(
                "SELECT e.checkpoint_id, e.version, e.hash, e.signature, c.taken_at "
                "FROM chain_checkpoint_heads e JOIN chain_checkpoints c ON c.id = e.checkpoint_id "
                "WHERE e.originator_id = %s AND e.checkpoint_id > %s ORDER BY e.checkpoint_id",
                (case_id, state.since_checkpoint),
            ).fetchall()
            rows = self._rows(conn, "originator_id = %s", case_id)
        if not rows and state.head is None and not entries:
            raise UnknownCase(case_id)
        hashes = {r.originator_version: chain_hash(r, self.chain_key) for r in rows}
        found = self._against_acknowledgement(case_id, state.acknowledgement, hashes)
        if not found:
            floor = state.floor
            found = _walk([r for r in rows if r.originator_version > floor.version], floor, hashes)
        for entry in entries:
            found += self._against_checkpoint(case_id, entry, hashes)
        found += _against_head(state, rows, hashes)
        if state.recorded is None and found:
            self._remember(case_id, min(found))
        elif state.recorded is not None:
            found.append(state.recorded)  # found before (perhaps undone since): to acknowledge
        shown = state.acknowledged()
        if not found:
            return Verification(case_id, True, len(rows), acknowledged=shown)
        version, problem = min(found)
        return Verification(case_id, False, len(rows), version, problem, shown)

    def guard(self, case_id: UUID) -> Link:
        """The check before a write, in two index reads: a remembered break, the head against
        its row, the newest checkpoint since any acknowledgement against its row. IntegrityBroken
        if one fails; else the head (GENESIS for a new case)."""
        with self.datastore.get_connection() as conn:
            state = self._state(conn, case_id)
            wanted = [state.floor.version, state.newest]
            wanted += [state.head.version] if state.head else []
            wanted += [state.entry["version"]] if state.entry else []
            rows = self._rows(conn, "originator_id = %s AND originator_version = ANY(%s)",
                              case_id, wanted)  # fmt: skip
        if state.recorded is not None:
            raise IntegrityBroken(*state.recorded)
        hashes = {r.originator_version: chain_hash(r, self.chain_key) for r in rows}
        found = self._against_acknowledgement(
            case_id, state.acknowledgement, hashes, floor_only=True
        )
        found += _against_head(state, rows, hashes)
        if state.entry is not None:
            found += self._against_checkpoint(case_id, state.entry, hashes)
        if found:
            self._remember(case_id, min(found))
            raise IntegrityBroken(*min(found))
        return state.head or Link(0, GENESIS)

    def _state(self, conn: Any, case_id: UUID) -> _State:
        """In one read: the case's head, its remembered break, its newest acknowledgement and
        the newest checkpoint entry since."""
        row = conn.execute(
            "SELECT h.version AS head_version, h.hash AS head_hash, "
            "b.first_broken_version AS broken_version, b.problem AS broken_problem, a.*, "
            "e.checkpoint_id AS entry_checkpoint_id, e.version AS entry_version, "
            "e.hash AS entry_hash, e.signature AS entry_signature, e.taken_at AS entry_taken_at, "
            f"(SELECT max(originator_version) FROM {self._events} WHERE originator_id = k.id) "
            "AS newest FROM (SELECT %s::uuid AS id) k "
            "LEFT JOIN chain_heads h ON h.originator_id = k.id "
            "LEFT JOIN chain_breaks b ON b.originator_id = k.id "
            "LEFT JOIN LATERAL (SELECT * FROM chain_acknowledgements WHERE originator_id = k.id "
            "    ORDER BY acknowledged_at DESC LIMIT 1) a ON true "
            "LEFT JOIN LATERAL (SELECT e.*, c.taken_at FROM chain_checkpoint_heads e "
            "    JOIN chain_checkpoints c ON c.id = e.checkpoint_id "
            "    WHERE e.originator_id = k.id AND e.checkpoint_id > coalesce(a.checkpoint_id, 0) "
            "    ORDER BY e.checkpoint_id DESC LIMIT 1) e ON true",
            (case_id,),
        ).fetchone()
        entry = {k.removeprefix("entry_"): v for k, v in row.items() if k.startswith("entry_")}
        head = row["head_version"], row["head_hash"]
        return _State(
            Link(*head) if head[0] is not None else None,
            (row["broken_version"], row["broken_problem"]) if row["broken_problem"] else None,
            {k: row[k] for k in _ACKNOWLEDGEMENT} if row["acknowledged_at"] else None,
            entry if entry["checkpoint_id"] is not None else None,
            row["newest"] or 0,
        )

    def _rows(self, conn: Any, where: str, *params: object) -> list[StoredEvent]:
        found = conn.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {self._events} "
            f"WHERE {where} ORDER BY originator_version",
            params,
        ).fetchall()
        return [
            StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
            for r in found
        ]

    def _remember(self, case_id: UUID, finding: Finding) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO chain_breaks (originator_id, first_broken_version, problem) "
                "VALUES (%s, %s, %s) ON CONFLICT (originator_id) DO NOTHING",
                (case_id, *finding),
            )

    def _against_checkpoint(
        self, case_id: UUID, entry: dict[str, Any], hashes: dict[int, str]
    ) -> list[Finding]:
        number, version = entry["checkpoint_id"], entry["version"]
        which = _name(number, entry["taken_at"])
        if not self._signed(entry["signature"], "head", number, case_id, version, entry["hash"]):
            return [(version, f"{which} was altered: its entry is not signed by this service")]
        if version not in hashes:
            return [(version, f"version {version} is missing, though {which} recorded it")]
        if hashes[version] != entry["hash"]:
            return [(version, f"version {version} is not the one {which} recorded")]
        return []

    def _against_acknowledgement(
        self,
        case_id: UUID,
        acknowledgement: dict[str, Any] | None,
        hashes: dict[int, str],
        floor_only: bool = False,
    ) -> list[Finding]:
        """The rows an acknowledgement accepted, unchanged (on a write, only the newest)."""
        if acknowledgement is None:
            return []
        parts = self._acknowledgement_parts(case_id, acknowledgement)
        if not self._signed(acknowledgement["signature"], *parts):
            version = acknowledgement["first_broken_version"]
            return [(version, "the acknowledgement of this case is not signed by this service")]
        accepted = _accepted(acknowledgement)
        floor = accepted[-1].version if accepted else 0
        current = [Link(v, h) for v, h in sorted(hashes.items()) if v <= floor]
        if floor_only:
            accepted, current = accepted[-1:], [link for link in current if link.version == floor]
        for then, now in zip_longest(accepted, current):
            if then != now:
                version = min(link.version for link in (then, now) if link is not None)
                return [(version, f"version {version} changed after the break was acknowledged")]
        return []

    # Acknowledgements

    def acknowledge(self, case_id: UUID, actor: Actor, reason: str) -> Verification:
        """Accept the case's rows as they stand, so writes go through again; recorded with who,
        when and why. The head is set to the newest stored row and snapshots beyond it dropped:
        a removed row left them behind."""
        found = self.verify(case_id)
        if found.intact:
            raise IllegalStep("the case's history verifies: there is nothing to acknowledge")
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            rows = self._rows(curs, "originator_id = %s", case_id)
            accepted = [Link(r.originator_version, chain_hash(r, self.chain_key)) for r in rows]
            newest = accepted[-1] if accepted else Link(0, GENESIS)
            curs.execute("SELECT coalesce(max(id), 0) AS id FROM chain_checkpoints")
            ack = {
                "originator_id": case_id, "acknowledged_at": datetime.now(UTC),
                "actor_id": actor.id, "actor_role": actor.role, "reason": reason,
                "first_broken_version": found.first_broken_version, "problem": found.problem,
                "checkpoint_id": curs.fetchone()["id"], "accepted": msgspec.json.encode(accepted),
            }  # fmt: skip
            ack["signature"] = self._sign(*self._acknowledgement_parts(case_id, ack))
            curs.execute(
                f"INSERT INTO chain_acknowledgements ({', '.join(ack)}) "
                f"VALUES ({', '.join(['%s'] * len(ack))})",
                tuple(ack.values()),
            )
            curs.execute("DELETE FROM chain_breaks WHERE originator_id = %s", (case_id,))
            curs.execute(
                "INSERT INTO chain_heads (originator_id, version, hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (originator_id) DO UPDATE "
                "SET version = EXCLUDED.version, hash = EXCLUDED.hash",
                (case_id, newest.version, newest.hash),
            )
            if self._snapshots:
                curs.execute(
                    f"DELETE FROM {self._snapshots} "
                    "WHERE originator_id = %s AND originator_version > %s",
                    (case_id, newest.version),
                )
        return self.verify(case_id)

    def _acknowledgement_parts(self, case_id: UUID, ack: dict[str, Any]) -> tuple[object, ...]:
        return (
            "acknowledgement", case_id, _micros(ack["acknowledged_at"]), ack["actor_id"],
            ack["actor_role"], ack["reason"], ack["first_broken_version"], ack["problem"],
            ack["checkpoint_id"], hashlib.sha256(bytes(ack["accepted"])).hexdigest(),
        )  # fmt: skip

    # Signatures

    def _sign(self, *parts: object) -> bytes:
        return hmac.new(self._signing_key, msgspec.json.encode(parts), hashlib.sha256).digest()

    def _signed(self, signature: bytes, *parts: object) -> bool:
        return hmac.compare_digest(bytes(signature), self._sign(*parts))


def _walk(rows: list[StoredEvent], floor: Link, hashes: dict[int, str]) -> list[Finding]:
    """Each row in turn from just above `floor`: the next version, recording the hash of the one
    before."""
    expected_prev, expected_version = floor.hash, floor.version + 1
    for stored in rows:
        version = stored.originator_version
        if version != expected_version:
            return [(expected_version, f"version {expected_version} is missing")]
        recorded = recorded_prev_hash(stored)
        if recorded != expected_prev:
            if version - 1 <= floor.version:  # the predecessor is accepted: this row changed
                return [(version, f"version {version} does not record its predecessor's hash")]
            # The predecessor's bytes no longer hash to what this row recorded.
            before = next(r for r in rows if r.originator_version == version - 1)
            problem = f"version {version - 1} does not match the hash recorded after it"
            return [(version - 1, problem + _unkeyed_note(before, recorded))]
        expected_prev, expected_version = hashes[version], version + 1
    return []


def _against_head(state: _State, rows: list[StoredEvent], hashes: dict[int, str]) -> list[Finding]:
    """The head names the newest stored row (as read with it), with its hash."""
    head, newest = state.head, state.newest
    if head is None:
        return [(newest, f"version {newest} has no recorded head")] if newest else []
    if head.version > newest:
        return [(newest + 1, f"versions after {newest} are missing")]
    if head.version < newest:
        return [(head.version + 1, f"versions after {head.version} are beyond the recorded head")]
    if hashes.get(head.version) != head.hash:
        problem = f"version {head.version} does not match the recorded head"
        stored = next((r for r in rows if r.originator_version == head.version), None)
        return [(head.version, problem + _unkeyed_note(stored, head.hash))]
    return []


def _unkeyed_note(stored: StoredEvent | None, recorded: str | None) -> str:
    """A word on rows chained the way releases before keyed chains did (unkeyed SHA-256)."""
    if stored is None:
        return ""
    h = hashlib.sha256()
    for part in (str(stored.originator_id).encode(), stored.originator_version.to_bytes(8, "big"),
                 stored.topic.encode(), b"\x00", stored.state):  # fmt: skip
        h.update(part)
    if recorded != h.hexdigest():
        return ""
    return (
        ": it records the unkeyed SHA-256 that releases before keyed chains wrote"
        " (rows written by those, or recomputed by someone without the key)"
    )


def _accepted(ack: dict[str, Any]) -> list[Link]:
    return msgspec.json.decode(ack["accepted"], type=list[Link])


def _name(number: int, taken_at: datetime) -> str:
    return f"checkpoint #{number} of {taken_at:%Y-%m-%d %H:%M:%S}"


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _table(recorder: Any) -> str:
    schema = recorder.datastore.schema
    return f'"{schema}"."{recorder.events_table_name}"' if schema else recorder.events_table_name


async def checkpoint_periodically(app: CaseworkApp, interval: float = CHECKPOINT_INTERVAL) -> None:
    """Take a checkpoint now and every `interval` seconds until cancelled. Each is logged with
    its signature: a copy of the log outside the database shows a checkpoint deleted."""
    while True:
        try:
            taken = await to_thread.run_sync(app.integrity.checkpoint)
        except Exception as error:  # PostgreSQL away, say: try again at the next interval
            log.warning("checkpoint failed", error=type(error).__name__)
        else:
            if taken is not None:
                log.info("checkpoint", id=taken.id, position=taken.position, heads=taken.heads,
                         signature=taken.signature)  # fmt: skip
        await asyncio.sleep(interval)
