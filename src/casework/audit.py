"""The auditor's view: a case's full history from the event store, and the hash chain verified."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from casework.app import CaseworkApp
from casework.domain.errors import UnknownCase
from casework.store import GENESIS, chain_hash, recorded_prev_hash

_NOT_DATA = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "meta", "reason"}
)


class ActorRef(msgspec.Struct, frozen=True):
    id: str
    role: str


class HistoryItem(msgspec.Struct, frozen=True):
    version: int
    type: str
    recorded_at: datetime
    effective_at: datetime
    actor: ActorRef
    reason: Any
    data: dict[str, Any]
    prev_hash: str
    hash: str


class Verification(msgspec.Struct, frozen=True):
    case_id: UUID
    intact: bool
    events: int
    first_broken_version: int | None = None
    problem: str | None = None


def history(app: CaseworkApp, case_id: UUID) -> list[HistoryItem]:
    """Every event of the case with actor, times, reason, data and its place in the chain."""
    items = []
    for stored in app.stored_events(case_id):
        event = app.mapper.to_domain_event(stored)
        fields = vars(event)
        items.append(
            HistoryItem(
                version=stored.originator_version,
                type=type(event).__name__,
                recorded_at=event.timestamp,
                effective_at=event.meta.effective_at,
                actor=ActorRef(event.meta.actor_id, event.meta.actor_role),
                reason=fields.get("reason"),
                data=msgspec.to_builtins({k: v for k, v in fields.items() if k not in _NOT_DATA}),
                prev_hash=recorded_prev_hash(stored) or "",
                hash=chain_hash(stored),
            )
        )
    if not items:
        raise UnknownCase(case_id)
    return items


def verify(app: CaseworkApp, case_id: UUID) -> Verification:
    """Walk the case's stored events; name the first version whose row was altered or removed."""
    rows = app.stored_events(case_id)
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute("SELECT version, hash FROM chain_heads WHERE originator_id = %s", (case_id,))
        head = curs.fetchone()
    if not rows and head is None:
        raise UnknownCase(case_id)

    def broken(version: int, problem: str) -> Verification:
        return Verification(case_id, False, len(rows), version, problem)

    expected_prev = GENESIS
    for number, stored in enumerate(rows, start=1):
        if stored.originator_version != number:
            return broken(number, f"version {number} is missing")
        if recorded_prev_hash(stored) != expected_prev:
            # The predecessor's bytes no longer hash to what this event recorded.
            culprit = number - 1 if number > 1 else number
            return broken(culprit, f"version {culprit} does not match the hash recorded after it")
        expected_prev = chain_hash(stored)
    if head is not None:
        if head["version"] > len(rows):
            return broken(len(rows) + 1, f"versions after {len(rows)} are missing")
        if head["hash"] != expected_prev:
            return broken(len(rows), f"version {len(rows)} does not match the recorded head")
    return Verification(case_id, True, len(rows))
