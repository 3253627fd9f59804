"""When a waiting step falls due: the stall policy applied to a case state at a moment.

Pure: the journey and handoff workflows call it with `workflow.now()` and sleep until the next
moment it names; the same function explains a case's deadlines anywhere else.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from casework.domain import commands as c
from casework.domain.policy import StallPolicy
from casework.domain.rules import REMINDED_STEPS, Waiting, waiting_steps
from casework.domain.state import CaseState


class Deadline(msgspec.Struct, frozen=True):
    step: str
    item: str | None
    since: datetime
    due: datetime
    escalates: datetime
    remind: datetime | None


def due(state: CaseState, wait: Waiting, policy: StallPolicy) -> datetime:
    """When a waiting step falls due: a stalled step's deadline as its journey's policy set it,
    else by `policy`."""
    stall = state.stall(wait.step, wait.item)
    return stall.due if stall else policy.deadline(wait.step, wait.since, wait.partner)


def deadlines(
    state: CaseState,
    policy: StallPolicy,
    steps: frozenset[str] | None = None,
    item: str | None = None,
) -> list[Deadline]:
    """The deadline of every step the case waits on (only `steps` and `item`, if given)."""
    found = []
    for wait in waiting_steps(state):
        if (steps is not None and wait.step not in steps) or (item and wait.item != item):
            continue
        limit = policy.limit(wait.step, wait.partner)
        remind = limit.deadline(wait.since, fraction=0.5) if wait.step in REMINDED_STEPS else None
        found.append(
            Deadline(
                wait.step,
                wait.item,
                wait.since,
                due=limit.deadline(wait.since),
                escalates=limit.deadline(wait.since, fraction=2),
                remind=remind,
            )
        )
    return found


def due_commands(
    state: CaseState,
    policy: StallPolicy,
    now: datetime,
    steps: frozenset[str] | None = None,
    item: str | None = None,
) -> tuple[list[c.Command], datetime | None]:
    """The system commands due at `now`, and the next moment another one falls due."""
    commands: list[c.Command] = []
    upcoming: list[datetime] = []

    def at(moment: datetime, command: c.Command) -> None:
        if moment <= now:
            commands.append(command)
        else:
            upcoming.append(moment)

    for d in deadlines(state, policy, steps, item):
        stall = state.stall(d.step, d.item)
        if stall is None:
            at(d.due, c.FlagStall(
                step=d.step, item=d.item, since=d.since, due=d.due,
                policy_version=policy.version, effective_at=d.due,
            ))  # fmt: skip
            handoff = state.handoff(d.item) if d.item else None
            if d.remind and handoff and not handoff.reminded_of(d.step, d.since):
                at(d.remind, c.SendHandoffReminder(
                    handoff_id=handoff.id, step=d.step, effective_at=d.remind
                ))  # fmt: skip
        elif not stall.escalated:
            at(d.escalates, c.EscalateStall(step=d.step, item=d.item, effective_at=d.escalates))
    # A reminder falls due before its stall: keep the order in which they took effect.
    commands.sort(key=lambda cmd: cmd.effective_at or now)
    return commands, min(upcoming, default=None)
