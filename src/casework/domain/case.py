"""The ClientCase aggregate: one job seeker's journey in the programme.

Each public method is a domain verb taking its command and the acting context. It checks the journey
rules first, so a refused command records nothing; then it records the event that states the fact,
and clears any stall the fact has moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from casework.domain import commands as c
from casework.domain import events as e
from casework.domain import rules
from casework.domain.reference import reference
from casework.domain.state import CaseState

P = ParamSpec("P")
C = TypeVar("C", bound=c.Command)


def _command(
    verb: Callable[[ClientCase, C, c.Context], None],
) -> Callable[[ClientCase, C, c.Context], None]:
    """Wrap a verb: refuse it by the rules before anything is recorded, clear stalls after."""

    @wraps(verb)
    def run(case: ClientCase, cmd: C, ctx: c.Context) -> None:
        rules.check(case.state, cmd, ctx)
        verb(case, cmd, ctx)
        case._clear_moved_stalls(cmd, ctx)

    return run


class ClientCase(Aggregate):
    # `state` is set by CaseOpened.apply; declared for the type checker only, or eventsourcing
    # would make it a constructor argument.
    if TYPE_CHECKING:
        state: CaseState

    class Snapshot(Aggregate.Snapshot):  # type: ignore[valid-type,misc]  # a class at run time
        """A snapshot holds health data in its state, so it is sealed like the events."""

        protected = ("state",)

    @classmethod
    def open(cls, case_id: UUID, client_id: str, cmd: c.OpenCase, ctx: c.Context) -> ClientCase:
        rules.check_open_case(cmd, ctx)
        return cls._create(
            e.CaseOpened,
            id=case_id,
            timestamp=ctx.recorded_at,
            meta=e.meta_for(cmd, ctx),
            reason=cmd.reason,
            client_id=client_id,
            area=cmd.area,
            team=cmd.team,
            channel=cmd.channel,
            assignee=cmd.assignee,
        )

    def execute(self, cmd: c.Command, ctx: c.Context) -> None:
        """Run a command by its name (`RequestHandoff` → `request_handoff`)."""
        getattr(self, cmd.name())(cmd, ctx)

    def _record(
        self,
        event: type[e.CaseEvent],
        cmd: c.Command,
        ctx: c.Context,
        effective_at: datetime | None = None,
        **data: Any,
    ) -> None:
        meta = e.meta_for(cmd, ctx, effective_at)
        self.trigger_event(event, timestamp=ctx.recorded_at, meta=meta, reason=cmd.reason, **data)

    def _new_id(self, kind: str) -> str:
        # Items are named by the version of the event that creates them: stable and readable.
        return f"{kind}-{self.version + 1}"

    def _clear_moved_stalls(self, cmd: c.Command, ctx: c.Context) -> None:
        waiting = {(w.step, w.item, w.since) for w in rules.waiting_steps(self.state)}
        at = c.effective_time(cmd, ctx)
        for stall in list(self.state.stalls):
            if (stall.step, stall.item, stall.since) not in waiting:
                # A fact back-dated before the stall clears it no earlier than the stall took
                # effect: it was recorded, and ran for no time. (Stalls stored before
                # `stalled_at` was kept took effect at their deadline.)
                cleared = max(at, stall.stalled_at or stall.due)
                self._record(e.StallCleared, cmd, ctx, cleared, step=stall.step, item=stall.item)

    @_command
    def record_screening(self, cmd: c.RecordScreening, ctx: c.Context) -> None:
        self._record(e.ScreeningRecorded, cmd, ctx, answers=cmd.answers, concern=cmd.concern)

    @_command
    def record_self_assessment(self, cmd: c.RecordSelfAssessment, ctx: c.Context) -> None:
        scores = {
            f: getattr(cmd, f) for f in cmd.__struct_fields__ if isinstance(getattr(cmd, f), int)
        }
        self._record(e.SelfAssessmentRecorded, cmd, ctx, scores=scores)

    @_command
    def add_tasmatyo_tag(self, cmd: c.AddTasmatyoTag, ctx: c.Context) -> None:
        self._record(e.TasmatyoTagAdded, cmd, ctx, basis=cmd.basis)

    @_command
    def remove_tasmatyo_tag(self, cmd: c.RemoveTasmatyoTag, ctx: c.Context) -> None:
        self._record(e.TasmatyoTagRemoved, cmd, ctx)

    @_command
    def decline_tasmatyo_tag(self, cmd: c.DeclineTasmatyoTag, ctx: c.Context) -> None:
        self._record(e.TasmatyoTagDeclined, cmd, ctx)

    @_command
    def record_diagnosis(self, cmd: c.RecordDiagnosis, ctx: c.Context) -> None:
        self._record(
            e.DiagnosisRecorded, cmd, ctx, icd_chapter=cmd.icd_chapter,
            b_statement_on=cmd.b_statement_on,
        )  # fmt: skip

    @_command
    def record_work_history(self, cmd: c.RecordWorkHistory, ctx: c.Context) -> None:
        self._record(
            e.WorkHistoryRecorded, cmd, ctx, years=cmd.years, last_insured=cmd.last_insured
        )

    @_command
    def record_sickness_allowance(self, cmd: c.RecordSicknessAllowance, ctx: c.Context) -> None:
        self._record(e.SicknessAllowanceRecorded, cmd, ctx, days_used=cmd.days_used)

    @_command
    def refer_to_coaching(self, cmd: c.ReferToCoaching, ctx: c.Context) -> None:
        self._record(e.CoachingReferred, cmd, ctx, coaching_id=self._new_id("coaching"))

    @_command
    def start_coaching(self, cmd: c.StartCoaching, ctx: c.Context) -> None:
        self._record(e.CoachingStarted, cmd, ctx, coaching_id=cmd.coaching_id)

    @_command
    def complete_coaching(self, cmd: c.CompleteCoaching, ctx: c.Context) -> None:
        self._record(e.CoachingCompleted, cmd, ctx, coaching_id=cmd.coaching_id)

    @_command
    def interrupt_coaching(self, cmd: c.InterruptCoaching, ctx: c.Context) -> None:
        self._record(e.CoachingInterrupted, cmd, ctx, coaching_id=cmd.coaching_id)

    @_command
    def propose_match(self, cmd: c.ProposeMatch, ctx: c.Context) -> None:
        self._record(e.MatchProposed, cmd, ctx, employer_id=str(cmd.employer_id), sector=cmd.sector)

    @_command
    def make_job_referral(self, cmd: c.MakeJobReferral, ctx: c.Context) -> None:
        self._record(
            e.JobReferralMade, cmd, ctx, referral_id=self._new_id("referral"),
            employer_id=str(cmd.employer_id), vacancy_id=cmd.vacancy_id,
        )  # fmt: skip

    @_command
    def record_referral_outcome(self, cmd: c.RecordReferralOutcome, ctx: c.Context) -> None:
        self._record(
            e.JobReferralOutcomeRecorded, cmd, ctx, referral_id=cmd.referral_id, hired=cmd.hired
        )

    @_command
    def apply_for_subsidy(self, cmd: c.ApplyForSubsidy, ctx: c.Context) -> None:
        employer_id = str(cmd.employer_id) if cmd.employer_id else None
        self._record(
            e.SubsidyApplied, cmd, ctx, subsidy_id=self._new_id("subsidy"), kind=cmd.kind,
            employer_id=employer_id,
        )  # fmt: skip

    @_command
    def decide_subsidy(self, cmd: c.DecideSubsidy, ctx: c.Context) -> None:
        self._record(e.SubsidyDecided, cmd, ctx, subsidy_id=cmd.subsidy_id, granted=cmd.granted)

    @_command
    def request_handoff(self, cmd: c.RequestHandoff, ctx: c.Context) -> None:
        assert cmd.consent is not None
        consent = {
            "given_on": cmd.consent.given_on.isoformat(),
            "partners": list(cmd.consent.partners),
            "shares": list(cmd.consent.shares),
        }
        if cmd.consent.expires_on is not None:
            consent["expires_on"] = cmd.consent.expires_on.isoformat()
        self._record(
            e.HandoffRequested, cmd, ctx, handoff_id=self._new_id("handoff"), partner=cmd.partner,
            consent=consent, summary=cmd.summary, shares=list(cmd.shares),
        )  # fmt: skip

    @_command
    def acknowledge_handoff(self, cmd: c.AcknowledgeHandoff, ctx: c.Context) -> None:
        self._record(e.HandoffAcknowledged, cmd, ctx, handoff_id=cmd.handoff_id)

    @_command
    def request_handoff_info(self, cmd: c.RequestHandoffInfo, ctx: c.Context) -> None:
        self._record(
            e.HandoffInfoRequested, cmd, ctx, handoff_id=cmd.handoff_id, question=cmd.question
        )

    @_command
    def supply_handoff_info(self, cmd: c.SupplyHandoffInfo, ctx: c.Context) -> None:
        self._record(e.HandoffInfoSupplied, cmd, ctx, handoff_id=cmd.handoff_id, answer=cmd.answer)

    @_command
    def accept_handoff(self, cmd: c.AcceptHandoff, ctx: c.Context) -> None:
        self._record(e.HandoffAccepted, cmd, ctx, handoff_id=cmd.handoff_id)

    @_command
    def reject_handoff(self, cmd: c.RejectHandoff, ctx: c.Context) -> None:
        self._record(e.HandoffRejected, cmd, ctx, handoff_id=cmd.handoff_id)

    @_command
    def redirect_handoff(self, cmd: c.RedirectHandoff, ctx: c.Context) -> None:
        self._record(
            e.HandoffRedirected, cmd, ctx, handoff_id=cmd.handoff_id, to_partner=cmd.to_partner,
            new_handoff_id=self._new_id("handoff"),
        )  # fmt: skip

    @_command
    def complete_handoff(self, cmd: c.CompleteHandoff, ctx: c.Context) -> None:
        self._record(e.HandoffCompleted, cmd, ctx, handoff_id=cmd.handoff_id, outcome=cmd.outcome)

    @_command
    def withdraw_consent(self, cmd: c.WithdrawConsent, ctx: c.Context) -> None:
        self._record(e.ConsentWithdrawn, cmd, ctx, handoff_id=cmd.handoff_id)

    @_command
    def start_employment(self, cmd: c.StartEmployment, ctx: c.Context) -> None:
        employer_id = str(cmd.employer_id) if cmd.employer_id else None
        self._record(
            e.EmploymentStarted, cmd, ctx, starts_on=cmd.starts_on, employer_id=employer_id,
            subsidy_id=cmd.subsidy_id,
        )  # fmt: skip

    @_command
    def record_follow_up(self, cmd: c.RecordFollowUp, ctx: c.Context) -> None:
        self._record(e.FollowUpRecorded, cmd, ctx, month=cmd.month, employed=cmd.employed)

    @_command
    def flag_stall(self, cmd: c.FlagStall, ctx: c.Context) -> None:
        waiting_on = reference().steps[cmd.step].waiting_on
        self._record(
            e.StepStalled, cmd, ctx, step=cmd.step, item=cmd.item, waiting_on=waiting_on,
            since=cmd.since, due=cmd.due, policy_version=cmd.policy_version,
        )  # fmt: skip

    @_command
    def escalate_stall(self, cmd: c.EscalateStall, ctx: c.Context) -> None:
        self._record(e.StallEscalated, cmd, ctx, step=cmd.step, item=cmd.item)

    @_command
    def acknowledge_stall(self, cmd: c.AcknowledgeStall, ctx: c.Context) -> None:
        self._record(e.StallAcknowledged, cmd, ctx, step=cmd.step, item=cmd.item, note=cmd.note)

    @_command
    def send_handoff_reminder(self, cmd: c.SendHandoffReminder, ctx: c.Context) -> None:
        wait = next(w for w in rules.waiting_steps(self.state) if w.item == cmd.handoff_id)
        self._record(
            e.HandoffReminderSent, cmd, ctx, handoff_id=cmd.handoff_id, step=cmd.step,
            since=wait.since,
        )  # fmt: skip

    @_command
    def reassign(self, cmd: c.Reassign, ctx: c.Context) -> None:
        self._record(
            e.CaseReassigned, cmd, ctx, assignee=cmd.assignee, team=cmd.team or self.state.team
        )

    @_command
    def add_note(self, cmd: c.AddNote, ctx: c.Context) -> None:
        self._record(e.NoteAdded, cmd, ctx, text=cmd.text)

    @_command
    def close_case(self, cmd: c.CloseCase, ctx: c.Context) -> None:
        self._record(e.CaseClosed, cmd, ctx, outcome=cmd.outcome)
