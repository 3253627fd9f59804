"""Commands over HTTP: a route per command and one way to run a typed command on a case.

Every command of `CASE_COMMANDS` has its own operation (`POST /api/cases/{case_id}/commands/
record_screening`, operation id `recordScreening`) whose request body is the command's Struct, so
the OpenAPI shows exactly its fields and examples. The body is decoded once, at the edge
(`bodies.Decoded`), and travels as that Struct to the journey's validator and the write.

`run_command` runs a typed command on a case for any route: these, and routes that build their
command from the path (a partner's action on its task, say) alike.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Request, Response, post
from litestar.datastructures import ResponseHeader
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, JSONBody
from temporalio.service import RPCError, RPCStatusCode

from casework.api.bodies import Decoded
from casework.api.deps import ActorDep, NamePath, Services, ServicesDep, request_id
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.application import CommandResult, case_scope
from casework.audit import history
from casework.domain import commands as c
from casework.domain import limits
from casework.domain.errors import (
    CaseworkError,
    IllegalStep,
    UnknownCase,
    UnknownCommand,
    ValidationFailed,
)
from casework.domain.permissions import COMMANDS
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
        " the command is a 409 `stale_version` with the events since, and nothing is written.",
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
    created by kind (`{"handoff": "handoff-16"}`), so no client re-reads the case to learn them."""

    id: UUID
    version: int
    events: list[str]
    created: dict[str, str]


def command_response(
    outcome: CommandOutcome | CommandResult, status: int = 200
) -> Response[CommandAnswer]:
    headers = {"ETag": f'"{outcome.version}"'}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    body = CommandAnswer(outcome.case_id, outcome.version, outcome.events, outcome.created)
    return Response(body, status_code=status, headers=headers)


def caller_of(request: Request, actor: c.Actor) -> Caller:
    return Caller(actor, correlation_id=request_id(request))


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


async def run_command(
    request: Request,
    services: Services,
    actor: c.Actor,
    case_id: UUID,
    cmd: c.Command,
    if_match: str | None = None,
    idempotency_key: str | None = None,
) -> Response[CommandAnswer]:
    """Run a command on a case through its journey: the key claimed first, the journey's
    validator and then the aggregate judging it; the answer names what it created."""
    expected, key = expected_version(if_match), checked_key(idempotency_key)
    try:
        async with claimed(services, case_scope(case_id), key, cmd) as earlier:
            if earlier:
                return command_response(earlier)
            outcome = await services.journeys.run(
                case_id, cmd, caller_of(request, actor), expected, key
            )
    except Refused as refused:
        if refused.code == "stale_version" and expected is not None:
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
    return command_response(outcome)


def _events_since(services: Services, case_id: UUID, version: int) -> list[EventSince]:
    return [
        EventSince(item.version, item.type)
        for item in history(services.app, case_id)
        if item.version > version
    ]


COMMANDS_PATH = "/api/cases/{case_id:uuid}/commands"


def operation_id(name: str) -> str:
    """`record_screening` → `recordScreening`."""
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), name)


def command_route(cls: type[c.Command]) -> HTTPRouteHandler:
    """The route of one case command: its Struct as the body, run by `run_command`."""
    name = cls.name()

    async def run(
        case_id: FromPath[UUID],
        data: JSONBody[c.Command],
        request: Request,
        services: ServicesDep,
        actor: ActorDep,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandAnswer]:
        return await run_command(request, services, actor, case_id, data, if_match, idempotency_key)

    run.__name__ = run.__qualname__ = name
    roles = ", ".join(sorted(COMMANDS[name]))
    return post(
        f"{COMMANDS_PATH}/{name}",
        operation_id=operation_id(name),
        summary=name.replace("_", " ").capitalize(),
        description=f"Run `{name}` on the case (body: `{cls.__name__}`). Run by: {roles}. "
        "Every command may also carry `reason` and `effective_at` (when the fact took effect; "
        "never in the future).",
        tags=["commands"],
        status_code=200,
        dto=Decoded[cls],
        return_dto=None,
        opt={"permission": "runCommand"},
        security=API_SECURITY,
        responses=problems(*COMMAND_ERRORS),
        response_headers=COMMAND_HEADERS,
    )(run)


@post(
    f"{COMMANDS_PATH}/{{name:str}}",
    operation_id="unknownCommand",
    opt={"permission": "runCommand"},
    include_in_schema=False,
)
async def unknown_command(name: NamePath) -> Any:
    """Any other name: a 404 that says so (the commands' own routes are matched first)."""
    raise UnknownCommand(name)


COMMAND_ROUTES = [*(command_route(cls) for cls in c.CASE_COMMANDS.values()), unknown_command]
