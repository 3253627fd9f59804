"""Journey rules: pure checks over a plain case state. No I/O, no clock, no randomness.

The aggregate runs them before it records anything, the journey workflow's update validators run the
same functions, and `next_steps` offers a caller only the commands these checks would let through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from casework.domain import commands as c
from casework.domain import limits
from casework.domain.calendar import HELSINKI, local_date
from casework.domain.errors import (
    ConsentMissing,
    FieldError,
    IllegalStep,
    NotPermitted,
    UnknownCase,
    ValidationFailed,
)
from casework.domain.identity import normalise_identity_code
from casework.domain.permissions import Refusal, command_refusal, knows_case
from casework.domain.reference import reference
from casework.domain.state import CaseState, Stall

OPEN_HANDOFF = frozenset({"requested", "acknowledged", "info_requested", "accepted"})
REMINDED_STEPS = frozenset({"handoff_ack", "handoff_decision"})
"""The waits on a partner that earn a reminder halfway to their deadline."""


class Waiting(msgspec.Struct, frozen=True):
    """A step the case waits on, and since when (the clock of its stall limit)."""

    step: str
    item: str | None
    since: datetime
    waiting_on: str
    partner: str | None = None


def partner_name(slug: str) -> str:
    partner = reference().partners.get(slug)
    return partner.name if partner else slug


class PartnerSuggestion(msgspec.Struct, frozen=True):
    """The handoff partner the work history points to, and why; staff decide (DOMAIN.md)."""

    partner: str
    reason: str


PENSION_YEARS = 5
"""Pension providers cover about five or more years of work history; Kela shorter ones."""


def suggest_partner(state: CaseState) -> PartnerSuggestion | None:
    """Kela for the unemployed and short work histories; otherwise the last pension insurer.
    None until the work history is recorded."""
    years, insured = state.work_history_years, state.last_insured
    if years is None:
        return None
    history = f"{years} year{'' if years == 1 else 's'} of work history"
    if insured == "none":
        return PartnerSuggestion("kela", f"{history} and no pension insurer: Kela covers it")
    if years < PENSION_YEARS:
        return PartnerSuggestion(
            "kela", f"{history}, under the {PENSION_YEARS} a pension provider needs: Kela covers it"
        )
    partner = "keva" if insured == "public" else "ilmarinen"
    return PartnerSuggestion(
        partner, f"{history}, last insured in the {insured} sector: {partner_name(partner)}"
    )


def waiting_steps(state: CaseState) -> list[Waiting]:
    """Every step the open case waits on now; empty for a closed case."""
    if state.closed:
        return []
    steps = reference().steps
    found: list[Waiting] = []

    def wait(step: str, item: str | None, since: datetime, partner: str | None = None) -> None:
        found.append(Waiting(step, item, since, steps[step].waiting_on, partner))

    if not state.screened:
        wait("screening", None, state.opened_at)
    elif state.concern and not state.tag_decided and not state.diagnosed:
        assert state.screened_at is not None
        wait("identification", None, state.screened_at)
    if state.identified and not (state.referrals or state.coaching or state.handoffs):
        assert state.identified_at is not None
        wait("service_plan", None, state.identified_at)
    for coaching in state.coaching:
        if coaching.status == "referred":
            wait("coaching_start", coaching.id, coaching.since)
    for subsidy in state.subsidies:
        if subsidy.status == "applied":
            wait("subsidy_decision", subsidy.id, subsidy.since)
    for handoff in state.handoffs:
        step = {
            "requested": "handoff_ack",
            "info_requested": "handoff_info",
            "acknowledged": "handoff_decision",
        }.get(handoff.status)
        if step:
            wait(step, handoff.id, handoff.since, handoff.partner)
    assert state.last_event_at is not None
    wait("inactivity", None, state.last_event_at)
    return found


def _check_effective_at(effective_at: datetime | None, recorded_at: datetime) -> None:
    # A time without an offset, or beyond the calendar, never gets here: `limits` refuses it.
    if effective_at is not None and effective_at > recorded_at:
        raise ValidationFailed.field("effective_at", "a fact cannot take effect in the future")


def _check_permission(refusal: Refusal | None, case_id: str | None = None) -> None:
    if refusal is not None and refusal.status == 404:
        raise UnknownCase(case_id or "")
    if refusal is not None:
        raise NotPermitted(refusal.detail)


def check_open_case(cmd: c.OpenCase, ctx: c.Context) -> None:
    """Rules for opening a case; every failing field is named at once."""
    ref = reference()
    errors = []
    try:
        normalise_identity_code(cmd.identity_code)
    except ValidationFailed as invalid:
        errors += invalid.errors
    if cmd.area in ref.areas and cmd.team not in ref.areas[cmd.area].teams:
        errors.append(FieldError("team", f"{cmd.team!r} is not a team of area {cmd.area!r}"))
    elif cmd.area not in ref.areas:
        errors.append(FieldError("area", f"unknown area {cmd.area!r}"))
        if not any(cmd.team in area.teams for area in ref.areas.values()):
            errors.append(FieldError("team", f"unknown team {cmd.team!r}"))
    if errors:
        raise ValidationFailed(errors)
    _check_permission(command_refusal(ctx.actor, "open_case", cmd.area))
    _check_effective_at(cmd.effective_at, ctx.recorded_at)


def check(state: CaseState, cmd: c.Command, ctx: c.Context) -> None:
    """Raise the error that refuses `cmd` on a case in `state`, or return if it is allowed."""
    partners = [h.partner for h in state.handoffs]
    refusal = command_refusal(ctx.actor, cmd.name(), state.area, partners)
    _check_permission(refusal, state.case_id)
    if state.closed:
        raise IllegalStep("the case is closed")
    _check_effective_at(cmd.effective_at, ctx.recorded_at)
    if cmd.effective_at is not None and cmd.effective_at < state.opened_at:
        raise ValidationFailed.field("effective_at", "a fact cannot precede the case's opening")
    _RULES[type(cmd)](state, cmd, ctx.actor)
    if timing := _TIMING.get(type(cmd)):
        timing(state, cmd, c.effective_time(cmd, ctx))


def _identified(state: CaseState, action: str) -> None:
    if not state.identified:
        raise IllegalStep(f"{action} needs an identified client: add the Täsmätyö tag first")


def _screening(state: CaseState, cmd: c.RecordScreening, actor: c.Actor) -> None:
    if not cmd.answers:
        raise ValidationFailed.field("answers", "record at least one answer")


def _nothing(state: CaseState, cmd: c.Command, actor: c.Actor) -> None:
    return None


def _add_tag(state: CaseState, cmd: c.AddTasmatyoTag, actor: c.Actor) -> None:
    if state.tasmatyo:
        raise IllegalStep("the client already carries the Täsmätyö tag")
    if cmd.basis == "screening" and not (state.screened and state.concern):
        raise IllegalStep("the tag cannot rest on screening: no screening found a concern")
    if cmd.basis == "b_statement" and not state.diagnosed:
        raise IllegalStep("the tag cannot rest on a B statement: none is recorded")
    if cmd.basis == "self_report" and not state.self_assessments:
        raise IllegalStep("the tag cannot rest on a self-report: no self-assessment is recorded")


def _remove_tag(state: CaseState, cmd: c.RemoveTasmatyoTag, actor: c.Actor) -> None:
    if not state.tasmatyo:
        raise IllegalStep("the client does not carry the Täsmätyö tag")


def _decline_tag(state: CaseState, cmd: c.DeclineTasmatyoTag, actor: c.Actor) -> None:
    if not (state.screened and state.concern):
        raise IllegalStep("there is no screening concern to decide on")
    if state.tag_decided:
        raise IllegalStep("the tag has already been decided")


def _diagnosis(state: CaseState, cmd: c.RecordDiagnosis, actor: c.Actor) -> None:
    if cmd.icd_chapter not in reference().icd_chapters:
        # The message names no value: it travels through logs and Temporal, health data must not.
        raise ValidationFailed.field("icd_chapter", "not an ICD-10 chapter letter")


def _refer_coaching(state: CaseState, cmd: c.ReferToCoaching, actor: c.Actor) -> None:
    _identified(state, "a TyöDesign referral")
    if any(item.status in ("referred", "started") for item in state.coaching):
        raise IllegalStep("the client already has TyöDesign coaching under way")


def _coaching_step(wanted: tuple[str, ...], verb: str) -> Callable[[CaseState, Any, c.Actor], None]:
    def rule(state: CaseState, cmd: Any, actor: c.Actor) -> None:
        item = state.coaching_item(cmd.coaching_id)
        if item is None:
            raise IllegalStep(f"the case has no coaching {cmd.coaching_id}")
        if item.status not in wanted:
            raise IllegalStep(f"coaching {item.id} cannot be {verb}: it is {item.status}")

    return rule


def _match(state: CaseState, cmd: c.ProposeMatch, actor: c.Actor) -> None:
    if cmd.sector not in reference().sectors:
        raise ValidationFailed.field("sector", f"unknown sector {cmd.sector!r}")
    _identified(state, "an employer match")


def _referral_outcome(state: CaseState, cmd: c.RecordReferralOutcome, actor: c.Actor) -> None:
    item = state.referral(cmd.referral_id)
    if item is None:
        raise IllegalStep(f"the case has no job referral {cmd.referral_id}")
    if item.status != "made":
        raise IllegalStep(f"job referral {item.id} already has its outcome")


def _apply_subsidy(state: CaseState, cmd: c.ApplyForSubsidy, actor: c.Actor) -> None:
    kind = cmd.kind.replace("_", " ")
    if any(s.kind == cmd.kind and s.status == "applied" for s in state.subsidies):
        raise IllegalStep(f"a {kind} application is already waiting for its decision")


def _decide_subsidy(state: CaseState, cmd: c.DecideSubsidy, actor: c.Actor) -> None:
    item = state.subsidy(cmd.subsidy_id)
    if item is None:
        raise IllegalStep(f"the case has no subsidy application {cmd.subsidy_id}")
    if item.status != "applied":
        raise IllegalStep(f"subsidy application {item.id} is already {item.status}")


def _sickness(state: CaseState, cmd: c.RecordSicknessAllowance, actor: c.Actor) -> None:
    used = state.sickness_days_used
    if used is not None and cmd.days_used < used:
        raise ValidationFailed.field(
            "days_used", "sickness-allowance days cannot go down from what is already recorded"
        )


def _known_partner(field: str, slug: str) -> None:
    if slug not in reference().partners:
        raise ValidationFailed.field(field, f"unknown partner {slug!r}")


def _request_handoff(state: CaseState, cmd: c.RequestHandoff, actor: c.Actor) -> None:
    _known_partner("partner", cmd.partner)
    name = partner_name(cmd.partner)
    if cmd.consent is None:
        raise ConsentMissing(f"the {name} handoff needs the client's recorded consent")
    for partner in cmd.consent.partners:
        _known_partner("consent.partners", partner)
    if cmd.partner not in cmd.consent.partners:
        raise ConsentMissing(f"the client has not consented to sharing with {name}")
    if extra := sorted(set(cmd.shares) - set(cmd.consent.shares)):
        raise ConsentMissing(f"the client has not consented to sharing {', '.join(extra)}")
    if any(h.partner == cmd.partner and h.status in OPEN_HANDOFF for h in state.handoffs):
        raise IllegalStep(f"a {name} handoff is already open")


HANDOFF_ACTIONS: dict[type[c.Command], str] = {
    c.AcknowledgeHandoff: "acknowledged",
    c.RequestHandoffInfo: "asked for more information",
    c.SupplyHandoffInfo: "given information",
    c.AcceptHandoff: "accepted",
    c.RejectHandoff: "rejected",
    c.RedirectHandoff: "redirected",
    c.CompleteHandoff: "completed",
}
"""What each partner step does to a handoff, as a refusal says it."""


def _partner_step(
    wanted: tuple[str, ...], missing: str
) -> Callable[[CaseState, Any, c.Actor], None]:
    def rule(state: CaseState, cmd: Any, actor: c.Actor) -> None:
        item = state.handoff(cmd.handoff_id)
        if item is None or (actor.role == "partner" and actor.partner != item.partner):
            raise IllegalStep(f"the case has no handoff {cmd.handoff_id} for you")
        if item.status not in wanted:
            name = partner_name(item.partner)
            action = HANDOFF_ACTIONS[type(cmd)]
            raise IllegalStep(f"the {name} handoff cannot be {action}: {missing.format(name)}")

    return rule


def _redirect(state: CaseState, cmd: c.RedirectHandoff, actor: c.Actor) -> None:
    _partner_step(("acknowledged",), "{} has not acknowledged it")(state, cmd, actor)
    _known_partner("to_partner", cmd.to_partner)
    item = state.handoff(cmd.handoff_id)
    assert item is not None
    if cmd.to_partner == item.partner:
        raise ValidationFailed.field("to_partner", "redirect to another partner")
    name = partner_name(cmd.to_partner)
    if item.consent_withdrawn:
        raise ConsentMissing("the client has withdrawn the consent this handoff rests on")
    if cmd.to_partner not in item.consent_partners:
        raise ConsentMissing(f"the client has not consented to sharing with {name}")
    if any(h.partner == cmd.to_partner and h.status in OPEN_HANDOFF for h in state.handoffs):
        raise IllegalStep(f"a {name} handoff is already open")


def _withdraw_consent(state: CaseState, cmd: c.WithdrawConsent, actor: c.Actor) -> None:
    item = state.handoff(cmd.handoff_id)
    if item is None:
        raise IllegalStep(f"the case has no handoff {cmd.handoff_id}")
    if item.consent_withdrawn:
        raise IllegalStep(f"the consent of handoff {item.id} is already withdrawn")


def _start_employment(state: CaseState, cmd: c.StartEmployment, actor: c.Actor) -> None:
    if state.employment is not None:
        raise IllegalStep("employment has already started")
    if cmd.subsidy_id is not None:
        item = state.subsidy(cmd.subsidy_id)
        if item is None or item.kind != "pay_subsidy":
            raise IllegalStep(f"the case has no pay-subsidy application {cmd.subsidy_id}")
        if item.status != "granted":
            raise IllegalStep("a pay subsidy must be granted before the job starts")


def _follow_up(state: CaseState, cmd: c.RecordFollowUp, actor: c.Actor) -> None:
    if state.employment is None:
        raise IllegalStep("a follow-up needs a started employment")
    if str(cmd.month) in state.employment.follow_ups:
        raise IllegalStep(f"the {cmd.month}-month follow-up is already recorded")


def _flag_stall(state: CaseState, cmd: c.FlagStall, actor: c.Actor) -> None:
    if cmd.step not in reference().steps:
        raise ValidationFailed.field("step", f"unknown step {cmd.step!r}")
    waiting = {(w.step, w.item, w.since) for w in waiting_steps(state)}
    if (cmd.step, cmd.item, cmd.since) not in waiting:
        raise IllegalStep(f"the case is not waiting on {cmd.step} since {cmd.since.isoformat()}")
    if state.stall(cmd.step, cmd.item) is not None:
        raise IllegalStep(f"{cmd.step} is already flagged as stalled")


def _stalled(state: CaseState, step: str, item: str | None) -> Stall:
    stall = state.stall(step, item)
    if stall is None:
        raise IllegalStep(f"{step}{f' ({item})' if item else ''} is not stalled")
    return stall


def _escalate(state: CaseState, cmd: c.EscalateStall, actor: c.Actor) -> None:
    if _stalled(state, cmd.step, cmd.item).escalated:
        raise IllegalStep(f"the stall of {cmd.step} is already escalated")


def _acknowledge_stall(state: CaseState, cmd: c.AcknowledgeStall, actor: c.Actor) -> None:
    _stalled(state, cmd.step, cmd.item)  # acknowledged again: a newer note on the same stall


def _remind(state: CaseState, cmd: c.SendHandoffReminder, actor: c.Actor) -> None:
    item = state.handoff(cmd.handoff_id)
    if item is None:
        raise IllegalStep(f"the case has no handoff {cmd.handoff_id}")
    if cmd.step not in REMINDED_STEPS:
        raise IllegalStep(f"partners are reminded only of {' and '.join(sorted(REMINDED_STEPS))}")
    wait = next((w for w in waiting_steps(state) if w.item == cmd.handoff_id), None)
    if wait is None or wait.step != cmd.step:
        raise IllegalStep(f"handoff {cmd.handoff_id} is not waiting on {cmd.step}")
    if item.reminded_of(wait.step, wait.since):
        raise IllegalStep(f"{partner_name(item.partner)} has already been reminded")


def _reassign(state: CaseState, cmd: c.Reassign, actor: c.Actor) -> None:
    if cmd.team is not None and cmd.team not in reference().areas[state.area].teams:
        raise ValidationFailed.field("team", f"{cmd.team!r} is not a team of area {state.area!r}")


def _close(state: CaseState, cmd: c.CloseCase, actor: c.Actor) -> None:
    if cmd.outcome == "employed" and state.employment is None:
        raise IllegalStep("the case cannot close as employed: no employment has started")


_RULES: dict[type[c.Command], Callable[[CaseState, Any, c.Actor], None]] = {
    c.RecordScreening: _screening,
    c.RecordSelfAssessment: _nothing,
    c.AddTasmatyoTag: _add_tag,
    c.RemoveTasmatyoTag: _remove_tag,
    c.DeclineTasmatyoTag: _decline_tag,
    c.RecordDiagnosis: _diagnosis,
    c.RecordWorkHistory: _nothing,
    c.ReferToCoaching: _refer_coaching,
    c.StartCoaching: _coaching_step(("referred",), "started"),
    c.CompleteCoaching: _coaching_step(("started",), "completed"),
    c.InterruptCoaching: _coaching_step(("referred", "started"), "interrupted"),
    c.ProposeMatch: _match,
    c.MakeJobReferral: _nothing,
    c.RecordReferralOutcome: _referral_outcome,
    c.ApplyForSubsidy: _apply_subsidy,
    c.DecideSubsidy: _decide_subsidy,
    c.RecordSicknessAllowance: _sickness,
    c.RequestHandoff: _request_handoff,
    c.AcknowledgeHandoff: _partner_step(("requested",), "it is not waiting"),
    c.RequestHandoffInfo: _partner_step(("acknowledged",), "{} has not acknowledged it"),
    c.SupplyHandoffInfo: _partner_step(("info_requested",), "{} has asked for none"),
    c.AcceptHandoff: _partner_step(("acknowledged",), "{} has not acknowledged it"),
    c.RejectHandoff: _partner_step(("acknowledged",), "{} has not acknowledged it"),
    c.RedirectHandoff: _redirect,
    c.CompleteHandoff: _partner_step(("accepted",), "{} has not accepted it"),
    c.WithdrawConsent: _withdraw_consent,
    c.StartEmployment: _start_employment,
    c.RecordFollowUp: _follow_up,
    c.FlagStall: _flag_stall,
    c.EscalateStall: _escalate,
    c.AcknowledgeStall: _acknowledge_stall,
    c.SendHandoffReminder: _remind,
    c.Reassign: _reassign,
    c.AddNote: _nothing,
    c.CloseCase: _close,
}
assert set(_RULES) == set(c.CASE_COMMANDS.values()), "every command needs its rule"


# Effective time: a step cannot take effect before the step it depends on. These run after the
# rules above, so the items they read exist and are in the status the command needs.


def _not_before(
    refused: str, at: datetime | date, because: str, earlier: datetime | date | None
) -> None:
    """Refuse `refused` taking effect at `at` before `earlier` (`because` names it at `{}`).
    A state stored before the moment was kept (None) cannot tell: nothing is refused."""
    if earlier is None:
        return
    if isinstance(at, datetime) != isinstance(earlier, datetime):  # a date against a moment
        at, earlier = _day(at), _day(earlier)
    if at < earlier:
        raise IllegalStep(
            f"{refused} on {_moment(at, earlier)}: {because.format(_moment(earlier, at))}"
        )


def _day(moment: datetime | date) -> date:
    return local_date(moment) if isinstance(moment, datetime) else moment


def _moment(moment: datetime | date, other: datetime | date) -> str:
    """A Helsinki date; with the time of day when the other moment falls on the same date."""
    day = _day(moment)
    if isinstance(moment, datetime) and isinstance(other, datetime) and day == local_date(other):
        return f"{moment.astimezone(HELSINKI):%Y-%m-%d %H:%M}"
    return day.isoformat()


COACHING_SINCE = {"referred": "it was referred on {}", "started": "it started on {}"}
# Formatted with the partner's name first, then with the moment.
HANDOFF_SINCE = {
    "requested": "it was requested on {{}}",
    "acknowledged": "it has waited for {}'s decision since {{}}",
    "info_requested": "{} asked for more information on {{}}",
    "accepted": "{} accepted it on {{}}",
}


def _coaching_time(verb: str) -> Callable[[CaseState, Any, datetime], None]:
    def rule(state: CaseState, cmd: Any, at: datetime) -> None:
        item = state.coaching_item(cmd.coaching_id)
        assert item is not None
        _not_before(f"{item.id} cannot {verb}", at, COACHING_SINCE[item.status], item.since)

    return rule


def _handoff_time(state: CaseState, cmd: Any, at: datetime) -> None:
    item = state.handoff(cmd.handoff_id)
    assert item is not None
    name = partner_name(item.partner)
    refused = f"the {name} handoff cannot be {HANDOFF_ACTIONS[type(cmd)]}"
    _not_before(refused, at, HANDOFF_SINCE[item.status].format(name), item.since)


def _tag_time(state: CaseState, cmd: c.AddTasmatyoTag, at: datetime) -> None:
    basis = {
        "screening": ("the screening", state.screened_at),
        "b_statement": ("the diagnosis", state.diagnosed_at),
        "self_report": ("the self-assessment", state.self_assessed_at),
    }
    what, since = basis[cmd.basis]
    _not_before(
        "the Täsmätyö tag cannot be added", at, f"{what} it rests on took effect on {{}}", since
    )


def _decline_time(state: CaseState, cmd: c.DeclineTasmatyoTag, at: datetime) -> None:
    refused = "the Täsmätyö tag cannot be declined"
    _not_before(refused, at, "the screening took effect on {}", state.screened_at)


def _remove_tag_time(state: CaseState, cmd: c.RemoveTasmatyoTag, at: datetime) -> None:
    _not_before("the Täsmätyö tag cannot be removed", at, "it was added on {}", state.tagged_at)


def _outcome_time(state: CaseState, cmd: c.RecordReferralOutcome, at: datetime) -> None:
    item = state.referral(cmd.referral_id)
    assert item is not None
    refused = f"the outcome of {item.id} cannot take effect"
    _not_before(refused, at, "the referral was made on {}", item.since)


def _decision_time(state: CaseState, cmd: c.DecideSubsidy, at: datetime) -> None:
    item = state.subsidy(cmd.subsidy_id)
    assert item is not None
    _not_before(f"{item.id} cannot be decided", at, "it was applied for on {}", item.since)


def _employment_time(state: CaseState, cmd: c.StartEmployment, at: datetime) -> None:
    if cmd.subsidy_id is None:
        return
    item = state.subsidy(cmd.subsidy_id)
    assert item is not None
    refused = f"employment on {item.id} cannot start"
    _not_before(refused, cmd.starts_on, "the pay subsidy was granted on {}", item.since)


def _follow_up_time(state: CaseState, cmd: c.RecordFollowUp, at: datetime) -> None:
    assert state.employment is not None
    refused = f"the {cmd.month}-month follow-up cannot be recorded"
    _not_before(refused, at, "the employment starts on {}", state.employment.starts_on)


def _close_time(state: CaseState, cmd: c.CloseCase, at: datetime) -> None:
    _not_before(
        "the case cannot close", at, "its newest fact took effect on {}", state.last_event_at
    )


def _stall_time(verb: str) -> Callable[[CaseState, Any, datetime], None]:
    def rule(state: CaseState, cmd: Any, at: datetime) -> None:
        stall = _stalled(state, cmd.step, cmd.item)
        refused = f"the stall of {cmd.step} cannot be {verb}"
        _not_before(refused, at, "it took effect on {}", stall.stalled_at)

    return rule


_TIMING: dict[type[c.Command], Callable[[CaseState, Any, datetime], None]] = {
    c.AddTasmatyoTag: _tag_time,
    c.DeclineTasmatyoTag: _decline_time,
    c.RemoveTasmatyoTag: _remove_tag_time,
    c.StartCoaching: _coaching_time("start"),
    c.CompleteCoaching: _coaching_time("complete"),
    c.InterruptCoaching: _coaching_time("be interrupted"),
    c.RecordReferralOutcome: _outcome_time,
    c.DecideSubsidy: _decision_time,
    **dict.fromkeys(HANDOFF_ACTIONS, _handoff_time),
    c.StartEmployment: _employment_time,
    c.RecordFollowUp: _follow_up_time,
    c.CloseCase: _close_time,
    c.EscalateStall: _stall_time("escalated"),
    c.AcknowledgeStall: _stall_time("acknowledged"),
}


def _candidates(state: CaseState) -> Iterator[c.Command]:
    """One plausible command of each kind the state could accept, to test against the rules."""
    any_id = UUID(int=0)
    # Within the calendar even for a case stored before facts outside it were refused.
    day = min(max(state.opened_at.date(), limits.FIRST_DAY), limits.LAST_DAY)
    yield c.RecordScreening(answers={"q": "a"}, concern=True)
    yield c.RecordSelfAssessment(
        overall=5, mental_wellbeing=5, social_participation=5, physical_functioning=5, skills=5,
        everyday_coping=5,
    )  # fmt: skip
    yield from (c.AddTasmatyoTag(basis=b) for b in ("screening", "b_statement", "self_report"))
    yield c.RemoveTasmatyoTag(reason="-")
    yield c.DeclineTasmatyoTag(reason="-")
    yield c.RecordDiagnosis(icd_chapter="F", b_statement_on=day)
    yield c.RecordWorkHistory(years=1, last_insured="none")
    yield c.ReferToCoaching()
    for item in state.coaching:
        yield c.StartCoaching(coaching_id=item.id)
        yield c.CompleteCoaching(coaching_id=item.id)
        yield c.InterruptCoaching(coaching_id=item.id, reason="-")
    yield c.ProposeMatch(employer_id=any_id, sector=next(iter(reference().sectors)))
    yield c.MakeJobReferral(employer_id=any_id, vacancy_id="-")
    for referral in state.referrals:
        yield c.RecordReferralOutcome(referral_id=referral.id, hired=True)
    yield from (c.ApplyForSubsidy(kind=k) for k in ("pay_subsidy", "work_arrangement_subsidy"))
    for subsidy in state.subsidies:
        yield c.DecideSubsidy(subsidy_id=subsidy.id, granted=True)
    yield c.RecordSicknessAllowance(days_used=state.sickness_days_used or 0)
    for slug in reference().partners:
        consent = c.Consent(given_on=day, partners=[slug])
        yield c.RequestHandoff(partner=slug, consent=consent)
    for h in state.handoffs:
        yield c.AcknowledgeHandoff(handoff_id=h.id)
        yield c.RequestHandoffInfo(handoff_id=h.id, question="-")
        yield c.SupplyHandoffInfo(handoff_id=h.id, answer="-")
        yield c.AcceptHandoff(handoff_id=h.id)
        yield c.RejectHandoff(handoff_id=h.id, reason="-")
        for other in h.consent_partners:
            yield c.RedirectHandoff(handoff_id=h.id, to_partner=other, reason="-")
        yield c.CompleteHandoff(handoff_id=h.id, outcome="other")
        yield c.WithdrawConsent(handoff_id=h.id, reason="-")
    yield c.StartEmployment(starts_on=day)
    yield from (c.RecordFollowUp(month=m, employed=True) for m in (3, 6))
    for stall in state.stalls:
        yield c.EscalateStall(step=stall.step, item=stall.item)
        yield c.AcknowledgeStall(step=stall.step, item=stall.item, note="-")
    yield c.Reassign(assignee="-")
    yield c.AddNote(text="-")
    yield from (c.CloseCase(outcome=o, reason="-") for o in ("employed", "other"))


def next_steps(state: CaseState, ctx: c.Context) -> list[str]:
    """The names of the commands this caller may run on the case now."""
    if not knows_case(ctx.actor, (h.partner for h in state.handoffs)):
        return []
    allowed: list[str] = []
    for cmd in _candidates(state):
        name = cmd.name()
        if name in allowed:
            continue
        try:
            check(state, cmd, ctx)
        except (IllegalStep, NotPermitted, ValidationFailed):
            continue
        allowed.append(name)
    return allowed
