"""Errors as `application/problem+json`: a sentence a person understands, a code a program can use.

Never a stack trace: an unexpected error is logged by type and request id and answered with a 500
that says only that.
"""

from __future__ import annotations

from typing import Any

import msgspec
import psycopg
import psycopg_pool
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from temporalio.service import RPCError, RPCStatusCode

from casework.domain.errors import (
    CaseworkError,
    FieldError,
    IntegrityBroken,
    StaleVersion,
    ValidationFailed,
)
from workflows.client import Refused, TemporalUnavailable

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = "5"
log = structlog.get_logger("casework.api")

STATUS = {
    "malformed": 400,
    "not_authenticated": 401,
    "not_permitted": 403,
    "not_found": 404,
    "illegal_step": 409,
    "consent_missing": 409,
    "open_case_exists": 409,
    "stale_version": 409,
    "duplicate_client": 409,
    "integrity_broken": 409,
    "too_large": 413,
    "validation_failed": 422,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "unavailable": 503,
}
TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not permitted",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Malformed(CaseworkError):
    code = "malformed"


def problem(
    code: str, detail: str, status: int | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    status = status or STATUS.get(code, 400)
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    } | {k: v for k, v in extra.items() if v is not None}
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else {}
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return msgspec.to_builtins(errors)


def on_casework_error(_: Request, error: CaseworkError) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(error, ValidationFailed):
        extra["errors"] = field_errors(error.errors)
    if isinstance(error, StaleVersion):
        extra["current_version"] = error.current_version
    if isinstance(error, IntegrityBroken):
        extra["first_broken_version"] = error.first_broken_version
    return problem(error.code, error.detail, **extra)


def on_refused(_: Request, error: Refused) -> Response[dict[str, Any]]:
    details = {k: v for k, v in error.details.items() if k not in ("code", "detail")}
    return problem(error.code, error.detail, **details)


def on_http_exception(request: Request, error: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(error, ValidationException) and (errors := _parameter_errors(request, error)):
        return on_casework_error(request, ValidationFailed(errors))
    status = error.status_code
    code = {404: "not_found", 413: "too_large", 400: "malformed", 401: "not_authenticated"}.get(
        status, "http_error"
    )
    detail = error.detail if status != 500 else "something went wrong on our side"
    return problem(code, detail or TITLES.get(status, "error"), status)


def _parameter_errors(request: Request, error: ValidationException) -> list[FieldError]:
    """Litestar's failing query, path or header parameters, each named as the caller named it."""
    extra = error.extra if isinstance(error.extra, list) else []
    return [
        FieldError(_parameter_name(request, str(e["key"])), str(e.get("message", "invalid")))
        for e in extra
        if isinstance(e, dict) and "key" in e
    ]


def _parameter_name(request: Request, key: str) -> str:
    # Litestar names a failing parameter by its Python name (`last`), not its own (`to`).
    field = request.route_handler.parsed_fn_signature.parameters.get(key)
    return getattr(getattr(field, "kwarg_definition", None), "name", None) or key


def on_unavailable(request: Request, error: Exception) -> Response[dict[str, Any]]:
    log.warning("dependency unavailable", error=type(error).__name__, path=request.url.path)
    return problem("unavailable", "a service casework depends on is not answering; try again", 503)


def on_rpc_error(request: Request, error: RPCError) -> Response[dict[str, Any]]:
    if error.status == RPCStatusCode.NOT_FOUND:
        return problem("not_found", "no such case (or its journey is not running)")
    return on_unavailable(request, error)


def on_unexpected(request: Request, error: Exception) -> Response[dict[str, Any]]:
    log.error("unexpected error", error=type(error).__name__, path=request.url.path)
    return problem("internal_error", "something went wrong on our side", 500)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    CaseworkError: on_casework_error,
    Refused: on_refused,
    HTTPException: on_http_exception,
    RPCError: on_rpc_error,
    OperationalError: on_unavailable,
    InterfaceError: on_unavailable,
    psycopg.OperationalError: on_unavailable,
    psycopg_pool.PoolTimeout: on_unavailable,
    ConnectionError: on_unavailable,
    TemporalUnavailable: on_unavailable,
    TimeoutError: on_unavailable,
    Exception: on_unexpected,
}
