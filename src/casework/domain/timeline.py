"""A case on its two time axes (CONTRACT.md "The past"): what had been recorded by a moment,
and which facts were in effect at one. Together they answer "what did we know on day X about
day Y": the events recorded by X, of them the facts in effect on Y."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import takewhile

from casework.domain.events import CaseEvent, CaseOpened
from casework.domain.state import CaseState

CaseHistory = Sequence[CaseOpened | CaseEvent]
"""A case's events in the order they were recorded (by version)."""


def recorded_by(events: CaseHistory, moment: datetime) -> CaseHistory:
    """The events recorded up to `moment`: what the office knew then. Knowledge grows by
    versions, so this is a first part of the history (a later version is later knowledge even
    if a clock put it earlier)."""
    return list(takewhile(lambda event: event.timestamp <= moment, events))


def fold(
    events: Iterable[CaseOpened | CaseEvent], effective_at: datetime | None = None
) -> CaseState | None:
    """The state the events make, in the order they were recorded; with `effective_at`, of the
    facts in effect then only: a fact that took effect later is left out, and so is a step of an
    item whose own beginning took effect later. None if the case was not (yet) opened."""
    state: CaseState | None = None
    for event in events:
        if effective_at is not None and event.meta.effective_at > effective_at:
            continue
        if isinstance(event, CaseOpened):
            state = event.initial_state()
        elif state is not None and event.holds_on(state):
            event.fold(state)
    return state
