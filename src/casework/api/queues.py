"""Lists from views: the stalled-case queue, employers for matching, the partner inboxes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from anyio import to_thread
from litestar import Controller, get
from litestar.params import QueryParameter

from casework.api.deps import ActorDep, NameFilter, NamePath, Services, ServicesDep
from casework.paging import MAX_LIMIT
from projections.queries import (
    employers_for_matching,
    faulted_journeys,
    partner_inbox,
    stalled_queue,
)
from workflows.messages import case_of_workflow

log = structlog.get_logger("casework.api")


class QueueController(Controller):
    path = "/api/queues"
    tags = ["queues"]

    @get("/stalled", operation_id="stalledQueue", summary="Stalled steps, oldest first")
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
    ) -> dict[str, Any]:
        page = await to_thread.run_sync(
            lambda: stalled_queue(
                services.projections.cases, datetime.now(UTC), area=area, team=team, step=step,
                partner=partner, at_risk_days=at_risk_days, limit=limit,
            )
        )  # fmt: skip
        faults = [] if partner or step not in (None, "journey") else await _faulted(services)
        faults = [f for f in faults if area in (None, f["area"]) and team in (None, f["team"])]
        return {"items": (faults + page.items)[:limit], "next": page.next}


async def _faulted(services: Services) -> list[dict[str, Any]]:
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

    @get("/", operation_id="employersForMatching", summary="Interested employers (a view)")
    async def interested(
        self,
        services: ServicesDep,
        actor: ActorDep,
        sector: NameFilter = None,
        area: NameFilter = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        items = await to_thread.run_sync(
            lambda: employers_for_matching(
                services.projections.employers, sector=sector, area=area, limit=limit
            )
        )
        return {"items": items, "next": None}


class PartnerController(Controller):
    path = "/api/partners"
    tags = ["partners"]

    @get("/{partner:str}/tasks", operation_id="partnerTasks", summary="A partner's open handoffs")
    async def tasks(
        self,
        partner: NamePath,
        services: ServicesDep,
        actor: ActorDep,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        rows = await to_thread.run_sync(
            lambda: partner_inbox(services.projections.cases, partner, limit)
        )
        items = [await to_thread.run_sync(_task, services, row) for row in rows]
        return {"items": items, "next": None}


def _task(services: Any, row: dict[str, Any]) -> dict[str, Any]:
    # The minimised payload is read from the sealed request event, never copied into the view.
    request = next(
        services.app.events.get(
            row["case_id"], gt=row["requested_version"] - 1, lte=row["requested_version"]
        )
    )
    return {
        "case_id": str(row["case_id"]),
        "handoff_id": row["handoff_id"],
        "status": row["status"],
        "since": row["since"].isoformat(),
        "due": row["due"].isoformat() if row["due"] else None,
        "payload": {"summary": request.summary, "shares": row["shares"]},
    }
