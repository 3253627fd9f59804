"""The record of every read of health data: who, which case, what, and when."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.postgres import PostgresDatastore

from casework.domain.commands import Actor

SCHEMA = """
CREATE TABLE IF NOT EXISTS health_reads (
    id bigserial PRIMARY KEY,
    read_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    case_id uuid NOT NULL,
    what text NOT NULL
);
"""


class AccessLog:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    def record_health_read(self, actor: Actor, case_id: UUID, what: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO health_reads (actor_id, actor_role, case_id, what) "
                "VALUES (%s, %s, %s, %s)",
                (actor.id, actor.role, case_id, what),
            )
