"""The plain state of a case: what the journey rules judge, and what the workflow holds.

Plain data only (msgspec Structs), so it can be sent to a Temporal workflow, snapshotted and
compared by equality. Events evolve it; rules read it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

CoachingStatus = Literal["referred", "started", "completed", "interrupted"]
ReferralStatus = Literal["made", "hired", "not_hired"]
SubsidyStatus = Literal["applied", "granted", "denied"]
HandoffStatus = Literal[
    "requested", "acknowledged", "info_requested", "accepted", "rejected", "redirected", "completed"
]
Stage = Literal["opened", "screened", "identified", "employed", "closed"]


class Coaching(msgspec.Struct):
    id: str
    status: CoachingStatus
    since: datetime


class JobReferral(msgspec.Struct):
    id: str
    employer_id: str
    vacancy_id: str
    status: ReferralStatus
    since: datetime


class Subsidy(msgspec.Struct):
    id: str
    kind: str
    status: SubsidyStatus
    since: datetime


class Handoff(msgspec.Struct):
    id: str
    partner: str
    status: HandoffStatus
    since: datetime
    consent_partners: list[str]
    outcome: str | None = None
    reminded: str | None = None  # the wait ("step@since") the partner was last reminded of
    consent_of: str | None = None
    """The handoff whose request holds the consent this one rests on (None: its own)."""
    consent_withdrawn: bool = False
    answered: bool = False
    """The office has answered the partner's latest question, and the partner not moved since."""


class Stall(msgspec.Struct):
    step: str
    item: str | None
    waiting_on: str
    since: datetime
    due: datetime
    policy_version: str
    escalated: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


class Employment(msgspec.Struct):
    starts_on: date
    employer_id: str | None
    with_pay_subsidy: bool
    follow_ups: dict[str, bool] = {}


class CaseState(msgspec.Struct):
    case_id: str
    client_id: str
    area: str
    team: str
    channel: str
    opened_at: datetime
    assignee: str | None = None
    screened: bool = False
    screened_at: datetime | None = None
    concern: bool | None = None
    tag_decided: bool = False
    tasmatyo: bool = False
    tag_basis: str | None = None
    identified_at: datetime | None = None
    diagnosed: bool = False
    self_assessments: int = 0
    work_history_years: int | None = None
    last_insured: str | None = None
    sickness_days_used: int | None = None
    coaching: list[Coaching] = []
    matches: int = 0
    referrals: list[JobReferral] = []
    subsidies: list[Subsidy] = []
    handoffs: list[Handoff] = []
    employment: Employment | None = None
    stalls: list[Stall] = []
    closed: bool = False
    close_outcome: str | None = None
    last_event_at: datetime | None = None
    version: int = 0

    @property
    def group(self) -> Literal["A", "B"] | None:
        """Group A: B statement and diagnosis class recorded; group B: identified, neither yet."""
        if self.diagnosed:
            return "A"
        return "B" if self.tasmatyo else None

    @property
    def stage(self) -> Stage:
        if self.closed:
            return "closed"
        if self.employment is not None:
            return "employed"
        if self.tasmatyo or self.diagnosed:
            return "identified"
        return "screened" if self.screened else "opened"

    @property
    def f05(self) -> bool:
        """Employed and has received the maximum 300 days of sickness allowance."""
        return self.employment is not None and self.sickness_days_used == 300

    def coaching_item(self, item_id: str) -> Coaching | None:
        return next((c for c in self.coaching if c.id == item_id), None)

    def referral(self, item_id: str) -> JobReferral | None:
        return next((r for r in self.referrals if r.id == item_id), None)

    def subsidy(self, item_id: str) -> Subsidy | None:
        return next((s for s in self.subsidies if s.id == item_id), None)

    def handoff(self, item_id: str) -> Handoff | None:
        return next((h for h in self.handoffs if h.id == item_id), None)

    def stall(self, step: str, item: str | None) -> Stall | None:
        return next((s for s in self.stalls if s.step == step and s.item == item), None)
