"""The auditor's view: a case's history from the event store, its chain verified, its export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent

from casework.access_log import ActorRef
from casework.application import CaseworkApp
from casework.domain import timeline
from casework.domain.errors import UnknownCase
from casework.domain.permissions import Withheld
from casework.domain.state import CaseState, Stage
from casework.integrity import Verification, recorded_prev_hash
from casework.store import chain_hash

_NOT_DATA = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "meta", "reason"}
)


class HistoryItem(msgspec.Struct, frozen=True):
    """One event as CONTRACT.md shows it: what, when on both axes, who, why, what caused it, and
    its place in the chain."""

    version: int
    type: str
    recorded_at: datetime
    effective_at: datetime
    actor: ActorRef
    reason: str | Withheld | None
    data: dict[str, Any]
    causation_id: str | None
    """The command's Idempotency-Key (or the update that wrote it)."""
    correlation_id: str
    """The request id (`X-Request-ID`) the command arrived with."""
    prev_hash: str
    hash: str


class HistoryPage(msgspec.Struct, frozen=True):
    items: list[HistoryItem]
    next: str | None


class CaseExport(msgspec.Struct, frozen=True, kw_only=True):
    """A case for an auditor: its whole history, the state that history makes, and whether the
    stored chain verifies."""

    id: UUID
    exported_at: datetime
    exported_by: ActorRef
    reason: str | None
    state: CaseState
    stage: Stage
    group: Literal["A", "B"] | None
    f05: bool
    history: list[HistoryItem]
    integrity: Verification


def history(
    app: CaseworkApp, case_id: UUID, after: int = 0, limit: int | None = None
) -> list[HistoryItem]:
    """The case's events from version `after + 1` on (at most `limit`) with actor, times, reason,
    data, causation and correlation, and their place in the chain. UnknownCase for no case."""
    stored = app.stored_events(case_id, after, limit)
    if not stored and after == 0:
        raise UnknownCase(case_id)
    return [_item(app, s, app.mapper.to_domain_event(s)) for s in stored]


def _item(app: CaseworkApp, stored: StoredEvent, event: Any) -> HistoryItem:
    fields = vars(event)
    meta = event.meta
    return HistoryItem(
        version=stored.originator_version,
        type=type(event).__name__,
        recorded_at=event.timestamp,
        effective_at=meta.effective_at,
        actor=ActorRef(meta.actor_id, meta.actor_role),
        reason=fields.get("reason"),
        data=msgspec.to_builtins({k: v for k, v in fields.items() if k not in _NOT_DATA}),
        causation_id=meta.causation_id,
        correlation_id=meta.correlation_id,
        prev_hash=recorded_prev_hash(stored) or "",
        hash=chain_hash(stored, app.chain_key),
    )


def verify(app: CaseworkApp, case_id: UUID) -> Verification:
    """The case's chain from its first event to its head, against the signed checkpoints; the
    first version found altered, removed or replaced."""
    return app.integrity.verify(case_id)


def export(app: CaseworkApp, case_id: UUID, by: ActorRef, reason: str | None) -> CaseExport:
    """Everything held on a case, read once: the state is the fold of the very events exported,
    so the two cannot disagree however the case moves meanwhile."""
    stored = app.stored_events(case_id)
    if not stored:
        raise UnknownCase(case_id)
    events = [app.mapper.to_domain_event(s) for s in stored]
    state = timeline.fold(events)
    assert state is not None  # a stored case begins with its opening
    return CaseExport(
        id=case_id,
        exported_at=datetime.now(UTC),
        exported_by=by,
        reason=reason,
        state=state,
        stage=state.stage,
        group=state.group,
        f05=state.f05,
        history=[_item(app, s, e) for s, e in zip(stored, events, strict=True)],
        integrity=verify(app, case_id),
    )
