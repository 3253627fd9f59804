"""What every read of a case does besides answering: it asks for the reason the authorisation
table requires (`permissions.missing_reason`), and records what it showed (`access_log.py`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from anyio import to_thread

from casework.api.deps import Services
from casework.domain.commands import Actor
from casework.domain.errors import FieldError, ValidationFailed
from casework.domain.limits import moment_error
from casework.domain.permissions import missing_reason


def require_reason(actor: Actor, area: str, reason: str | None) -> None:
    """A 422 naming `reason` when this reader must say why they read a case of `area`."""
    if message := missing_reason(actor, area, reason):
        raise ValidationFailed.field("reason", message)


async def record_read(
    services: Services,
    actor: Actor,
    case_id: UUID,
    route: str,
    reason: str | None,
    health: bool,
) -> None:
    """Record a read that showed health data, and any read its reader gave a reason for."""
    if health or reason is not None:
        what = "health" if health else "case"
        await to_thread.run_sync(services.app.access.record, actor, [case_id], what, route, reason)


def check_moments(**moments: datetime | None) -> None:
    """A 422 naming every time parameter without its offset or outside the calendar."""
    errors = [
        FieldError(name, message)
        for name, moment in moments.items()
        if moment is not None and (message := moment_error(moment))
    ]
    if errors:
        raise ValidationFailed(errors)
