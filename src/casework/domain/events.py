"""Events of a client's journey: past-tense facts, each evolving the plain case state.

Every event carries `meta` (actor, correlation and causation ids, when the fact took effect) and the
`reason` a person gave. Fields named in `protected` hold personal or health data: the store encrypts
them with the client's key before they are written (casework.store), so erasing a client is the
destruction of one key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar

import msgspec
from eventsourcing.domain import Aggregate

from casework.domain.commands import Command, Context, effective_time
from casework.domain.state import (
    CaseState,
    Coaching,
    Employment,
    Handoff,
    JobReferral,
    Stall,
    Subsidy,
    reminder_key,
)


class EventMeta(msgspec.Struct, frozen=True):
    actor_id: str
    actor_role: str
    correlation_id: str
    causation_id: str | None
    effective_at: datetime


def created_items(events: Iterable[object]) -> dict[str, str]:
    """The items these events created, by kind: `{"handoff": "handoff-16"}` (an item's id is its
    kind and the version that created it)."""
    ids = [getattr(e, field) for e in events if (field := getattr(e, "creates", None))]
    return {item_id.rsplit("-", 1)[0]: item_id for item_id in ids}


def meta_for(cmd: Command, ctx: Context, effective_at: datetime | None = None) -> EventMeta:
    return EventMeta(
        actor_id=ctx.actor.id,
        actor_role=ctx.actor.role,
        correlation_id=ctx.correlation_id,
        causation_id=ctx.causation_id,
        effective_at=effective_at or effective_time(cmd, ctx),
    )


class Fact(Aggregate.Event):
    """Base of every event after the first: who, why, and when it took effect."""

    meta: EventMeta
    reason: str | None

    # Fields sealed with the client's key; employers' and sessions' events hold none.
    protected: ClassVar[tuple[str, ...]] = ()

    @property
    def effective_at(self) -> datetime:
        return self.meta.effective_at


class CaseEvent(Fact):
    protected: ClassVar[tuple[str, ...]] = ("reason",)
    # Events the service writes by itself do not count as activity on the case.
    is_activity: ClassVar[bool] = True
    creates: ClassVar[str | None] = None
    """The field holding the id of the item this event creates (`handoff_id`), if it creates one."""

    def apply(self, aggregate: Any) -> None:
        fold(aggregate.state, self)

    def evolve(self, state: CaseState) -> None:
        """Change the plain case state as this fact says; every case event defines it."""
        raise NotImplementedError(type(self).__name__)

    def holds_on(self, state: CaseState) -> bool:
        """Whether what this fact moves on is in the state. A later step of an item needs the
        item; on a state of the facts in effect at a moment, a step back-dated before its item
        took effect finds none, and is not in effect either (`domain/timeline.py`)."""
        return True


class CaseOpened(Aggregate.Created):
    meta: EventMeta
    reason: str | None
    client_id: str
    area: str
    team: str
    channel: str
    assignee: str | None

    protected: ClassVar[tuple[str, ...]] = ("reason",)
    # Version 1 predates the digital channel: every case was opened by staff.
    class_version: ClassVar[int] = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["channel"] = "staff"

    def apply(self, aggregate: Any) -> None:
        aggregate.state = fold(None, self)

    def opened_state(self) -> CaseState:
        return CaseState(
            case_id=str(self.originator_id),
            client_id=self.client_id,
            area=self.area,
            team=self.team,
            channel=self.channel,
            assignee=self.assignee,
            opened_at=self.meta.effective_at,
            last_event_at=self.meta.effective_at,
            version=self.originator_version,
        )


def fold(state: CaseState | None, event: CaseOpened | CaseEvent) -> CaseState:
    """The case's state after `event` (None before its opening; changed in place after): the one
    fold of a case, run by the aggregate and by the case views."""
    if isinstance(event, CaseOpened):
        return event.opened_state()
    assert state is not None, f"{type(event).__name__} before the case's opening"
    event.evolve(state)
    state.version = event.originator_version
    if event.is_activity:
        # A back-dated fact does not turn the inactivity clock back.
        last = state.last_event_at
        state.last_event_at = max(last, event.effective_at) if last else event.effective_at
    return state


def _earliest(known: datetime | None, at: datetime) -> datetime:
    return at if known is None else min(known, at)


class ScreeningRecorded(CaseEvent):
    answers: dict[str, str]
    concern: bool

    protected = (*CaseEvent.protected, "answers")

    def evolve(self, state: CaseState) -> None:
        state.screened = True
        state.concern = self.concern
        state.screened_at = self.effective_at


SELF_ASSESSMENT_AREAS = (
    "overall", "mental_wellbeing", "social_participation", "physical_functioning", "skills",
    "everyday_coping",
)  # fmt: skip


class SelfAssessmentRecorded(CaseEvent):
    scores: dict[str, int]

    protected = (*CaseEvent.protected, "scores")

    def evolve(self, state: CaseState) -> None:
        state.self_assessments += 1
        state.self_assessed_at = _earliest(state.self_assessed_at, self.effective_at)


class TasmatyoTagAdded(CaseEvent):
    basis: str

    def evolve(self, state: CaseState) -> None:
        state.tasmatyo = True
        state.tag_basis = self.basis
        state.tagged_at = self.effective_at
        state.tag_decided = True
        if state.identified_at is None:
            state.identified_at = self.effective_at


class TasmatyoTagRemoved(CaseEvent):
    def evolve(self, state: CaseState) -> None:
        state.tasmatyo = False
        state.tag_basis = None
        state.tagged_at = None


class TasmatyoTagDeclined(CaseEvent):
    def evolve(self, state: CaseState) -> None:
        state.tag_decided = True


class DiagnosisRecorded(CaseEvent):
    icd_chapter: str
    b_statement_on: date

    protected = (*CaseEvent.protected, "icd_chapter", "b_statement_on")

    def evolve(self, state: CaseState) -> None:
        state.diagnosed = True
        state.diagnosed_at = _earliest(state.diagnosed_at, self.effective_at)
        if state.identified_at is None:
            state.identified_at = self.effective_at


class WorkHistoryRecorded(CaseEvent):
    years: int
    last_insured: str

    def evolve(self, state: CaseState) -> None:
        state.work_history_years = self.years
        state.last_insured = self.last_insured


class SicknessAllowanceRecorded(CaseEvent):
    days_used: int

    protected = (*CaseEvent.protected, "days_used")

    def evolve(self, state: CaseState) -> None:
        state.sickness_days_used = self.days_used


class CoachingReferred(CaseEvent):
    coaching_id: str

    creates = "coaching_id"

    def evolve(self, state: CaseState) -> None:
        state.coaching.append(Coaching(self.coaching_id, "referred", self.effective_at))


class _CoachingMoved(CaseEvent):
    coaching_id: str
    to_status: ClassVar[str]

    def evolve(self, state: CaseState) -> None:
        item = state.coaching_item(self.coaching_id)
        assert item is not None
        item.status = self.to_status  # type: ignore[assignment]
        item.since = self.effective_at

    def holds_on(self, state: CaseState) -> bool:
        return state.coaching_item(self.coaching_id) is not None


class CoachingStarted(_CoachingMoved):
    to_status = "started"


class CoachingCompleted(_CoachingMoved):
    to_status = "completed"


class CoachingInterrupted(_CoachingMoved):
    to_status = "interrupted"


class MatchProposed(CaseEvent):
    employer_id: str
    sector: str

    def evolve(self, state: CaseState) -> None:
        state.matches += 1


class JobReferralMade(CaseEvent):
    referral_id: str
    employer_id: str
    vacancy_id: str

    creates = "referral_id"

    def evolve(self, state: CaseState) -> None:
        state.referrals.append(
            JobReferral(
                self.referral_id, self.employer_id, self.vacancy_id, "made", self.effective_at
            )
        )


class JobReferralOutcomeRecorded(CaseEvent):
    referral_id: str
    hired: bool

    def evolve(self, state: CaseState) -> None:
        item = state.referral(self.referral_id)
        assert item is not None
        item.status = "hired" if self.hired else "not_hired"
        item.since = self.effective_at

    def holds_on(self, state: CaseState) -> bool:
        return state.referral(self.referral_id) is not None


class SubsidyApplied(CaseEvent):
    subsidy_id: str
    kind: str
    employer_id: str | None

    creates = "subsidy_id"

    def evolve(self, state: CaseState) -> None:
        state.subsidies.append(Subsidy(self.subsidy_id, self.kind, "applied", self.effective_at))


class SubsidyDecided(CaseEvent):
    subsidy_id: str
    granted: bool

    def evolve(self, state: CaseState) -> None:
        item = state.subsidy(self.subsidy_id)
        assert item is not None
        item.status = "granted" if self.granted else "denied"
        item.since = self.effective_at

    def holds_on(self, state: CaseState) -> bool:
        return state.subsidy(self.subsidy_id) is not None


class HandoffRequested(CaseEvent):
    handoff_id: str
    partner: str
    consent: dict[str, Any]
    summary: str
    shares: list[str]

    protected = (*CaseEvent.protected, "summary")
    creates = "handoff_id"

    def evolve(self, state: CaseState) -> None:
        state.handoffs.append(
            Handoff(
                self.handoff_id,
                self.partner,
                "requested",
                self.effective_at,
                consent_partners=list(self.consent["partners"]),
            )
        )


class _HandoffMoved(CaseEvent):
    handoff_id: str
    to_status: ClassVar[str]

    def evolve(self, state: CaseState) -> None:
        item = state.handoff(self.handoff_id)
        assert item is not None
        item.status = self.to_status  # type: ignore[assignment]
        item.since = self.effective_at
        item.answered = False

    def holds_on(self, state: CaseState) -> bool:
        return state.handoff(self.handoff_id) is not None


class HandoffAcknowledged(_HandoffMoved):
    to_status = "acknowledged"


class HandoffInfoRequested(_HandoffMoved):
    question: str

    protected = (*CaseEvent.protected, "question")
    to_status = "info_requested"


class HandoffInfoSupplied(_HandoffMoved):
    answer: str

    protected = (*CaseEvent.protected, "answer")
    to_status = "acknowledged"

    def evolve(self, state: CaseState) -> None:
        super().evolve(state)
        item = state.handoff(self.handoff_id)
        assert item is not None
        item.answered = True


class HandoffAccepted(_HandoffMoved):
    to_status = "accepted"


class HandoffRejected(_HandoffMoved):
    to_status = "rejected"


class HandoffRedirected(_HandoffMoved):
    to_partner: str
    new_handoff_id: str

    to_status = "redirected"
    creates = "new_handoff_id"

    def evolve(self, state: CaseState) -> None:
        old = state.handoff(self.handoff_id)
        assert old is not None
        super().evolve(state)
        state.handoffs.append(
            Handoff(
                self.new_handoff_id,
                self.to_partner,
                "requested",
                self.effective_at,
                consent_partners=old.consent_partners,
                consent_of=old.consent_of or old.id,
                consent_withdrawn=old.consent_withdrawn,
            )
        )


class HandoffCompleted(_HandoffMoved):
    outcome: str

    to_status = "completed"

    def evolve(self, state: CaseState) -> None:
        super().evolve(state)
        item = state.handoff(self.handoff_id)
        assert item is not None
        item.outcome = self.outcome


class ConsentWithdrawn(CaseEvent):
    """The client withdrew the consent a handoff rests on: no partner sees its values again."""

    handoff_id: str

    def evolve(self, state: CaseState) -> None:
        item = state.handoff(self.handoff_id)
        assert item is not None
        root = item.consent_of or item.id
        for handoff in state.handoffs:
            if (handoff.consent_of or handoff.id) == root:
                handoff.consent_withdrawn = True


class HandoffReminderSent(CaseEvent):
    handoff_id: str
    step: str
    since: datetime

    is_activity = False

    def evolve(self, state: CaseState) -> None:
        item = state.handoff(self.handoff_id)
        assert item is not None
        item.reminded = reminder_key(self.step, self.since)

    def holds_on(self, state: CaseState) -> bool:
        return state.handoff(self.handoff_id) is not None


class EmploymentStarted(CaseEvent):
    starts_on: date
    employer_id: str | None
    subsidy_id: str | None

    def evolve(self, state: CaseState) -> None:
        state.employment = Employment(
            self.starts_on, self.employer_id, with_pay_subsidy=self.subsidy_id is not None
        )


class FollowUpRecorded(CaseEvent):
    month: int
    employed: bool

    def evolve(self, state: CaseState) -> None:
        assert state.employment is not None
        state.employment.follow_ups[str(self.month)] = self.employed

    def holds_on(self, state: CaseState) -> bool:
        return state.employment is not None


class StepStalled(CaseEvent):
    step: str
    item: str | None
    waiting_on: str
    since: datetime
    due: datetime
    policy_version: str

    is_activity = False

    def evolve(self, state: CaseState) -> None:
        state.stalls.append(
            Stall(
                self.step,
                self.item,
                self.waiting_on,
                self.since,
                self.due,
                self.policy_version,
                stalled_at=self.effective_at,
            )
        )


class StallEscalated(CaseEvent):
    step: str
    item: str | None

    is_activity = False

    def evolve(self, state: CaseState) -> None:
        stall = state.stall(self.step, self.item)
        assert stall is not None
        stall.escalated = True

    def holds_on(self, state: CaseState) -> bool:
        return state.stall(self.step, self.item) is not None


class StallAcknowledged(CaseEvent):
    step: str
    item: str | None
    note: str

    protected = (*CaseEvent.protected, "note")
    is_activity = False  # oversight, not work on the case: the inactivity clock runs on

    def evolve(self, state: CaseState) -> None:
        stall = state.stall(self.step, self.item)
        assert stall is not None
        stall.acknowledged_by = self.meta.actor_id
        stall.acknowledged_at = self.effective_at

    def holds_on(self, state: CaseState) -> bool:
        return state.stall(self.step, self.item) is not None


class StallCleared(CaseEvent):
    step: str
    item: str | None

    is_activity = False

    def evolve(self, state: CaseState) -> None:
        state.stalls = [s for s in state.stalls if (s.step, s.item) != (self.step, self.item)]


class CaseReassigned(CaseEvent):
    assignee: str
    team: str

    def evolve(self, state: CaseState) -> None:
        state.assignee = self.assignee
        state.team = self.team


class NoteAdded(CaseEvent):
    text: str

    protected = (*CaseEvent.protected, "text")

    def evolve(self, state: CaseState) -> None:
        pass


class CaseClosed(CaseEvent):
    outcome: str

    def evolve(self, state: CaseState) -> None:
        state.closed = True
        state.close_outcome = self.outcome
