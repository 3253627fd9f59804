"""Operators' routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal

import anyio
import msgspec
from anyio import to_thread
from litestar import Request, Response, get
from msgspec import UNSET, UnsetType

from casework.api.auth import NotAuthenticated
from casework.api.deps import ServicesDep, actor_of
from casework.api.problems import problem_response, problems
from casework.domain.permissions import READERS
from casework.problems import Problem, problem
from projections.runner import ViewStatus
from workflows.reconcile import journeys_lost


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok"]
    components: dict[str, str] | UnsetType = UNSET
    """Under `casework up`: each server it runs, "up" or why not."""


class ServerDown(Problem, frozen=True, kw_only=True):
    components: dict[str, str]


@get(
    "/health",
    operation_id="health",
    tags=["operations"],
    responses=problems(503, kind=ServerDown),
)
async def health(services: ServicesDep) -> Response[Health]:
    """Liveness, cheap (no query): the process answers, and so does every server it runs
    under `casework up` — else 503 naming the component that is down (it is being restarted)."""
    components = services.components() if services.components else {}
    down = [name for name, state in components.items() if state != "up"]
    if not down:
        return Response(Health("ok", components or UNSET))
    detail = f"{', '.join(down)} down; casework is restarting it"
    return problem_response(problem("unavailable", detail, kind=ServerDown, components=components))


CHECK_SECONDS = 2.0  # a server that hangs (rather than refuses) must not hang /ready


async def _check(call: Callable[[], Awaitable[object]]) -> str:
    """The check's outcome: ok, or what went wrong by name only (an error's text may quote
    stored data)."""
    try:
        with anyio.fail_after(CHECK_SECONDS):
            await call()
    except TimeoutError:
        return "no answer"
    except Exception as error:  # any failure means not ready
        return type(error).__name__
    return "ok"


def _view_check(view: ViewStatus) -> str:
    # The runner names the event by position and kind, never by its values.
    if view.error is not None:
        return view.error
    return "ok" if view.running else "not running"


def _may_see_details(request: Request) -> bool:
    try:
        return actor_of(request).role in READERS
    except NotAuthenticated:
        return False


class Lag(msgspec.Struct, frozen=True):
    events: int
    seconds: float


class Ready(msgspec.Struct, frozen=True):
    status: Literal["ready", "degraded"]
    checks: dict[str, str] | UnsetType = UNSET
    """Each check by name: "ok", or what failed (by name, never an error's text)."""
    lag: dict[str, Lag] | UnsetType = UNSET
    """Each view's lag behind the event log."""


class NotReady(Problem, frozen=True, kw_only=True):
    checks: dict[str, str] | UnsetType = UNSET
    lag: dict[str, Lag] | UnsetType = UNSET


@get(
    "/ready",
    operation_id="ready",
    tags=["operations"],
    responses=problems(503, kind=NotReady),
)
async def ready(request: Request, services: ServicesDep) -> Response[Ready]:
    """Readiness: PostgreSQL and Temporal answer and journeys run (else 503). A view that
    fails on an event, or workflows whose tasks keep failing, make it `degraded` (200): the
    API still serves, and taking every API process out of rotation for one bad event would be
    worse. The checks and lags are shown to staff, coordinators, admins and auditors; anyone
    else gets the status only."""
    views: list[ViewStatus] = []
    problems: list[tuple[int, list[str]] | None] = []

    async def read_views() -> None:
        views.extend(await to_thread.run_sync(services.projections.status, abandon_on_cancel=True))

    async def journeys_run() -> None:
        if await journeys_lost(services.app, services.journeys.client):
            raise JourneysLost

    async def read_problems() -> None:
        problems.append(await services.journeys.with_task_problems())

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "postgres": lambda: to_thread.run_sync(services.app.ping, abandon_on_cancel=True),
        "temporal": lambda: services.journeys.client.service_client.check_health(
            timeout=timedelta(seconds=CHECK_SECONDS)
        ),
        "journeys": journeys_run,
        "views": read_views,
        "workflows": read_problems,
    }
    results = await asyncio.gather(*(_check(call) for call in calls.values()))
    checks = dict(zip(calls, results, strict=True))
    degraded = {f"view:{view.view}": _view_check(view) for view in views}
    if problems and problems[0] and problems[0][0]:
        count, ids = problems[0]
        degraded["workflows"] = f"{count} keep failing their task: {', '.join(ids)}"
    checks |= degraded
    failing = [name for name, v in checks.items() if v != "ok" and name not in degraded]
    details: dict[str, Any] = {}
    if _may_see_details(request):
        lag = {v.view: Lag(v.lag_events, v.lag_seconds) for v in views}
        details = {"checks": checks, "lag": lag}
    if failing:
        detail = "not ready: " + ", ".join(failing) if details else "not ready"
        return problem_response(problem("unavailable", detail, kind=NotReady, **details))
    status = "degraded" if any(v != "ok" for v in degraded.values()) else "ready"
    return Response(Ready(status, **details))


class JourneysLost(Exception):
    """Cases are open but Temporal runs no journey (it is being reconciled)."""


@get("/metrics", operation_id="metrics", tags=["operations"], media_type="text/plain")
async def metrics(services: ServicesDep) -> str:
    """Prometheus text: each view's position and lag."""
    lines = [
        "# HELP casework_view_lag_events Events recorded but not yet applied to the view.",
        "# TYPE casework_view_lag_events gauge",
    ]
    views = await to_thread.run_sync(services.projections.status)
    lines += [f'casework_view_lag_events{{view="{v.view}"}} {v.lag_events}' for v in views]
    lines += [
        "# HELP casework_view_lag_seconds Age of the oldest event not yet applied to the view.",
        "# TYPE casework_view_lag_seconds gauge",
    ]
    lines += [f'casework_view_lag_seconds{{view="{v.view}"}} {v.lag_seconds}' for v in views]
    lines += [
        "# HELP casework_view_running 1 while the view follows the log, 0 if it stopped.",
        "# TYPE casework_view_running gauge",
    ]
    lines += [f'casework_view_running{{view="{v.view}"}} {int(v.running)}' for v in views]
    lines += [
        "# HELP casework_view_failures_total Times the view failed and tried again since start.",
        "# TYPE casework_view_failures_total counter",
    ]
    lines += [f'casework_view_failures_total{{view="{v.view}"}} {v.failures}' for v in views]
    if problems := await services.journeys.with_task_problems(limit=0):
        lines += [
            "# HELP casework_workflows_failing_tasks Journeys and handoffs whose workflow task"
            " keeps failing (Temporal's reported problems).",
            "# TYPE casework_workflows_failing_tasks gauge",
            f"casework_workflows_failing_tasks {problems[0]}",
        ]
    return "\n".join(lines) + "\n"
