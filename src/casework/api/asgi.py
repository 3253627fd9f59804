"""The Litestar application, assembled in one place."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from casework.api.audit import AuditController
from casework.api.cases import COMMAND_ROUTES, CaseController
from casework.api.commanding import provide_preconditions
from casework.api.coordination import CoordinationController
from casework.api.deps import Services, authorise, provide_actor
from casework.api.indicators import IndicatorController
from casework.api.integrity import IntegrityController
from casework.api.lookup import lookup_case
from casework.api.openapi import ASSETS, CommandSchemas, openapi_config, swagger_assets
from casework.api.operations import health, metrics, ready
from casework.api.partners import TASK_ACTIONS, PartnerController
from casework.api.problems import EXCEPTION_HANDLERS
from casework.api.queues import EmployerController, QueueController
from casework.api.reference import get_reference
from casework.api.streams import STREAM_ROUTES
from casework.domain.errors import FieldError, ValidationFailed
from casework.domain.limits import printable_name, text_error

MAX_BODY = 1024 * 1024
# A request id travels into logs, response headers and every event's metadata: printable ASCII.
REQUEST_ID = re.compile(rb"[!-~]{1,100}")
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


def create_app(services: Services) -> Litestar:
    return Litestar(
        route_handlers=[
            CaseController,
            *COMMAND_ROUTES,
            CoordinationController,
            QueueController,
            PartnerController,
            *TASK_ACTIONS,
            EmployerController,
            IndicatorController,
            IntegrityController,
            AuditController,
            lookup_case,
            get_reference,
            *STREAM_ROUTES,
            health,
            ready,
            metrics,
            create_static_files_router(
                path=ASSETS, directories=[swagger_assets()], include_in_schema=False
            ),
        ],
        dependencies={
            "services": Provide(lambda: services, sync_to_thread=False),
            "actor": Provide(provide_actor, sync_to_thread=False),
            "preconditions": Provide(provide_preconditions, sync_to_thread=False),
        },
        guards=[authorise],
        on_shutdown=[services.streams.close],
        state=State({"services": services}),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=refuse_control_characters,
        middleware=[request_log],
        request_max_body_size=MAX_BODY,
        openapi_config=openapi_config(),
        plugins=[CommandSchemas()],
        logging_config=None,
    )
