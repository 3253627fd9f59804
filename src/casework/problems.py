"""Problem details (`application/problem+json`, CONTRACT.md): what a caller is told when a request
is refused. One mapping turns a domain refusal into them, whichever path raised it: the API itself,
or a journey workflow whose refusal travels back through Temporal as this very document."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from casework.domain.errors import (
    CaseworkError,
    FieldError,
    IntegrityBroken,
    OpenCaseExists,
    StaleVersion,
    ValidationFailed,
)

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
    "internal_error": 500,
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


class EventSince(msgspec.Struct, frozen=True):
    """An event recorded after the version a stale `If-Match` named."""

    version: int
    type: str


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A refusal: a sentence a person understands (`detail`), a name a program can use (`code`),
    and, where they apply, every failing field and the case's current version."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | UnsetType = UNSET
    current_version: int | UnsetType = UNSET
    events_since: list[EventSince] | UnsetType = UNSET
    existing_case_id: UUID | UnsetType = UNSET
    first_broken_version: int | UnsetType = UNSET


P = TypeVar("P", bound=Problem)


def problem(
    code: str, detail: str, status: int | None = None, kind: type[P] = Problem, **extra: Any
) -> P:
    """A problem of this code (its status unless given), as `kind` with its extra fields."""
    status = status or STATUS.get(code, 400)
    return kind(
        type=f"/problems/{code}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        **extra,
    )


def problem_of(error: CaseworkError) -> Problem:
    """The problem details of a domain refusal."""
    extra: dict[str, Any] = {}
    if isinstance(error, ValidationFailed):
        extra["errors"] = error.errors
    if isinstance(error, StaleVersion):
        extra["current_version"] = error.current_version
    if isinstance(error, OpenCaseExists):
        extra["existing_case_id"] = error.existing_case_id
    if isinstance(error, IntegrityBroken):
        extra["first_broken_version"] = error.first_broken_version
    return problem(error.code, error.detail, **extra)
