"""Running a case command for an HTTP request (CONTRACT.md "HTTP conventions"): the
`Idempotency-Key` claimed in PostgreSQL, `If-Match`, the journey's update, and the answer.

Staff commands (`api/cases.py`) and partners' task actions (`api/partners.py`) both go through
`run_command`, so the two doors to a case keep one set of rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Request, Response
from temporalio.service import RPCError, RPCStatusCode

from casework.api.deps import Services, request_id
from casework.application import CommandResult, case_scope
from casework.audit import history
from casework.domain import commands as c
from casework.domain import limits
from casework.domain.errors import CaseworkError, IllegalStep, UnknownCase, ValidationFailed
from workflows.client import Refused
from workflows.messages import Caller, CommandOutcome

MAX_KEY = 200
MAX_VERSION = 10**9  # far beyond any case: a larger number is refused, never sent to PostgreSQL


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ValidationFailed.field("Idempotency-Key", f"give 1 to {MAX_KEY} characters")
    if key is not None and (message := limits.text_error(key)):
        raise ValidationFailed.field("Idempotency-Key", message)
    return key


def if_match(request: Request) -> int | None:
    value = request.headers.get("if-match")
    if value is None:
        return None
    text = value.removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_VERSION):
        raise ValidationFailed.field("If-Match", 'send the ETag you read, e.g. "3"')
    return int(text)


def caller(request: Request, actor: c.Actor) -> Caller:
    return Caller(actor, correlation_id=request_id(request))


def command_response(
    outcome: CommandOutcome | CommandResult, status: int = 200, subject: str | None = None
) -> Response[dict[str, Any]]:
    """The command's answer, with the new version as `ETag`; `subject` names what the caller
    knows the command by (a partner knows its task, not the case)."""
    headers = {"ETag": f'"{outcome.version}"'}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    body = {"id": subject or str(outcome.case_id), "version": outcome.version}
    return Response(body | {"events": outcome.events}, status_code=status, headers=headers)


async def run_command(
    request: Request,
    services: Services,
    actor: c.Actor,
    case_id: UUID,
    cmd: c.Command,
    events_since: bool = True,
) -> CommandOutcome | CommandResult:
    """Run `cmd` on the case through its journey, honouring the request's `Idempotency-Key` and
    `If-Match`. A stale `If-Match` is a 409 with the current version (and, if `events_since`,
    the kinds of event recorded since)."""
    expected, key = if_match(request), idempotency_key(request)
    try:
        async with claimed(services, case_scope(case_id), key, cmd) as earlier:
            if earlier:
                return earlier
            return await services.journeys.run(
                case_id, cmd.name(), msgspec.to_builtins(cmd), caller(request, actor), expected, key
            )
    except Refused as refused:
        if refused.code == "stale_version" and expected is not None and events_since:
            refused.details["events_since"] = await to_thread.run_sync(
                _events_since, services, case_id, expected
            )
        raise
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        case = await to_thread.run_sync(services.app.get_case, case_id)
        if case.state.closed:
            raise IllegalStep("the case is closed") from None
        raise UnknownCase(case_id) from None


@contextlib.asynccontextmanager
async def claimed(
    services: Services, scope: str, key: str | None, cmd: c.Command
) -> AsyncIterator[CommandResult | None]:
    """Claim the Idempotency-Key in PostgreSQL before the command runs (Temporal
    de-duplicates within one workflow run only); yield the earlier answer to a retry. A refused
    command wrote nothing, so its claim is given up."""
    if key is None:
        yield None
        return
    earlier = await to_thread.run_sync(services.app.claim, scope, key, cmd)
    try:
        yield earlier
    except (Refused, CaseworkError):
        await to_thread.run_sync(services.app.release, scope, key, cmd)
        raise


def _events_since(services: Services, case_id: UUID, version: int) -> list[dict[str, Any]]:
    return [
        {"version": item.version, "type": item.type}
        for item in history(services.app, case_id, after=version)
    ]
