"""One input and one result type per workflow, update and activity, so fields can be added later.

Payloads carry ids and the plain case state; the data converter seals every payload, so Temporal's
history and web UI never hold personal or health data in clear.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from casework.domain.commands import Actor, CaseCommand, OpenCase
from casework.domain.policy import StallPolicy
from casework.domain.state import CaseState

RUNNING_JOURNEYS = "WorkflowType = 'JourneyWorkflow' AND ExecutionStatus = 'Running'"
POLICY_VERSION = SearchAttributeKey.for_keyword("CaseworkPolicyVersion")
"""The stall policy version a journey runs: coordinators see who runs which, and move them."""


def policy_attributes(policy: StallPolicy) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(POLICY_VERSION, policy.version)])


class Caller(msgspec.Struct, frozen=True):
    """Who sent a command, and the correlation id that follows it into the events."""

    actor: Actor
    correlation_id: str


class OpenCaseRequest(msgspec.Struct, frozen=True):
    case_id: UUID
    command: OpenCase
    caller: Caller
    idempotency_key: str | None = None


class CommandRequest(msgspec.Struct, frozen=True):
    """A command on a case, as decoded at the edge: it travels as its own Struct (tagged with its
    name), so the journey's validator and the write judge the same value."""

    case_id: UUID
    command: CaseCommand
    caller: Caller
    expected_version: int | None = None
    idempotency_key: str | None = None
    # The workflow's clock: under time skipping it runs ahead of the wall clock.
    workflow_time: datetime | None = None


class CaseStateRequest(msgspec.Struct, frozen=True):
    case_id: UUID


class CommandOutcome(msgspec.Struct, frozen=True):
    case_id: UUID
    version: int
    events: list[str]
    state: CaseState
    replayed: bool = False
    created: dict[str, str] = {}


class JourneyState(msgspec.Struct):
    """All a journey knows, carried whole across continue-as-new."""

    case_id: UUID
    policy: StallPolicy
    """The stall policy it started with (or was migrated to)."""
    case: CaseState | None = None
    """The case as the journey last saw it; None until it is opened."""
    handoffs: dict[str, str | None] = {}
    """Every handoff child it started, with the child's outcome once it has finished."""


class JourneyInput(msgspec.Struct, frozen=True):
    """A journey's start: a new case's, a restarted one's (reconcile) or its next run's."""

    journey: JourneyState


class JourneyResult(msgspec.Struct, frozen=True):
    case_id: UUID
    opened: bool
    close_outcome: str | None = None
    handoff_outcomes: dict[str, str] = {}


class HandoffInput(msgspec.Struct, frozen=True):
    case_id: UUID
    handoff_id: str
    policy: StallPolicy
    state: CaseState


class HandoffResult(msgspec.Struct, frozen=True):
    handoff_id: str
    partner: str
    status: str
    outcome: str | None = None


class CaseChanged(msgspec.Struct, frozen=True):
    state: CaseState


def journey_id(case_id: UUID) -> str:
    return f"journey-{case_id}"


def handoff_workflow_id(case_id: UUID, handoff_id: str) -> str:
    return f"handoff-{case_id}-{handoff_id}"


def case_of_workflow(workflow_id: str) -> UUID | None:
    """The case a journey or handoff workflow id names (None for any other id)."""
    kind, _, rest = workflow_id.partition("-")
    if kind not in ("journey", "handoff") or len(rest) < 36:
        return None
    try:
        return UUID(rest[:36])
    except ValueError:
        return None
