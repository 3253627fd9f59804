"""The record of every read of protected data: who read what about which case, when, through
which route, and why. Health data and partner payloads are recorded; so is an identity-code
lookup (in the client register's own `register_reads`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore

from casework.domain.commands import Actor

What = Literal["health", "partner_payload"]

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
"""


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
