"""Errors as `application/problem+json` (`casework.problems`): every exception a route can meet
becomes a problem answer, and `problems(...)` declares a route's in its OpenAPI.

Never a stack trace: an unexpected error is logged by type and request id and answered with a 500
that says only that.
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from temporalio.service import RPCError, RPCStatusCode

from casework.domain.errors import CaseworkError, FieldError, ValidationFailed
from casework.problems import TITLES, Problem, problem, problem_of
from workflows.client import Refused, TemporalUnavailable

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = "5"
API_ERRORS = (400, 401, 403, 422, 503)
"""What any API route may answer besides its own: a malformed request, no or a bad token, a role
the route does not serve, a parameter it refuses, a dependency away."""
log = structlog.get_logger("casework.api")


class Malformed(CaseworkError):
    code = "malformed"


def problem_response(problem: Problem) -> Response[Problem]:
    """A problem as the response: its status, problem+json, and `Retry-After` on a 429 or 503."""
    headers = {"Retry-After": RETRY_AFTER} if problem.status in (429, 503) else {}
    return Response(problem, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def problems(*statuses: int, kind: type[Problem] = Problem) -> dict[int, ResponseSpec]:
    """The problem+json answers of a route, for its OpenAPI."""
    return {
        status: ResponseSpec(kind, description=TITLES[status], media_type=PROBLEM_JSON)
        for status in sorted(set(statuses))
    }


def on_casework_error(_: Request, error: CaseworkError) -> Response[Problem]:
    return problem_response(problem_of(error))


def on_refused(_: Request, refused: Refused) -> Response[Problem]:
    return problem_response(refused.problem)


def on_http_exception(request: Request, error: HTTPException) -> Response[Problem]:
    if isinstance(error, ValidationException) and (errors := _parameter_errors(request, error)):
        return on_casework_error(request, ValidationFailed(errors))
    status = error.status_code
    code = {404: "not_found", 413: "too_large", 400: "malformed", 401: "not_authenticated"}.get(
        status, "http_error"
    )
    detail = error.detail if status != 500 else "something went wrong on our side"
    return problem_response(problem(code, detail or TITLES.get(status, "error"), status))


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
    definition = getattr(field, "kwarg_definition", None)
    return getattr(definition, "name", None) or key


def on_unavailable(request: Request, error: Exception) -> Response[Problem]:
    log.warning("dependency unavailable", error=type(error).__name__, path=request.url.path)
    detail = "a service casework depends on is not answering; try again"
    return problem_response(problem("unavailable", detail))


def on_rpc_error(request: Request, error: RPCError) -> Response[Problem]:
    if error.status == RPCStatusCode.NOT_FOUND:
        return problem_response(
            problem("not_found", "no such case (or its journey is not running)")
        )
    return on_unavailable(request, error)


def on_unexpected(request: Request, error: Exception) -> Response[Problem]:
    log.error("unexpected error", error=type(error).__name__, path=request.url.path)
    return problem_response(problem("internal_error", "something went wrong on our side"))


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
