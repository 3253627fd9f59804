"""A case's integrity as the API shows it, and the admin's acknowledgement of a break."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Request, post
from litestar.params import FromPath

from casework.api.bodies import decode_body
from casework.api.deps import ActorDep, ServicesDep
from casework.domain.commands import Reason, refuse_hostile
from casework.integrity import Verification

HEADER = "Casework-Integrity"


class AcknowledgeBreak(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason  # what was found and done about it; shown to everyone who reads the case

    def __post_init__(self) -> None:
        refuse_hostile(self)


def integrity_field(result: Verification) -> dict[str, Any]:
    """`{"intact": true}`, or where the history fails and why; any acknowledgement on record."""
    field: dict[str, Any] = {"intact": result.intact}
    if not result.intact:
        field |= {"first_broken_version": result.first_broken_version, "problem": result.problem}
    if result.acknowledged is not None:
        field["acknowledged"] = msgspec.to_builtins(result.acknowledged)
    return field


def integrity_headers(result: Verification) -> dict[str, str]:
    """The alarm a client sees without parsing the body; none for a case never broken."""
    if not result.intact:
        return {HEADER: f"broken; version={result.first_broken_version}"}
    if result.acknowledged is not None:
        return {HEADER: f"acknowledged; version={result.acknowledged.first_broken_version}"}
    return {}


class IntegrityController(Controller):
    path = "/api/admin/cases"
    tags = ["admin"]

    @post(
        "/{case_id:uuid}/integrity/acknowledge",
        operation_id="acknowledgeIntegrityBreak",
        summary="Accept a case's broken history as it stands, so writes go through again",
        status_code=200,
    )
    async def acknowledge(
        self, case_id: FromPath[UUID], request: Request, services: ServicesDep, actor: ActorDep
    ) -> dict[str, Any]:
        body = decode_body(AcknowledgeBreak, await request.body())
        result = await to_thread.run_sync(
            services.app.integrity.acknowledge, case_id, actor, body.reason
        )
        return {"id": str(case_id), "integrity": integrity_field(result)}
