"""Activities: the journey's only way to write. They run commands on the application.

Run as local activities (the write is short and the measured round trip is a third of a regular
activity's). A refusal from the aggregate becomes a non-retryable ApplicationError whose type is the
error's code and whose details are the problem the API answers with (`casework.problems`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from casework.application import CaseworkApp, CommandResult
from casework.domain import commands as c
from casework.domain.errors import CaseworkError
from casework.domain.state import CaseState
from casework.problems import problem_of
from workflows.messages import CaseStateRequest, CommandOutcome, CommandRequest, OpenCaseRequest


def refusal(error: CaseworkError) -> ApplicationError:
    """The domain's refusal, carried through Temporal as the problem details the API answers."""
    # Benign: a refusal is an answer, not a fault; the SDK then logs it at debug level only.
    return ApplicationError(
        error.detail,
        problem_of(error),
        type=error.code,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


class CaseActivities:
    def __init__(self, app: CaseworkApp) -> None:
        self.app = app

    def _context(self, request: CommandRequest | OpenCaseRequest, at: datetime | None) -> c.Context:
        now = datetime.now(UTC)
        return c.Context(
            actor=request.caller.actor,
            recorded_at=max(now, at) if at else now,
            correlation_id=request.caller.correlation_id,
            causation_id=request.idempotency_key,
        )

    @staticmethod
    def _outcome(result: CommandResult, state: CaseState) -> CommandOutcome:
        return CommandOutcome(
            result.case_id, result.version, result.events, state, result.replayed, result.created
        )

    @activity.defn
    def open_case(self, request: OpenCaseRequest) -> CommandOutcome:
        try:
            # The case id is new for every request: a retried activity writes once.
            key = request.idempotency_key or f"open:{request.case_id}"
            ctx = self._context(msgspec.structs.replace(request, idempotency_key=key), None)
            result = self.app.open_case(request.command, ctx, key, case_id=request.case_id)
            return self._outcome(result, self.app.get_case(result.case_id).state)
        except CaseworkError as error:
            raise refusal(error) from None

    @activity.defn
    def case_state(self, request: CaseStateRequest) -> CaseState:
        """The case as stored now: for a workflow whose copy turned out to be stale."""
        return self.app.get_case(request.case_id).state

    @activity.defn
    def execute_command(self, request: CommandRequest) -> CommandOutcome:
        try:
            result, state = self.app.execute_with_state(
                request.case_id,
                request.command,
                self._context(request, request.workflow_time),
                request.expected_version,
                request.idempotency_key,
            )
            return self._outcome(result, state)
        except CaseworkError as error:
            raise refusal(error) from None
