"""A handoff as the partner's task: whose move it is, and what changed since the partner last heard.

Pure functions over the plain case state: the inbox view files each task under its state, and the
handoff workflow tells a partner's system of the changes (webhooks).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from casework.domain.state import CaseState, Handoff

TaskState = Literal["open", "answered", "waiting", "closed"]
TASK_STATES: tuple[TaskState, ...] = ("open", "answered", "waiting", "closed")
"""- `open`: the partner's move (to acknowledge, decide, or complete an accepted handoff);
- `answered`: the partner's move again, with the office's answer to its question to read;
- `waiting`: the partner asked for information and waits on the office;
- `closed`: rejected, redirected to another partner, completed, or the case closed."""


def task_state(state: CaseState, handoff: Handoff) -> TaskState:
    if state.closed or handoff.status in ("rejected", "redirected", "completed"):
        return "closed"
    if handoff.status == "info_requested":
        return "waiting"
    return "answered" if handoff.answered else "open"


class Seen(msgspec.Struct, frozen=True):
    """What a partner has been told of one task."""

    status: str
    reminded: str | None
    stalled: bool
    escalated: bool
    consent_withdrawn: bool
    case_closed: bool


def seen(state: CaseState, handoff_id: str) -> Seen:
    handoff = state.handoff(handoff_id)
    assert handoff is not None
    stall = next((s for s in state.stalls if s.item == handoff_id), None)
    return Seen(
        handoff.status,
        handoff.reminded,
        stall is not None,
        bool(stall and stall.escalated),
        handoff.consent_withdrawn,
        state.closed,
    )


def changes(before: Seen, after: Seen) -> list[str]:
    """The kinds of change from `before` to `after`, in the order a person would tell them. Two
    steps seen at once (the partner acknowledged and asked) are told as the newer one."""
    found = []
    if after.status != before.status:
        answered = before.status == "info_requested" and after.status == "acknowledged"
        found.append("answered" if answered else after.status)
    if after.reminded != before.reminded and after.reminded is not None:
        found.append("reminded")
    if after.stalled and not before.stalled:
        found.append("stalled")
    if after.escalated and not before.escalated:
        found.append("escalated")
    if after.consent_withdrawn and not before.consent_withdrawn:
        found.append("consent_withdrawn")
    if after.case_closed and not before.case_closed:
        found.append("case_closed")
    return found
