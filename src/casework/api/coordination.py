"""Coordinators' routes beyond the queues: the stall policy in force, which journeys run which
version of it, and moving them to the version in force."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody

from casework.api.bodies import Decoded
from casework.api.deps import ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain.policy import PolicyVersion, StallPolicy


class PolicyJourneys(msgspec.Struct, frozen=True):
    version: str | None
    """None: journeys started before journeys carried their policy version."""
    running: int
    in_force: bool


class PolicyReport(msgspec.Struct, frozen=True):
    in_force: StallPolicy
    journeys: list[PolicyJourneys]


class MigratePolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    from_version: PolicyVersion | None = None
    """The version whose journeys move; omit it for journeys that carry no version."""


class Migration(msgspec.Struct, frozen=True):
    from_version: str | None
    to_version: str
    moved: int


class CoordinationController(Controller):
    path = "/api/coordination"
    tags = ["coordinators"]
    security = API_SECURITY

    @get(
        "/policy",
        operation_id="stallPolicy",
        summary="The stall policy in force, and who runs which",
        responses=problems(*API_ERRORS),
    )
    async def policy(self, services: ServicesDep) -> PolicyReport:
        journeys = services.journeys
        counts = await journeys.journeys_by_policy()
        return PolicyReport(
            in_force=journeys.policy,
            journeys=[
                PolicyJourneys(version, running, version == journeys.policy.version)
                for version, running in counts.items()
            ],
        )

    @post(
        "/policy/migrate",
        operation_id="migratePolicy",
        summary="Move the running journeys of one policy version to the version in force",
        status_code=200,
        dto=Decoded[MigratePolicy],
        return_dto=None,
        responses=problems(*API_ERRORS, 413),
    )
    async def migrate(self, data: JSONBody[MigratePolicy], services: ServicesDep) -> Migration:
        moved = await services.journeys.migrate(data.from_version)
        return Migration(data.from_version, services.journeys.policy.version, moved)
