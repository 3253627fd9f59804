"""Lists from views: the stalled-case queue and employers for matching (partners' inboxes:
`api/partners.py`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
import structlog
from anyio import to_thread
from litestar import Controller, get
from litestar.params import QueryParameter

from casework.api.deps import ActorDep, Cursor, NameFilter, Services, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.paging import MAX_LIMIT
from projections.queries import (
    EmployerItem,
    QueueItem,
    employers_for_matching,
    faulted_journeys,
    stalled_queue,
)
from workflows.messages import case_of_workflow

log = structlog.get_logger("casework.api")


class StalledPage(msgspec.Struct, frozen=True):
    items: list[QueueItem]
    next: str | None


class EmployerPage(msgspec.Struct, frozen=True):
    items: list[EmployerItem]
    next: str | None


class QueueController(Controller):
    path = "/api/queues"
    tags = ["queues"]
    security = API_SECURITY

    @get(
        "/stalled",
        operation_id="stalledQueue",
        summary="Stalled steps, oldest first",
        responses=problems(*API_ERRORS),
    )
    async def stalled(
        self,
        services: ServicesDep,
        actor: ActorDep,
        area: NameFilter = None,
        team: NameFilter = None,
        step: NameFilter = None,
        partner: NameFilter = None,
        at_risk_days: Annotated[int, QueryParameter(ge=0, le=60)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Cursor = None,
    ) -> StalledPage:
        # The first page starts with the journeys that cannot run, then the queue proper.
        first = cursor is None and not partner and step in (None, "journey")
        faults = await _faulted(services) if first else []
        faults = [f for f in faults if area in (None, f.area) and team in (None, f.team)]
        page = await to_thread.run_sync(
            lambda: stalled_queue(
                services.projections.cases, datetime.now(UTC), area=area, team=team, step=step,
                partner=partner, at_risk_days=at_risk_days, limit=max(1, limit - len(faults)),
                cursor=cursor,
            )
        )  # fmt: skip
        return StalledPage(faults + page.items, page.next)


async def _faulted(services: Services) -> list[QueueItem]:
    """Cases whose journey keeps failing its workflow task, first in every coordinator's queue.
    The queue itself comes from a view: without Temporal it is served without them."""
    try:
        problems = await services.journeys.with_task_problems(limit=MAX_LIMIT)
    except Exception as error:  # Temporal away: the view's queue still stands
        log.warning("faulted journeys not read", error=type(error).__name__)
        return []
    case_ids = {case_of_workflow(workflow_id) for workflow_id in (problems or (0, []))[1]}
    found = sorted(case_id for case_id in case_ids if case_id is not None)
    if not found:
        return []
    return await to_thread.run_sync(faulted_journeys, services.projections.cases, found)


class EmployerController(Controller):
    path = "/api/employers"
    tags = ["employers"]
    security = API_SECURITY

    @get(
        "/",
        operation_id="employersForMatching",
        summary="Interested employers (a view)",
        responses=problems(*API_ERRORS),
    )
    async def interested(
        self,
        services: ServicesDep,
        actor: ActorDep,
        sector: NameFilter = None,
        area: NameFilter = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Cursor = None,
    ) -> EmployerPage:
        page = await to_thread.run_sync(
            lambda: employers_for_matching(
                services.projections.employers, sector=sector, area=area, limit=limit,
                cursor=cursor,
            )
        )  # fmt: skip
        return EmployerPage(page.items, page.next)
