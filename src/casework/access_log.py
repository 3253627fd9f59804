"""The record of every read of protected data: who read what about which case, when, through
which route, and why. Health data and partner payloads are recorded here, and so is a read of a
case its reader had to give a reason for; an identity-code lookup is recorded in the client
register's own `register_reads`. The access report reads both."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from eventsourcing.postgres import PostgresDatastore

from casework.domain.commands import Actor
from casework.paging import decode_cursor, encode_cursor

What = Literal["health", "partner_payload", "case"]
"""What a read showed: health data, a partner's payload, or a case without either."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS access_log (
    id bigserial PRIMARY KEY,
    read_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    case_id uuid NOT NULL,
    what text NOT NULL,
    route text NOT NULL,
    reason text
);
CREATE INDEX IF NOT EXISTS access_log_by_case ON access_log (case_id, read_at);
CREATE INDEX IF NOT EXISTS access_log_by_actor ON access_log (actor_id, read_at);
CREATE INDEX IF NOT EXISTS access_log_by_time ON access_log (read_at);
"""

# Both records as one: a register read names the client, so it is shown on each of its cases.
# `source` and `id` make the order total; a lookup of a code with no case has the nil case key.
_READS = """
SELECT * FROM (
    SELECT read_at, 0 AS source, id, case_id, coalesce(case_id, %(nil)s) AS case_key,
           actor_id, actor_role, what, route, reason
    FROM access_log
    UNION ALL
    SELECT r.read_at, 1, r.id, c.case_id, coalesce(c.case_id, %(nil)s),
           r.actor_id, r.actor_role, 'identity_code', r.purpose, r.reason
    FROM register_reads r LEFT JOIN client_cases c ON c.client_id = r.client_id
) AS reads
"""
_NIL = UUID(int=0)
_Position = tuple[Annotated[datetime, msgspec.Meta(tz=True)], int, int, UUID]
"""Where a page ended: the last read's time, source, id and case."""


class ActorRef(msgspec.Struct, frozen=True):
    id: str
    role: str


class AccessRecord(msgspec.Struct, frozen=True):
    """One read in the access report."""

    read_at: datetime
    actor: ActorRef
    case_id: UUID | None
    """None for a lookup of an identity code that has no case."""
    what: Literal["health", "partner_payload", "case", "identity_code"]
    route: str
    """The API operation (an identity-code lookup: the operation or task that looked)."""
    reason: str | None


class AccessPage(msgspec.Struct, frozen=True):
    items: list[AccessRecord]
    next: str | None


class AccessLog:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    def record(
        self,
        actor: Actor,
        case_ids: Iterable[UUID],
        what: What,
        route: str,
        reason: str | None = None,
    ) -> None:
        """One row per case read, in one transaction: `route` is the API operation's id."""
        rows = [(actor.id, actor.role, case_id, what, route, reason) for case_id in case_ids]
        if not rows:
            return
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(
                "INSERT INTO access_log (actor_id, actor_role, case_id, what, route, reason)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )

    def report(
        self,
        *,
        case_id: UUID | None = None,
        actor_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AccessPage:
        """The reads of protected data, newest first, from `start` up to (not including) `end`,
        of one case or by one reader if asked; keyset-paged."""
        where, params = ["true"], {"nil": _NIL, "limit": limit + 1}
        for condition, name, value in (
            ("case_id = %(case)s", "case", case_id),
            ("actor_id = %(actor)s", "actor", actor_id),
            ("read_at >= %(start)s", "start", start),
            ("read_at < %(end)s", "end", end),
        ):
            if value is not None:
                where.append(condition)
                params[name] = value
        if cursor:
            where.append("(read_at, source, id, case_key) < (%(at)s, %(source)s, %(id)s, %(key)s)")
            at, source, id_, key = decode_cursor(cursor, _Position)
            params |= {"at": at, "source": source, "id": id_, "key": key}
        query = (
            _READS + " WHERE " + " AND ".join(where) +
            " ORDER BY read_at DESC, source DESC, id DESC, case_key DESC LIMIT %(limit)s"
        )  # fmt: skip
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(query, params)
            rows = curs.fetchall()
        items = [
            AccessRecord(
                r["read_at"], ActorRef(r["actor_id"], r["actor_role"]), r["case_id"], r["what"],
                r["route"], r["reason"],
            )
            for r in rows[:limit]
        ]  # fmt: skip
        last = rows[limit - 1] if len(rows) > limit else None
        position = [last["read_at"], last["source"], last["id"], last["case_key"]] if last else None
        return AccessPage(items, encode_cursor(position) if position else None)
