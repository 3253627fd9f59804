"""Staff find a client's cases by personal identity code: sent in the body (never in a URL, which
lands in logs), matched exactly through the client register's keyed digest, and recorded."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import post
from litestar.params import JSONBody

from casework.api.bodies import Decoded
from casework.api.deps import ActorDep, Services, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain.commands import Actor, IdentityCode, Reason, refuse_hostile
from casework.domain.errors import NotFound
from casework.domain.state import Stage


class LookupCase(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    identity_code: IdentityCode
    reason: Reason | None = None
    """Why the client is looked up; recorded with the lookup."""

    def __post_init__(self) -> None:
        refuse_hostile(self)


class FoundCase(msgspec.Struct, frozen=True):
    id: UUID
    open: bool
    area: str
    team: str
    stage: Stage
    opened_at: datetime


class FoundCases(msgspec.Struct, frozen=True):
    items: list[FoundCase]
    """The open case first."""
    next: str | None = None


@post(
    "/api/cases/lookup",
    operation_id="lookupCase",
    summary="A client's cases, by personal identity code (the lookup is recorded)",
    tags=["cases"],
    status_code=200,
    dto=Decoded[LookupCase],
    return_dto=None,
    security=API_SECURITY,
    responses=problems(*API_ERRORS, 404, 413),
)
async def lookup_case(
    data: JSONBody[LookupCase], services: ServicesDep, actor: ActorDep
) -> FoundCases:
    found = await to_thread.run_sync(_cases, services, data, actor)
    if not found:
        # The same answer whether the code is unregistered or its client has no case.
        raise NotFound("no case is held for this personal identity code")
    return FoundCases(found)


def _cases(services: Services, body: LookupCase, actor: Actor) -> list[FoundCase]:
    app = services.app
    client_id = app.clients.find(body.identity_code, actor, "lookupCase", body.reason)
    case_ids = app.cases_of(client_id) if client_id else []
    states = [app.get_case(case_id).state for case_id in case_ids]
    return [
        FoundCase(UUID(s.case_id), not s.closed, s.area, s.team, s.stage, s.opened_at)
        for s in states
    ]
