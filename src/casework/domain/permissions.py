"""Who may do and see what (DOMAIN.md "Data protection"): one table, read by the API's guard, the
journey rules and the field filters, and the source the authorisation tests are generated from.

Three questions, three parts of the table:

- *May this caller call this route?* `ROUTES`, by the route's operation id. A role not listed is
  refused with 403, unless the route names something the role may not know exists (a case, to a
  partner; another partner's inbox): then 404, as if there were nothing there.
- *May this caller run this command on this case?* `COMMANDS` names the roles; the case decides
  the rest (`works_on`: staff and coordinators of its area; a partner only on its own handoff,
  and a partner who has none on the case does not learn that it exists).
- *May this caller see this case's health data?* `may_see_health`: staff who work on the case
  (its team or its assignee), coordinators of its area, auditors. Every read of it is recorded.
- *Must this caller say why they read this case?* `missing_reason`: auditors always,
  coordinators for a case outside their area. The reason is recorded with the read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from casework.domain.commands import CASE_COMMANDS, Actor
from casework.domain.state import CaseState

STAFF = frozenset({"staff", "coordinator"})
PARTNER = frozenset({"partner"})
SYSTEM = frozenset({"system"})
COORDINATOR = frozenset({"coordinator"})
READERS = frozenset({"staff", "coordinator", "auditor", "admin"})
"""Who reads cases, lists and queues: everyone of the office, not partners."""
OVERSEERS = frozenset({"coordinator", "auditor", "admin"})
ADMIN = frozenset({"admin"})
SIGNED_IN = READERS | PARTNER
AUDITOR = frozenset({"auditor"})


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """Who may call one API operation."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    """No token needed (liveness, readiness, metrics)."""
    hidden_from: frozenset[str] = frozenset()
    """Roles refused with 404 rather than 403: what the route names is not theirs to know of."""
    own_partner: bool = False
    """The path names a partner: a partner may name only itself (another's answers 404)."""
    all_areas: bool = False
    """It acts on every area's cases: only a caller of all areas (`area` `*`) may."""


ROUTES: dict[str, Route] = {
    # Operators
    "health": Route(public=True),
    "ready": Route(public=True),
    "metrics": Route(public=True),
    # Staff: cases
    "openCase": Route(roles=STAFF),
    "lookupCase": Route(roles=STAFF),
    "listCases": Route(roles=READERS),
    "getCase": Route(roles=READERS, hidden_from=PARTNER),
    "getHistory": Route(roles=READERS, hidden_from=PARTNER),
    "runCommand": Route(roles=STAFF | PARTNER),  # a partner on a case without its handoff: 404
    # Coordinators
    "stalledQueue": Route(roles=READERS),
    "indicators": Route(roles=OVERSEERS),
    "employersForMatching": Route(roles=READERS),
    "stallPolicy": Route(roles=READERS),
    "migratePolicy": Route(roles=COORDINATOR | ADMIN, all_areas=True),
    # Partners: their tasks, read by overseers too (values only to those who may see health data)
    "partnerTasks": Route(roles=PARTNER | OVERSEERS, own_partner=True),
    "getPartnerTask": Route(roles=PARTNER | OVERSEERS, own_partner=True),
    "acknowledgeTask": Route(roles=PARTNER, own_partner=True),
    "requestTaskInfo": Route(roles=PARTNER, own_partner=True),
    "acceptTask": Route(roles=PARTNER, own_partner=True),
    "rejectTask": Route(roles=PARTNER, own_partner=True),
    "redirectTask": Route(roles=PARTNER, own_partner=True),
    "completeTask": Route(roles=PARTNER, own_partner=True),
    "registerWebhook": Route(roles=PARTNER | ADMIN, own_partner=True),
    "getWebhook": Route(roles=PARTNER | ADMIN, own_partner=True),
    "removeWebhook": Route(roles=PARTNER | ADMIN, own_partner=True),
    # Auditors
    "verifyCase": Route(roles=AUDITOR | ADMIN, hidden_from=PARTNER),
    "exportCase": Route(roles=AUDITOR, hidden_from=PARTNER),
    "accessReport": Route(roles=AUDITOR),
    # Admins
    "acknowledgeIntegrityBreak": Route(roles=ADMIN),
    # Everyone signed in
    "getReference": Route(roles=SIGNED_IN),
}
"""Every API operation, by its operation id. A route missing here cannot be called (the guard
refuses it), and the authorisation tests fail for it."""

# Live updates (server-sent events): each stream under the rule of what it belongs to.
STREAMS = {
    "caseStream": "getCase",
    "stalledQueueStream": "stalledQueue",
    "partnerTasksStream": "partnerTasks",
}
ROUTES.update({stream: ROUTES[page] for stream, page in STREAMS.items()})

COMMANDS: dict[str, frozenset[str]] = {name: STAFF for name in CASE_COMMANDS} | {
    "open_case": STAFF | SYSTEM,
    "record_self_assessment": STAFF | SYSTEM,
    "acknowledge_handoff": PARTNER,
    "request_handoff_info": PARTNER,
    "accept_handoff": PARTNER,
    "reject_handoff": PARTNER,
    "redirect_handoff": PARTNER,
    "complete_handoff": PARTNER,
    "flag_stall": SYSTEM,
    "escalate_stall": SYSTEM | COORDINATOR,  # the service past twice the limit, or by hand
    "acknowledge_stall": COORDINATOR,
    "send_handoff_reminder": SYSTEM,
}
"""Which roles may run each command on a case."""

HEALTH_EVENTS = frozenset(
    {"DiagnosisRecorded", "SicknessAllowanceRecorded", "SelfAssessmentRecorded"}
)
HEALTH_FIELDS = ("diagnosed", "group", "sickness_days_used", "f05", "self_assessments")
"""The fields of a case document that are health data."""


class Withheld(msgspec.Struct, frozen=True):
    """What a caller sees in place of a value: one it may not see, one erased with its client's
    key, or one whose sealed bytes fail to open."""

    withheld: Literal["not_permitted", "erased", "tampered"]


NOT_PERMITTED = Withheld("not_permitted")


class Refusal(msgspec.Struct, frozen=True):
    status: int
    """403: not allowed; 404: not the caller's to know of."""
    detail: str


def route_refusal(route: Route, actor: Actor, partner_in_path: str | None = None) -> Refusal | None:
    """Why `actor` may not call this route, or None if it may."""
    if route.public:
        return None
    if actor.role not in route.roles:
        if actor.role in route.hidden_from:
            return Refusal(404, "nothing here")
        return Refusal(403, f"a {actor.role} may not do this")
    if route.own_partner and actor.role == "partner" and actor.partner != partner_in_path:
        return Refusal(404, "nothing here")
    if route.all_areas and actor.area != "*":
        return Refusal(403, "this acts on every area's cases: it needs a caller of all areas")
    return None


def command_refusal(
    actor: Actor, name: str, area: str, handoff_partners: Iterable[str] | None = None
) -> Refusal | None:
    """Why `actor` may not run command `name` on a case of `area` whose handoffs are addressed
    to `handoff_partners` (None: the case is being opened), or None if it may."""
    if handoff_partners is not None and not knows_case(actor, handoff_partners):
        return Refusal(404, "no such case")
    if actor.role not in COMMANDS[name]:
        return Refusal(403, f"a {actor.role} may not {name.replace('_', ' ')}")
    if actor.role in STAFF and not in_area(actor, area) and handoff_partners is None:
        return Refusal(403, f"{actor.role} of area {actor.area} cannot open a case in {area}")
    if actor.role in STAFF and not in_area(actor, area):
        return Refusal(403, f"the case belongs to area {area}")
    return None


def in_area(actor: Actor, area: str) -> bool:
    return actor.area in ("*", area)


def knows_case(actor: Actor, handoff_partners: Iterable[str]) -> bool:
    """Whether the caller may learn that a case exists: the office may; a partner only through
    a handoff addressed to it; the service itself always."""
    if actor.role == "partner":
        return actor.partner in set(handoff_partners)
    return actor.role in READERS or actor.role in SYSTEM


def may_see_health(actor: Actor, area: str, team: str | None, assignee: str | None) -> bool:
    """Health data: staff who work on the case (its team or its assignee), coordinators of the
    case's area, auditors."""
    if actor.role == "auditor":
        return True
    if actor.role == "coordinator":
        return in_area(actor, area)
    if actor.role == "staff" and in_area(actor, area):
        return (actor.team is not None and actor.team == team) or actor.id == assignee
    return False


def sees_health_of(actor: Actor, state: CaseState) -> bool:
    return may_see_health(actor, state.area, state.team, state.assignee)


def missing_reason(actor: Actor, area: str, reason: str | None) -> str | None:
    """Why a read of a case of `area` needs the reason it lacks, or None: an auditor says why
    they read any case, a coordinator why they read one outside their own area."""
    if reason is not None:
        return None
    if actor.role == "auditor":
        return "an auditor says why they read a case: give a reason"
    if actor.role == "coordinator" and not in_area(actor, area):
        return f"the case belongs to area {area}, not yours: give a reason for reading it"
    return None
