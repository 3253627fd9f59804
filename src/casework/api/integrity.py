"""A case's integrity as the API shows it, and the admin's acknowledgement of a break."""

from __future__ import annotations

from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, post
from litestar.params import FromPath, JSONBody
from msgspec import UNSET, UnsetType

from casework.api.bodies import Decoded
from casework.api.deps import ActorDep, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain.commands import Reason, refuse_hostile
from casework.integrity import Acknowledgement, Verification

HEADER = "Casework-Integrity"


class AcknowledgeBreak(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason  # what was found and done about it; shown to everyone who reads the case

    def __post_init__(self) -> None:
        refuse_hostile(self)


class IntegrityField(msgspec.Struct, frozen=True):
    """`{"intact": true}`, or where the stored history fails and why; any acknowledgement."""

    intact: bool
    first_broken_version: int | UnsetType = UNSET
    problem: str | UnsetType = UNSET
    acknowledged: Acknowledgement | UnsetType = UNSET


class AcknowledgedBreak(msgspec.Struct, frozen=True):
    id: UUID
    integrity: IntegrityField


def integrity_field(result: Verification) -> IntegrityField:
    broken = not result.intact
    return IntegrityField(
        result.intact,
        first_broken_version=result.first_broken_version if broken else UNSET,
        problem=result.problem if broken and result.problem is not None else UNSET,
        acknowledged=result.acknowledged if result.acknowledged is not None else UNSET,
    )


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
    security = API_SECURITY

    @post(
        "/{case_id:uuid}/integrity/acknowledge",
        operation_id="acknowledgeIntegrityBreak",
        summary="Accept a case's broken history as it stands, so writes go through again",
        status_code=200,
        dto=Decoded[AcknowledgeBreak],
        return_dto=None,
        responses=problems(*API_ERRORS, 404, 409, 413),
    )
    async def acknowledge(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[AcknowledgeBreak],
        services: ServicesDep,
        actor: ActorDep,
    ) -> AcknowledgedBreak:
        result = await to_thread.run_sync(
            services.app.integrity.acknowledge, case_id, actor, data.reason
        )
        return AcknowledgedBreak(case_id, integrity_field(result))
