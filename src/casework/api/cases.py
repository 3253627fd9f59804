"""Staff routes on cases: open, list, read (now or as it stood), read the history, and a route for
each command on a case.

Every command of `CASE_COMMANDS` has its own operation (`POST /api/cases/{case_id}/commands/
record_screening`, operation id `recordScreening`) whose request body is the command's Struct, so
the OpenAPI shows exactly its fields and examples. The body is decoded once, at the edge
(`bodies.Decoded`), and travels as that Struct to the journey's validator and the write.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from casework.api.bodies import Decoded
from casework.api.commanding import (
    COMMAND_ERRORS,
    COMMAND_HEADERS,
    MAX_VERSION,
    CommandAnswer,
    IdempotencyKey,
    PreconditionsDep,
    caller,
    checked_key,
    claimed,
    command_response,
    run_command,
)
from casework.api.deps import (
    ActorDep,
    Cursor,
    Limit,
    NameFilter,
    NamePath,
    ReadReason,
    ServicesDep,
)
from casework.api.integrity import IntegrityField, integrity_field, integrity_headers
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.api.reads import check_moments, record_read, require_reason
from casework.application import open_case_scope
from casework.audit import HistoryItem, HistoryPage, history
from casework.domain import commands as c
from casework.domain import events, rules
from casework.domain.errors import UnknownCommand, ValidationFailed
from casework.domain.permissions import (
    COMMANDS,
    HEALTH_EVENTS,
    HEALTH_FIELDS,
    NOT_PERMITTED,
    Withheld,
    may_see_health,
    sees_health_of,
)
from casework.domain.rules import PartnerSuggestion, next_steps, suggest_partner
from casework.domain.state import CaseState, Stage
from casework.paging import MAX_LIMIT, decode_cursor, encode_cursor
from projections.queries import CaseListItem, list_cases

KNOWN_AT = "The case as recorded by then: what the office knew at that moment."
EFFECTIVE_AT = "Only the facts in effect at that moment (as known now, or at known_at)."


class CaseDocument(CaseState, kw_only=True):
    """A case as `GET /api/cases/{id}` shows it: its state, what follows from it (stage, group,
    F05, the partner its work history points to), the commands this caller may run now, and
    whether its stored history verifies.

    The health fields are withheld from a caller who may not see them. `stage`, `group` and
    `f05` are properties of the state; here they are fields, so they are shown."""

    id: UUID
    stage: Stage
    next_steps: list[str]
    suggested_partner: PartnerSuggestion | None
    integrity: IntegrityField
    diagnosed: bool | Withheld = False
    self_assessments: int | Withheld = 0
    sickness_days_used: int | Withheld | None = None
    group: Literal["A", "B"] | Withheld | None = None
    f05: bool | Withheld = False


class CasePage(msgspec.Struct, frozen=True):
    items: list[CaseListItem]
    next: str | None


def case_document(
    state: CaseState, steps: list[str], health: bool, integrity: IntegrityField
) -> CaseDocument:
    """The case as the API shows it; its health fields withheld unless `health`."""
    fields = {name: getattr(state, name) for name in state.__struct_fields__}
    doc = CaseDocument(
        **fields, id=UUID(state.case_id), stage=state.stage, group=state.group, f05=state.f05,
        next_steps=steps, suggested_partner=suggest_partner(state), integrity=integrity,
    )  # fmt: skip
    if not health:
        doc = msgspec.structs.replace(doc, **dict.fromkeys(HEALTH_FIELDS, NOT_PERMITTED))
    return doc


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]
    security = API_SECURITY

    @post(
        "/",
        operation_id="openCase",
        summary="Open a case (and start its journey)",
        dto=Decoded[c.OpenCase],
        return_dto=None,
        responses=problems(*COMMAND_ERRORS),
        response_headers=COMMAND_HEADERS,
    )
    async def open_case(
        self,
        data: JSONBody[c.OpenCase],
        request: Request,
        services: ServicesDep,
        actor: ActorDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CommandAnswer]:
        """Every failing field is named at once (identity code, area, team), before a journey
        starts. With an `Idempotency-Key` the case id follows from caller and key, so a retried
        opening finds the same case."""
        key = checked_key(idempotency_key)
        rules.check_open_case(data, services.app.context(actor))
        async with claimed(services, open_case_scope(actor), key, data) as earlier:
            if earlier:
                return command_response(earlier, status=201)
            outcome = await services.journeys.open_case(data, caller(request, actor), key)
        return command_response(outcome, status=201)

    @get(
        "/",
        operation_id="listCases",
        summary="Cases, most recently active first (from a view)",
        responses=problems(*API_ERRORS),
    )
    async def list_cases(
        self,
        services: ServicesDep,
        actor: ActorDep,
        area: NameFilter = None,
        team: NameFilter = None,
        stage: NameFilter = None,
        tag: NameFilter = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Cursor = None,
    ) -> CasePage:
        """`next` continues the list (a cursor this list did not give out is a 400). Group A/B
        is withheld from those who may not see health data."""
        page = await to_thread.run_sync(
            lambda: list_cases(
                services.projections.cases, area=area, team=team, stage=stage, tag=tag, q=q,
                limit=limit, cursor=cursor,
            )
        )  # fmt: skip
        shown = []
        for item in page.items:
            if not may_see_health(actor, item.area, item.team, item.assignee):
                item.group = NOT_PERMITTED
            elif item.group is not None:
                shown.append(item.id)
        await to_thread.run_sync(services.app.access.record, actor, shown, "health", "listCases")
        return CasePage(page.items, page.next)

    @get(
        "/{case_id:uuid}",
        operation_id="getCase",
        summary="A case now, or as it stood",
        responses=problems(*API_ERRORS, 404),
        response_headers=[
            ResponseHeader(
                name="ETag", value='"3"', description="The version shown", documentation_only=True
            ),
            ResponseHeader(
                name="Casework-Integrity",
                value="broken; version=7",
                description="Present when the case's stored history fails verification"
                " (`broken`) or an admin acknowledged that it did (`acknowledged`)",
                documentation_only=True,
            ),
        ],
    )
    async def get_case(
        self,
        case_id: FromPath[UUID],
        services: ServicesDep,
        actor: ActorDep,
        version: Annotated[int | None, QueryParameter(ge=1, le=MAX_VERSION)] = None,
        known_at: Annotated[datetime | None, QueryParameter(description=KNOWN_AT)] = None,
        as_of: Annotated[datetime | None, QueryParameter(description="known_at's alias")] = None,
        effective_at: Annotated[datetime | None, QueryParameter(description=EFFECTIVE_AT)] = None,
        reason: ReadReason = None,
    ) -> Response[CaseDocument]:
        check_moments(known_at=known_at, as_of=as_of, effective_at=effective_at)
        if as_of is not None and known_at is not None:
            raise ValidationFailed.field("as_of", "as_of is another name for known_at: give one")
        known_at = known_at or as_of
        past = known_at is not None or effective_at is not None
        if past and version is not None:
            raise ValidationFailed.field("version", "give a version or a moment, not both")

        def read() -> tuple[CaseState, int, CaseState]:
            # Who works on the case, and so sees its health data, is judged on the case now.
            now = services.app.get_case(case_id)
            if past:
                return (*services.app.case_at(case_id, known_at, effective_at), now.state)
            then = now if version is None else services.app.get_case(case_id, version=version)
            return then.state, then.version, now.state

        state, known, now = await to_thread.run_sync(read)
        require_reason(actor, now.area, reason)
        # The whole chain, on every read: a few milliseconds at 500 events (README).
        integrity = await to_thread.run_sync(services.app.integrity.verify, case_id)
        ctx = services.app.context(actor)
        steps = next_steps(state, ctx) if version is None and not past else []
        health = sees_health_of(actor, now)
        doc = case_document(state, steps, health, integrity_field(integrity))
        await record_read(services, actor, case_id, "getCase", reason, health)
        headers = {"ETag": f'"{known}"'} | integrity_headers(integrity)
        return Response(doc, headers=headers)

    @get(
        "/{case_id:uuid}/history",
        operation_id="getHistory",
        summary="The events of a case, oldest first (keyset-paged)",
        responses=problems(*API_ERRORS, 404),
    )
    async def get_history(
        self,
        case_id: FromPath[UUID],
        services: ServicesDep,
        actor: ActorDep,
        limit: Limit = 50,
        cursor: Cursor = None,
        reason: ReadReason = None,
    ) -> HistoryPage:
        after = decode_cursor(cursor, tuple[int])[0] if cursor else 0
        state = (await to_thread.run_sync(services.app.get_case, case_id)).state
        require_reason(actor, state.area, reason)
        items = await to_thread.run_sync(history, services.app, case_id, after, limit + 1)
        page = items[:limit]
        allowed = sees_health_of(actor, state)
        if not allowed:
            page = [_withheld(item) for item in page]
        health = allowed and any(item.type in HEALTH_EVENTS for item in page)
        await record_read(services, actor, case_id, "getHistory", reason, health)
        more = len(items) > limit
        return HistoryPage(page, encode_cursor([page[-1].version]) if more else None)


def _protected(event_type: str, field: str) -> bool:
    return field in getattr(getattr(events, event_type, None), "protected", ())


def _withheld(item: HistoryItem) -> HistoryItem:
    """The item without its protected fields, for a reader who may not see them."""
    data = {k: NOT_PERMITTED if _protected(item.type, k) else v for k, v in item.data.items()}
    reason = NOT_PERMITTED if item.reason is not None else None
    return msgspec.structs.replace(item, data=data, reason=reason)


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
        preconditions: PreconditionsDep,
    ) -> Response[CommandAnswer]:
        outcome = await run_command(request, services, actor, case_id, data, preconditions)
        return command_response(outcome)

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
