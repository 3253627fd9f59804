"""Partners' webhooks: where a partner's system wants to hear of its tasks, and what it was told.

A partner registers one endpoint. Its signing secret is generated at registration, shown once,
and kept sealed under a key derived from the master key, so a copy of the database cannot sign.
Each delivery is a POST of JSON naming the task and the kinds of change, never its values (the
partner then reads the task, and that read is recorded). The body is signed:

    Casework-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with its secret (the
whole `whsec_…` string, UTF-8), compares in constant time, and refuses an old timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.postgres import PostgresDatastore

from casework.domain.commands import Actor
from casework.keys import seal, unseal

SIGNATURE_HEADER = "Casework-Signature"
DELIVERY_HEADER = "Casework-Delivery"

SCHEMA = """
CREATE TABLE IF NOT EXISTS partner_webhooks (
    partner text PRIMARY KEY,
    url text NOT NULL,
    description text,
    secret_sealed bytea NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    registered_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id bigserial PRIMARY KEY,
    case_id uuid NOT NULL,
    handoff_id text NOT NULL,
    partner text NOT NULL,
    delivery text NOT NULL,
    changes jsonb NOT NULL,
    attempt integer NOT NULL,
    status_code integer,
    error text,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_task
    ON webhook_deliveries (case_id, handoff_id, id);
"""


class Endpoint(msgspec.Struct, frozen=True):
    partner: str
    url: str
    description: str | None
    registered_at: Any
    secret: str


class Attempt(msgspec.Struct, frozen=True):
    """One try at delivering one change to a partner's endpoint."""

    delivery: str
    changes: list[str]
    attempt: int
    status_code: int | None
    error: str | None
    attempted_at: Any

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signed_headers(secret: str, delivery: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        DELIVERY_HEADER: delivery,
    }


class PartnerWebhooks:
    def __init__(self, datastore: PostgresDatastore, key: bytes) -> None:
        self.datastore, self.key = datastore, key

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    def register(self, partner: str, url: str, description: str | None, actor: Actor) -> str:
        """Register (or replace) the partner's endpoint; the new secret, to be shown once."""
        secret = "whsec_" + secrets.token_urlsafe(32)
        sealed = seal(self.key, secret.encode(), f"webhook:{partner}")
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO partner_webhooks (partner, url, description, secret_sealed,"
                " registered_by) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (partner) DO UPDATE"
                " SET url = EXCLUDED.url, description = EXCLUDED.description,"
                " secret_sealed = EXCLUDED.secret_sealed, registered_at = now(),"
                " registered_by = EXCLUDED.registered_by",
                (partner, url, description, sealed, actor.id),
            )
        return secret

    def endpoint(self, partner: str) -> Endpoint | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT * FROM partner_webhooks WHERE partner = %s", (partner,))
            row = curs.fetchone()
        if row is None:
            return None
        secret = unseal(self.key, bytes(row["secret_sealed"]), f"webhook:{partner}").decode()
        return Endpoint(partner, row["url"], row["description"], row["registered_at"], secret)

    def remove(self, partner: str) -> bool:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM partner_webhooks WHERE partner = %s", (partner,))
            return curs.rowcount == 1

    def record(
        self, case_id: UUID, handoff_id: str, partner: str, delivery: str, changes: list[str],
        attempt: int, status_code: int | None, error: str | None,
    ) -> None:  # fmt: skip
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO webhook_deliveries (case_id, handoff_id, partner, delivery, changes,"
                " attempt, status_code, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (case_id, handoff_id, partner, delivery, msgspec.json.encode(changes).decode(),
                 attempt, status_code, error),
            )  # fmt: skip

    def attempts(self, case_id: UUID, handoff_id: str) -> list[Attempt]:
        """Every try at telling the partner of this task, oldest first."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT delivery, changes, attempt, status_code, error, attempted_at"
                " FROM webhook_deliveries WHERE case_id = %s AND handoff_id = %s ORDER BY id",
                (case_id, handoff_id),
            )
            return [Attempt(**row) for row in curs.fetchall()]
