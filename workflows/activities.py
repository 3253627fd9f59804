"""Activities: the journey's only way to write. They run commands on the application.

Run as local activities (the write is short and the measured round trip is a third of a regular
activity's). A refusal from the aggregate becomes a non-retryable ApplicationError whose type is the
error's code, so the caller learns exactly what the domain said.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from casework.application import CaseworkApp, CommandResult
from casework.domain import commands as c
from casework.domain.errors import (
    CaseworkError,
    IntegrityBroken,
    OpenCaseExists,
    StaleVersion,
    ValidationFailed,
)
from casework.domain.state import CaseState
from workflows.messages import CaseStateRequest, CommandOutcome, CommandRequest, OpenCaseRequest


def refusal(error: CaseworkError) -> ApplicationError:
    """The domain's refusal, carried through Temporal with what the API needs to answer."""
    details: dict[str, object] = {"code": error.code, "detail": error.detail}
    if isinstance(error, ValidationFailed):
        details["errors"] = msgspec.to_builtins(error.errors)
    if isinstance(error, StaleVersion):
        details["current_version"] = error.current_version
    if isinstance(error, OpenCaseExists):
        details["existing_case_id"] = str(error.existing_case_id)
    if isinstance(error, IntegrityBroken):
        details["first_broken_version"] = error.first_broken_version
    # Benign: a refusal is an answer, not a fault; the SDK then logs it at debug level only.
    return ApplicationError(
        error.detail,
        details,
        type=error.code,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def decode_command(name: str, body: dict[str, object]) -> c.Command:
    """A command Struct from its name and JSON body; a bad body is a ValidationFailed."""
    cls = c.CASE_COMMANDS.get(name)
    if cls is None:
        raise ValidationFailed.field("command", f"no command {name!r}")
    try:
        return msgspec.convert(body, cls, strict=False)
    except msgspec.ValidationError as error:
        raise ValidationFailed.field(_field_of(error), str(error)) from None


def _field_of(error: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.consent.given_on`"; missing fields say "missing required field `x`".
    text = str(error)
    if "`$." in text:
        return text.split("`$.", 1)[1].split("`", 1)[0]
    if "field `" in text:
        return text.split("field `", 1)[1].split("`", 1)[0]
    return "body"


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

    def _outcome(self, result: CommandResult) -> CommandOutcome:
        state = self.app.get_case(result.case_id).state
        return CommandOutcome(result.case_id, result.version, result.events, state, result.replayed)

    @activity.defn
    def open_case(self, request: OpenCaseRequest) -> CommandOutcome:
        try:
            cmd = msgspec.convert(request.body, c.OpenCase, strict=False)
            # The case id is new for every request: a retried activity writes once.
            key = request.idempotency_key or f"open:{request.case_id}"
            ctx = self._context(msgspec.structs.replace(request, idempotency_key=key), None)
            result = self.app.open_case(cmd, ctx, key, case_id=request.case_id)
            return self._outcome(result)
        except msgspec.ValidationError as error:
            raise refusal(ValidationFailed.field(_field_of(error), str(error))) from None
        except CaseworkError as error:
            raise refusal(error) from None

    @activity.defn
    def case_state(self, request: CaseStateRequest) -> CaseState:
        """The case as stored now: for a workflow whose copy turned out to be stale."""
        return self.app.get_case(request.case_id).state

    @activity.defn
    def execute_command(self, request: CommandRequest) -> CommandOutcome:
        try:
            cmd = decode_command(request.name, request.body)
            result, state = self.app.execute_with_state(
                request.case_id,
                cmd,
                self._context(request, request.workflow_time),
                request.expected_version,
                request.idempotency_key,
            )
            return CommandOutcome(
                result.case_id, result.version, result.events, state, result.replayed
            )
        except CaseworkError as error:
            raise refusal(error) from None
