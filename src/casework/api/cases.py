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
from casework.api.deps import ActorDep, Cursor, NameFilter, NamePath, ServicesDep
from casework.api.integrity import integrity_field, integrity_headers
from casework.application import open_case_scope
from casework.audit import history
from casework.domain import commands as c
from casework.domain import events, limits
from casework.domain.case import ClientCase
from casework.domain.errors import (
    UnknownCommand,
    ValidationFailed,
)
from casework.domain.permissions import HEALTH_EVENTS, HEALTH_FIELDS, may_see_health, sees_health_of
from casework.domain.rules import next_steps
from projections.queries import MAX_LIMIT, list_cases

WITHHELD = {"withheld": "not_permitted"}


def case_document(case: ClientCase, actor: c.Actor, steps: list[str]) -> dict[str, Any]:
    state = case.state
    doc: dict[str, Any] = {"id": str(case.id)} | msgspec.to_builtins(state)
    doc |= {"stage": state.stage, "group": state.group, "f05": state.f05, "next_steps": steps}
    if not sees_health_of(actor, state):
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
        as_of: Annotated[datetime | None, QueryParameter()] = None,
    ) -> Response[dict[str, Any]]:
        if as_of is not None and (message := limits.moment_error(as_of)):
            raise ValidationFailed.field("as_of", message)

        def read() -> ClientCase:
            if as_of is not None:
                return services.app.case_at(case_id, as_of)
            return services.app.get_case(case_id, version=version)

        case = await to_thread.run_sync(read)
        # The whole chain, on every read: a few milliseconds at 500 events (README).
        integrity = await to_thread.run_sync(services.app.integrity.verify, case_id)
        ctx = services.app.context(actor)
        steps = next_steps(case.state, ctx) if version is None and as_of is None else []
        doc = case_document(case, actor, steps) | {"integrity": integrity_field(integrity)}
        if sees_health_of(actor, case.state):
            await to_thread.run_sync(
                services.app.access.record, actor, [case_id], "health", "getCase"
            )
        headers = {"ETag": f'"{case.version}"'} | integrity_headers(integrity)
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

    @get("/{case_id:uuid}/history", operation_id="getHistory", summary="Every event of a case")
    async def get_history(
        self,
        case_id: FromPath[UUID],
        services: ServicesDep,
        actor: ActorDep,
    ) -> dict[str, Any]:
        items = await to_thread.run_sync(history, services.app, case_id)
        allowed = sees_health_of(actor, services.app.get_case(case_id).state)
        out = []
        for item in items:
            doc = msgspec.to_builtins(item)
            if not allowed:
                doc["data"] = {
                    k: WITHHELD if _protected(item.type, k) else v for k, v in doc["data"].items()
                }
                if doc["reason"] is not None:
                    doc["reason"] = WITHHELD
            out.append(doc)
        if allowed and any(item.type in HEALTH_EVENTS for item in items):
            await to_thread.run_sync(
                services.app.access.record, actor, [case_id], "health", "getHistory"
            )
        return {"items": out, "next": None}


def _protected(event_type: str, field: str) -> bool:
    return field in getattr(getattr(events, event_type, None), "protected", ())
