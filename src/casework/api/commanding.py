"""Running a case command for an HTTP request (CONTRACT.md "HTTP conventions"): the
`Idempotency-Key` claimed in PostgreSQL, `If-Match`, the journey's update, and the answer.

A route that runs a command takes its body as a Struct, builds the command (a staff command's
body is the command itself, `api/cases.py`; a partner's move names its task in the path,
`api/partners.py`), asks for `preconditions: PreconditionsDep` (the two headers, declared in its
OpenAPI) and answers `command_response(await run_command(...))`, declaring `COMMAND_ERRORS` and
`COMMAND_HEADERS`. So the doors to a case keep one set of rules and one answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from temporalio.service import RPCError, RPCStatusCode

from casework.api.deps import Services, request_id
from casework.api.problems import API_ERRORS
from casework.application import CommandResult, case_scope
from casework.audit import history
from casework.domain import commands as c
from casework.domain import limits
from casework.domain.errors import CaseworkError, IllegalStep, UnknownCase, ValidationFailed
from casework.problems import EventSince
from workflows.client import Refused
from workflows.messages import Caller, CommandOutcome

MAX_KEY = 200
MAX_VERSION = 10**9  # far beyond any case: a larger number is refused, never sent to PostgreSQL
COMMAND_ERRORS = (*API_ERRORS, 404, 409, 413)
"""A command's refusals: an unknown case, an illegal step or a stale version, a body too large,
besides those of every API route."""

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description='The ETag of the version you read ("3"). If the case has moved on since,'
        " the command is a 409 `stale_version` and nothing is written.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description=f"Names this request (1–{MAX_KEY} characters). A retry with the same key and"
        " body gets the first answer again (`Idempotent-Replayed: true`); the same key with"
        " another body is a 422.",
    ),
]
COMMAND_HEADERS = [
    # Documented only: `command_response` sets them. A value gives each its schema.
    ResponseHeader(
        name="ETag", value='"3"', description="The case's new version", documentation_only=True
    ),
    ResponseHeader(
        name="Idempotent-Replayed",
        value="true",
        description="Present when this is the recorded answer to an earlier request with the key",
        documentation_only=True,
    ),
]


class CommandAnswer(msgspec.Struct, frozen=True):
    """What a command did: the case's new version, the events it recorded, and the items they
    created by kind (`{"handoff": "handoff-16"}`), so no client re-reads the case to learn them.
    `id` is the case's; for a partner, the task's (and `created` is empty: it knows only tasks)."""

    id: str
    version: int
    events: list[str]
    created: dict[str, str]


class Preconditions(msgspec.Struct, frozen=True):
    """What a command's request asks besides its body: the version it was decided on, and the
    key that makes a retry safe."""

    expected_version: int | None = None
    idempotency_key: str | None = None


def provide_preconditions(
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None
) -> Preconditions:
    """The `preconditions` dependency: the two headers, each refused with a 422 naming it."""
    return Preconditions(expected_version(if_match), checked_key(idempotency_key))


PreconditionsDep = NamedDependency[Preconditions]


def checked_key(key: str | None) -> str | None:
    """The Idempotency-Key as sent, or a 422 naming it."""
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise ValidationFailed.field("Idempotency-Key", f"give 1 to {MAX_KEY} characters")
    if key is not None and (message := limits.text_error(key)):
        raise ValidationFailed.field("Idempotency-Key", message)
    return key


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match names, or a 422 naming it."""
    if if_match is None:
        return None
    text = if_match.removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_VERSION):
        raise ValidationFailed.field("If-Match", 'send the ETag you read, e.g. "3"')
    return int(text)


def caller(request: Request, actor: c.Actor) -> Caller:
    return Caller(actor, correlation_id=request_id(request))


def command_response(
    outcome: CommandOutcome | CommandResult, status: int = 200, subject: str | None = None
) -> Response[CommandAnswer]:
    """The command's answer, with the new version as `ETag`; `subject` names what the caller
    knows the command by (a partner knows its task, not the case)."""
    headers = {"ETag": f'"{outcome.version}"'}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    created = {} if subject else outcome.created
    body = CommandAnswer(subject or str(outcome.case_id), outcome.version, outcome.events, created)
    return Response(body, status_code=status, headers=headers)


async def run_command(
    request: Request,
    services: Services,
    actor: c.Actor,
    case_id: UUID,
    cmd: c.Command,
    preconditions: Preconditions,
    events_since: bool = True,
) -> CommandOutcome | CommandResult:
    """Run `cmd` on the case through its journey: the key claimed first, the journey's validator
    and then the aggregate judging it. A stale `If-Match` is a 409 with the current version (and,
    if `events_since`, the kinds of event recorded since)."""
    expected, key = preconditions.expected_version, preconditions.idempotency_key
    try:
        async with claimed(services, case_scope(case_id), key, cmd) as earlier:
            if earlier:
                return earlier
            return await services.journeys.run(case_id, cmd, caller(request, actor), expected, key)
    except Refused as refused:
        if refused.code == "stale_version" and expected is not None and events_since:
            since = await to_thread.run_sync(_events_since, services, case_id, expected)
            refused.problem = msgspec.structs.replace(refused.problem, events_since=since)
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


def _events_since(services: Services, case_id: UUID, version: int) -> list[EventSince]:
    return [
        EventSince(item.version, item.type)
        for item in history(services.app, case_id, after=version)
    ]
