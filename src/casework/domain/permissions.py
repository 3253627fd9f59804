"""Who may see what (DOMAIN.md "Data protection"), as pure predicates over the actor's claims."""

from __future__ import annotations

from casework.domain.commands import Actor

HEALTH_EVENTS = frozenset(
    {"DiagnosisRecorded", "SicknessAllowanceRecorded", "SelfAssessmentRecorded"}
)
HEALTH_FIELDS = ("diagnosed", "group", "sickness_days_used", "f05", "self_assessments")


def may_see_case(actor: Actor) -> bool:
    """Staff, coordinators and auditors see cases; partners see only their handoff tasks."""
    return actor.role in ("staff", "coordinator", "auditor", "admin")


def may_see_health(actor: Actor, case_area: str) -> bool:
    """Health data: staff of the client's own area, coordinators and auditors (reads recorded)."""
    if actor.role in ("coordinator", "auditor"):
        return True
    return actor.role == "staff" and actor.area in ("*", case_area)
