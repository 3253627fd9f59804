"""The auditor's view: a case's full history from the event store, and its chain verified."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from casework.application import CaseworkApp
from casework.domain.errors import UnknownCase
from casework.domain.permissions import Withheld
from casework.integrity import Verification, recorded_prev_hash
from casework.store import chain_hash

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
    reason: str | Withheld | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


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
                hash=chain_hash(stored, app.chain_key),
            )
        )
    if not items:
        raise UnknownCase(case_id)
    return items


def verify(app: CaseworkApp, case_id: UUID) -> Verification:
    """The case's chain from its first event to its head, against the signed checkpoints; the
    first version found altered, removed or replaced."""
    return app.integrity.verify(case_id)
