"""The Litestar application, assembled in one place."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import structlog
import swagger_ui_bundle
from anyio import to_thread
from litestar import Litestar, Request, Response, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from casework.api.cases import CaseController
from casework.api.deps import Services, ServicesDep, provide_actor
from casework.api.indicators import IndicatorController
from casework.api.integrity import IntegrityController
from casework.api.problems import EXCEPTION_HANDLERS, problem
from casework.api.queues import EmployerController, PartnerController, QueueController
from casework.domain.errors import FieldError, ValidationFailed
from casework.domain.limits import printable_name, text_error

MAX_BODY = 1024 * 1024
# A request id travels into logs, response headers and every event's metadata: printable ASCII.
REQUEST_ID = re.compile(rb"[!-~]{1,100}")
ASSETS = "/schema/assets"
log = structlog.get_logger("casework.api")


def request_log(app: ASGIApp) -> ASGIApp:
    """One log line per request: method, path, status, duration, request id — never a body."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"")[:100]
        rid = given.decode() if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware


def refuse_control_characters(request: Request) -> None:
    """No query or path parameter of any route may hold a control character (NUL breaks SQL)."""
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    errors = [
        FieldError(printable_name(name), message)
        for name, value in params
        if (message := text_error(name) or (isinstance(value, str) and text_error(value)))
    ]
    if errors:
        raise ValidationFailed(errors)


@get("/health", operation_id="health", tags=["operations"])
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/ready", operation_id="ready", tags=["operations"])
async def ready(services: ServicesDep) -> Response[dict[str, Any]]:
    """Readiness: PostgreSQL and Temporal both answer."""
    checks: dict[str, str] = {}
    try:
        await to_thread.run_sync(services.app.ping)
        checks["postgres"] = "ok"
    except Exception as error:  # any failure means not ready; the reason is in the body
        checks["postgres"] = type(error).__name__
    try:
        await services.journeys.client.service_client.check_health(timeout=timedelta(seconds=2))
        checks["temporal"] = "ok"
    except Exception as error:  # as above
        checks["temporal"] = type(error).__name__
    views = await to_thread.run_sync(services.projections.status)
    for view in views:
        checks[f"view:{view.view}"] = view.error or "ok"
    lag = {v.view: {"events": v.lag_events, "seconds": v.lag_seconds} for v in views}
    if all(v == "ok" for v in checks.values()):
        return Response({"status": "ready", "checks": checks, "lag": lag})
    failing = [name for name, v in checks.items() if v != "ok"]
    return problem("unavailable", "not ready: " + ", ".join(failing), 503, checks=checks, lag=lag)


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


def create_app(services: Services) -> Litestar:
    assets = swagger_ui_bundle.swagger_ui_path
    return Litestar(
        route_handlers=[
            CaseController,
            QueueController,
            PartnerController,
            EmployerController,
            IndicatorController,
            IntegrityController,
            health,
            ready,
            metrics,
            create_static_files_router(path=ASSETS, directories=[assets], include_in_schema=False),
        ],
        dependencies={
            "services": Provide(lambda: services, sync_to_thread=False),
            "actor": Provide(provide_actor),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=refuse_control_characters,
        middleware=[request_log],
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(
            title="casework",
            version="1",
            path="/schema",
            render_plugins=[
                # Served from the swagger-ui-bundle package: the docs work offline.
                SwaggerRenderPlugin(
                    path="/swagger",
                    js_url=f"{ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
                )
            ],
        ),
        logging_config=None,
    )
