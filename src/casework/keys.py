"""Keys: a master key that wraps one AES-GCM key per client.

Personal and health fields of a client's events are sealed with that client's key from the first
event on; destroying the key erases them everywhere at once (backups included), while the events,
their order and their hash chain stay intact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eventsourcing.postgres import PostgresDatastore

NONCE_BYTES = 12

SCHEMA = """
CREATE TABLE IF NOT EXISTS client_keys (
    client_id uuid PRIMARY KEY,
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
CREATE TABLE IF NOT EXISTS client_cases (
    case_id uuid PRIMARY KEY,
    client_id uuid NOT NULL REFERENCES client_keys,
    open boolean NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_case_per_client ON client_cases (client_id) WHERE open;
CREATE INDEX IF NOT EXISTS client_cases_by_client ON client_cases (client_id);
"""


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured master key (base64), or the development key in the data dir (made once)."""
    if configured:
        key = base64.b64decode(configured)
    else:
        path = data_dir / "master.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        key = base64.b64decode(path.read_bytes())
    if len(key) != 32:
        raise ValueError("the master key must be 32 bytes, base64-encoded")
    return key


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A 32-byte key bound to one purpose (HKDF-SHA256): knowing it reveals neither the master key
    nor the key of any other purpose."""
    return HKDF(SHA256(), 32, salt=None, info=f"casework:{purpose}".encode()).derive(master_key)


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def unseal(key: bytes, blob: bytes, context: str) -> bytes:
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())


class KeyRing:
    """Client keys by client, and the client of each case; both cached once read."""

    def __init__(self, datastore: PostgresDatastore, master_key: bytes) -> None:
        self.datastore = datastore
        self.master_key = master_key
        self._keys: dict[UUID, bytes | None] = {}
        self._clients: dict[UUID, UUID] = {}
        self._lock = threading.Lock()

    def create_schema(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SCHEMA)

    def digest(self, text: str, purpose: str) -> bytes:
        """A keyed digest, for looking up a personal identifier without storing it in clear."""
        pepper = hmac.new(self.master_key, purpose.encode(), hashlib.sha256).digest()
        return hmac.new(pepper, text.encode(), hashlib.sha256).digest()

    def new_client_key(self, curs: object, client_id: UUID) -> bytes:
        """Create and store the key of a new client, inside the caller's transaction."""
        key, wrapped = self.prepare_client_key(client_id)
        curs.execute(  # type: ignore[attr-defined]
            "INSERT INTO client_keys (client_id, wrapped) VALUES (%s, %s)", (client_id, wrapped)
        )
        return key

    def prepare_client_key(self, client_id: UUID) -> tuple[bytes, bytes]:
        """A new client key and its wrapped form, to be stored by the caller (bulk import)."""
        key = AESGCM.generate_key(bit_length=256)
        with self._lock:
            self._keys[client_id] = key
        return key, seal(self.master_key, key, f"client-key:{client_id}")

    def key(self, client_id: UUID) -> bytes | None:
        """The client's key, or None once it has been destroyed."""
        return self.keys([client_id])[client_id]

    def keys(self, client_ids: Iterable[UUID]) -> dict[UUID, bytes | None]:
        """Many clients' keys; those not yet cached are read in one query."""
        wanted = set(client_ids)
        with self._lock:
            missing = [client_id for client_id in wanted if client_id not in self._keys]
        if missing:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(
                    "SELECT client_id, wrapped FROM client_keys WHERE client_id = ANY(%s)",
                    (missing,),
                )
                wrapped = {row["client_id"]: row["wrapped"] for row in curs.fetchall()}
            opened = {client_id: self._unwrap(client_id, wrapped.get(client_id))
                      for client_id in missing}  # fmt: skip
            with self._lock:
                self._keys |= opened
        with self._lock:
            return {client_id: self._keys[client_id] for client_id in wanted}

    def _unwrap(self, client_id: UUID, wrapped: bytes | None) -> bytes | None:
        """A stored client key opened with the master key; None once destroyed."""
        return unseal(self.master_key, wrapped, f"client-key:{client_id}") if wrapped else None

    def forget(self, client_id: UUID) -> None:
        with self._lock:
            self._keys.pop(client_id, None)

    def remember_case(self, case_id: UUID, client_id: UUID) -> None:
        with self._lock:
            self._clients[case_id] = client_id

    def client_of(self, case_id: UUID) -> UUID:
        with self._lock:
            if case_id in self._clients:
                return self._clients[case_id]
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT client_id FROM client_cases WHERE case_id = %s", (case_id,))
            row = curs.fetchone()
        if row is None:
            raise LookupError(f"case {case_id} has no client")
        self.remember_case(case_id, row["client_id"])
        return row["client_id"]
