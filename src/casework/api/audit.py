"""Auditors' routes: a case's chain verified, its export, and the report of who read what."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from anyio import to_thread
from litestar import Controller, Response, get
from litestar.params import FromPath, QueryParameter

from casework.access_log import AccessPage, ActorRef
from casework.api.deps import ActorDep, Cursor, Limit, ReadReason, ServicesDep
from casework.api.integrity import integrity_headers
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.api.reads import check_moments, record_read, require_reason
from casework.audit import CaseExport, export, verify
from casework.integrity import Verification


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    security = API_SECURITY

    @get(
        "/cases/{case_id:uuid}/verify",
        operation_id="verifyCase",
        summary="Whether a case's stored history verifies, or its first broken version and why",
        responses=problems(*API_ERRORS, 404),
    )
    async def verify_case(
        self, case_id: FromPath[UUID], services: ServicesDep
    ) -> Response[Verification]:
        result = await to_thread.run_sync(verify, services.app, case_id)
        return Response(result, headers=integrity_headers(result))

    @get(
        "/cases/{case_id:uuid}/export",
        operation_id="exportCase",
        summary="Everything held on a case: its history, the state it makes, its integrity",
        responses=problems(*API_ERRORS, 404),
    )
    async def export_case(
        self,
        case_id: FromPath[UUID],
        services: ServicesDep,
        actor: ActorDep,
        reason: ReadReason = None,
    ) -> CaseExport:
        case = await to_thread.run_sync(services.app.get_case, case_id)
        require_reason(actor, case.state.area, reason)
        by = ActorRef(actor.id, actor.role)
        exported = await to_thread.run_sync(export, services.app, case_id, by, reason)
        await record_read(services, actor, case_id, "exportCase", reason, health=True)
        return exported

    @get(
        "/access",
        operation_id="accessReport",
        summary="Who read which health data, partner payload or identity code, when, how and why",
        responses=problems(*API_ERRORS),
    )
    async def access(
        self,
        services: ServicesDep,
        case: Annotated[UUID | None, QueryParameter(description="reads of this case")] = None,
        reader: Annotated[
            str | None,
            QueryParameter(name="actor", min_length=1, max_length=200, description="by this id"),
        ] = None,
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to", description="exclusive")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AccessPage:
        check_moments(**{"from": start, "to": end})
        return await to_thread.run_sync(
            lambda: services.app.access.report(
                case_id=case, actor_id=reader, start=start, end=end, limit=limit, cursor=cursor
            )
        )
