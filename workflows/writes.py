"""How workflows write: a local activity per command, refusals surfacing as ApplicationError."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from casework.domain.commands import Actor, Command
    from casework.domain.state import CaseState
    from workflows.activities import CaseActivities
    from workflows.messages import (
        Caller,
        CaseStateRequest,
        CommandOutcome,
        CommandRequest,
        OpenCaseRequest,
    )

SYSTEM = Actor("casework", "system")
WRITE_TIMEOUT = timedelta(seconds=30)
# After a system write is refused on the stored state too, wait this long for news before
# deciding again: a refusal that persists is a fault to look into, not to hammer.
REFUSED_PAUSE = timedelta(hours=1)


async def write(request: CommandRequest | OpenCaseRequest) -> CommandOutcome:
    """Run a write as a local activity; a domain refusal comes back as an ApplicationError."""
    activity = (
        CaseActivities.open_case
        if isinstance(request, OpenCaseRequest)
        else CaseActivities.execute_command
    )
    try:
        return await workflow.execute_local_activity_method(
            activity, request, start_to_close_timeout=WRITE_TIMEOUT
        )
    except ActivityError as error:
        if isinstance(error.cause, ApplicationError):
            raise error.cause from None
        raise


async def current_state(case_id: UUID) -> CaseState:
    """Read the case as stored now (a local activity)."""
    return await workflow.execute_local_activity_method(
        CaseActivities.case_state, CaseStateRequest(case_id), start_to_close_timeout=WRITE_TIMEOUT
    )


def system_request(case_id: UUID, version: int, command: Command) -> CommandRequest:
    """A command the service decides itself (a stall, a reminder), as of the workflow's clock."""
    return CommandRequest(
        case_id=case_id,
        command=command,
        caller=Caller(SYSTEM, correlation_id=f"journey-{case_id}"),
        # Keyed by the version it was decided on, so a retried timer writes once.
        idempotency_key=f"system:{command.name()}:{version}",
        workflow_time=workflow.now(),
    )
