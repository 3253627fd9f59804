"""Lists from views: the stalled-case queue, employers for matching, the partner inboxes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog
from anyio import to_thread
from litestar import Controller, get
from litestar.params import QueryParameter

from casework.api.deps import ActorDep, NameFilter, NamePath, Services, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain.permissions import Withheld
from projections.queries import (
    MAX_LIMIT,
    EmployerItem,
    QueueItem,
    employers_for_matching,
    faulted_journeys,
    partner_inbox,
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


class TaskPayload(msgspec.Struct, frozen=True):
    """What the office shares with the partner: the summary and the fields the client's
    consent names."""

    summary: str | Withheld  # withheld once the client's key is erased
    shares: list[str]


class PartnerTask(msgspec.Struct, frozen=True):
    case_id: UUID
    handoff_id: str
    status: str
    since: datetime
    due: datetime | None
    payload: TaskPayload


class TaskPage(msgspec.Struct, frozen=True):
    items: list[PartnerTask]
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
    ) -> StalledPage:
        page = await to_thread.run_sync(
            lambda: stalled_queue(
                services.projections.cases, datetime.now(UTC), area=area, team=team, step=step,
                partner=partner, at_risk_days=at_risk_days, limit=limit,
            )
        )  # fmt: skip
        faults = [] if partner or step not in (None, "journey") else await _faulted(services)
        faults = [f for f in faults if area in (None, f.area) and team in (None, f.team)]
        return StalledPage((faults + page.items)[:limit], page.next)


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
    ) -> EmployerPage:
        items = await to_thread.run_sync(
            lambda: employers_for_matching(
                services.projections.employers, sector=sector, area=area, limit=limit
            )
        )
        return EmployerPage(items, None)


class PartnerController(Controller):
    path = "/api/partners"
    tags = ["partners"]
    security = API_SECURITY

    @get(
        "/{partner:str}/tasks",
        operation_id="partnerTasks",
        summary="A partner's open handoffs",
        responses=problems(*API_ERRORS, 404),
    )
    async def tasks(
        self,
        partner: NamePath,
        services: ServicesDep,
        actor: ActorDep,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
    ) -> TaskPage:
        rows = await to_thread.run_sync(
            lambda: partner_inbox(services.projections.cases, partner, limit)
        )
        items = [await to_thread.run_sync(_task, services, row) for row in rows]
        return TaskPage(items, None)


def _task(services: Services, row: dict[str, Any]) -> PartnerTask:
    # The minimised payload is read from the sealed request event, never copied into the view.
    request = next(
        services.app.events.get(
            row["case_id"], gt=row["requested_version"] - 1, lte=row["requested_version"]
        )
    )
    return PartnerTask(
        case_id=row["case_id"],
        handoff_id=row["handoff_id"],
        status=row["status"],
        since=row["since"],
        due=row["due"],
        payload=TaskPayload(request.summary, row["shares"]),
    )
