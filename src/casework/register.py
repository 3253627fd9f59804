"""The client register: personal identity code ↔ pseudonymous client id.

Events know a client only by the pseudonymous id. The code itself is kept sealed with the client's
key, found by a keyed digest, and every read of the register is recorded with who read and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from casework.domain.commands import Actor
from casework.domain.errors import DuplicateClient, UnknownClient
from casework.domain.identity import normalise_identity_code
from casework.keys import KeyRing, seal, unseal

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id uuid PRIMARY KEY REFERENCES client_keys,
    code_digest bytea NOT NULL UNIQUE,
    code_sealed bytea NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS register_reads (
    id bigserial PRIMARY KEY,
    read_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    client_id uuid,
    purpose text NOT NULL
);
-- Added with the access report: what the reader said of why (a development data dir may lack it).
ALTER TABLE register_reads ADD COLUMN IF NOT EXISTS reason text;
CREATE INDEX IF NOT EXISTS register_reads_by_client ON register_reads (client_id, read_at);
CREATE INDEX IF NOT EXISTS register_reads_by_actor ON register_reads (actor_id, read_at);
"""


class NewClient(NamedTuple):
    client_id: UUID
    wrapped_key: bytes
    code_digest: bytes
    code_sealed: bytes


class ClientRegister:
    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring
        self.datastore = keyring.datastore

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    def _digest(self, code: str) -> bytes:
        return self.keyring.digest(code, "identity-code")

    def _record_read(
        self,
        curs: object,
        actor: Actor,
        client_id: UUID | None,
        purpose: str,
        reason: str | None = None,
    ) -> None:
        curs.execute(  # type: ignore[attr-defined]
            "INSERT INTO register_reads (actor_id, actor_role, client_id, purpose, reason) "
            "VALUES (%s, %s, %s, %s, %s)",
            (actor.id, actor.role, client_id, purpose, reason),
        )

    def register(self, identity_code: str, actor: Actor) -> UUID:
        """Register a new client; a code already registered is refused."""
        code = normalise_identity_code(identity_code)
        client_id = uuid4()
        try:
            self._insert(code, client_id, actor)
        except IntegrityError:  # the same code, registered concurrently
            raise DuplicateClient("this personal identity code is already registered") from None
        return client_id

    def _insert(self, code: str, client_id: UUID, actor: Actor) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT 1 FROM clients WHERE code_digest = %s", (self._digest(code),))
            if curs.fetchone():
                raise DuplicateClient("this personal identity code is already registered")
            key = self.keyring.new_client_key(curs, client_id)
            curs.execute(
                "INSERT INTO clients (client_id, code_digest, code_sealed) VALUES (%s, %s, %s)",
                (client_id, self._digest(code), seal(key, code.encode(), f"code:{client_id}")),
            )
            self._record_read(curs, actor, client_id, "register")

    def prepare(self, code: str) -> NewClient:
        """A new client's rows, to be written with the import batch that first names them."""
        client_id = uuid4()
        key, wrapped = self.keyring.prepare_client_key(client_id)
        sealed = seal(key, code.encode(), f"code:{client_id}")
        return NewClient(client_id, wrapped, self._digest(code), sealed)

    def find_by_codes(self, codes: Iterable[str]) -> dict[str, UUID]:
        """The clients registered for normalised codes (reads by import are recorded in bulk)."""
        by_digest = {self._digest(code): code for code in codes}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT client_id, code_digest FROM clients WHERE code_digest = ANY(%s)",
                (list(by_digest),),
            )
            return {by_digest[bytes(r["code_digest"])]: r["client_id"] for r in curs.fetchall()}

    def find(
        self, identity_code: str, actor: Actor, purpose: str, reason: str | None = None
    ) -> UUID | None:
        """The client id registered for a code, if any; the lookup is recorded (`purpose`: the
        operation that looked, `reason`: what the reader said of why), found or not."""
        code = normalise_identity_code(identity_code)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT client_id FROM clients WHERE code_digest = %s", (self._digest(code),)
            )
            row = curs.fetchone()
            client_id = row["client_id"] if row else None
            self._record_read(curs, actor, client_id, purpose, reason)
        return client_id

    def find_or_register(self, identity_code: str, actor: Actor) -> UUID:
        found = self.find(identity_code, actor, "open_case")
        if found is not None:
            return found
        try:
            return self.register(identity_code, actor)
        except DuplicateClient:  # registered by a concurrent request meanwhile
            found = self.find(identity_code, actor, "open_case")
            assert found is not None
            return found

    def identity_code(self, client_id: UUID, actor: Actor, purpose: str) -> str:
        """The personal identity code of a client; the read is recorded."""
        key = self.keyring.key(client_id)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT code_sealed FROM clients WHERE client_id = %s", (client_id,))
            row = curs.fetchone()
            self._record_read(curs, actor, client_id, purpose)
        if row is None or key is None:
            raise UnknownClient(f"no identity code is held for client {client_id}")
        return unseal(key, row["code_sealed"], f"code:{client_id}").decode()
