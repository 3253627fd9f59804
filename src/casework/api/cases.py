"""Staff routes on cases: open, read (now or as it stood), run a command, read the history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from casework.api.bodies import decode_body
from casework.api.commanding import (
    MAX_VERSION,
    caller,
    claimed,
    command_response,
    idempotency_key,
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
from casework.api.integrity import integrity_field, integrity_headers
from casework.api.reads import check_moments, record_read, require_reason
from casework.application import open_case_scope
from casework.audit import HistoryItem, HistoryPage, history
from casework.domain import commands as c
from casework.domain import events
from casework.domain.errors import (
    UnknownCommand,
    ValidationFailed,
)
from casework.domain.permissions import HEALTH_EVENTS, HEALTH_FIELDS, may_see_health, sees_health_of
from casework.domain.rules import next_steps, suggest_partner
from casework.domain.state import CaseState
from casework.paging import MAX_LIMIT, decode_cursor, encode_cursor
from projections.queries import list_cases

WITHHELD = {"withheld": "not_permitted"}
KNOWN_AT = "The case as recorded by then: what the office knew at that moment."
EFFECTIVE_AT = "Only the facts in effect at that moment (as known now, or at known_at)."


def case_document(state: CaseState, steps: list[str], health: bool) -> dict[str, Any]:
    """The case as the API shows it; its health fields withheld unless `health`."""
    doc: dict[str, Any] = {"id": state.case_id} | msgspec.to_builtins(state)
    doc |= {"stage": state.stage, "group": state.group, "f05": state.f05, "next_steps": steps}
    doc["suggested_partner"] = msgspec.to_builtins(suggest_partner(state))
    if not health:
        doc |= dict.fromkeys(HEALTH_FIELDS, WITHHELD)
    return doc


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]

    @post("/", operation_id="openCase", summary="Open a case (and start its journey)")
    async def open_case(
        self, request: Request, services: ServicesDep, actor: ActorDep
    ) -> Response[dict[str, Any]]:
        cmd = decode_body(c.OpenCase, await request.body())
        key = idempotency_key(request)
        async with claimed(services, open_case_scope(actor), key, cmd) as earlier:
            if earlier:
                return command_response(earlier, status=201)
            outcome = await services.journeys.open_case(
                msgspec.to_builtins(cmd), caller(request, actor), key
            )
        return command_response(outcome, status=201)

    @get("/", operation_id="listCases", summary="Cases, most recently active first (from a view)")
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
    ) -> dict[str, Any]:
        page = await to_thread.run_sync(
            lambda: list_cases(
                services.projections.cases, area=area, team=team, stage=stage, tag=tag, q=q,
                limit=limit, cursor=cursor,
            )
        )  # fmt: skip
        shown = []
        for item in page.items:
            if not may_see_health(actor, item["area"], item["team"], item["assignee"]):
                item["group"] = WITHHELD
            elif item["group"] is not None:
                shown.append(UUID(item["id"]))
        await to_thread.run_sync(services.app.access.record, actor, shown, "health", "listCases")
        return {"items": page.items, "next": page.next}

    @get("/{case_id:uuid}", operation_id="getCase", summary="A case now, or as it stood")
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
    ) -> Response[dict[str, Any]]:
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
        doc = case_document(state, steps, health) | {"integrity": integrity_field(integrity)}
        await record_read(services, actor, case_id, "getCase", reason, health)
        headers = {"ETag": f'"{known}"'} | integrity_headers(integrity)
        return Response(doc, headers=headers)

    @post(
        "/{case_id:uuid}/commands/{name:str}",
        operation_id="runCommand",
        summary="Run a command on a case",
        status_code=200,
    )
    async def run_command(
        self,
        case_id: FromPath[UUID],
        name: NamePath,
        request: Request,
        services: ServicesDep,
        actor: ActorDep,
    ) -> Response[dict[str, Any]]:
        cls = c.CASE_COMMANDS.get(name)
        if cls is None:
            raise UnknownCommand(name)
        cmd = decode_body(cls, await request.body())
        return command_response(await run_command(request, services, actor, case_id, cmd))

    @get(
        "/{case_id:uuid}/history",
        operation_id="getHistory",
        summary="The events of a case, oldest first (keyset-paged)",
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
    data = {k: WITHHELD if _protected(item.type, k) else v for k, v in item.data.items()}
    reason = WITHHELD if item.reason is not None else None
    return msgspec.structs.replace(item, data=data, reason=reason)
