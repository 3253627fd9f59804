"""Rebuilding a view without downtime.

The new version is built beside the live one from the notification log, in batches (one tracking
record per batch, so still exactly once), catching up with live traffic; then one transaction
swaps the registry entry. Until that moment every reader is served by the old tables; afterwards
the live runners continue from the new tables' position, and the old tables are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from eventsourcing.persistence import Tracking

from casework.application import CaseworkApp
from projections.service import RECHECK_SECONDS, Projections

BATCH = 500


class Progress(msgspec.Struct, frozen=True):
    view: str
    done: int
    total: int
    rate: float


def rebuild(
    app: CaseworkApp,
    projections: Projections,
    name: str,
    report: Callable[[Progress], None] = lambda _: None,
) -> int:
    """Build `name` anew, swap it in, drop the old tables; return the events applied."""
    old = projections.view(name)
    new = projections.make(name, f"_r{datetime.now(UTC):%Y%m%d%H%M%S}")
    new.drop()
    new.create_table()
    position, applied, started = 0, 0, time.monotonic()
    while True:
        batch = app.recorder.select_notifications(start=position + 1, limit=BATCH)
        if not batch:
            break
        events = new.decode(app.mapper, batch)
        new.project_batch(events, Tracking(app.name, batch[-1].id), settle=False)
        position, applied = batch[-1].id, applied + len(batch)
        head = app.recorder.max_notification_id() or position
        report(Progress(name, applied, applied + head - position, applied / _since(started)))
    new.settle_now()
    projections.swap(name, new.suffix)
    # Runners and readers look the registry up at most once a second: let them move first.
    time.sleep(RECHECK_SECONDS * 3)
    old.drop()
    return applied


def _since(started: float) -> float:
    return max(time.monotonic() - started, 1e-6)
