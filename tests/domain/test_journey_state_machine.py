"""Random journeys: any command, by any role, on one case; the journey must stay sound.

The machine builds commands of every kind in CASE_COMMANDS, with ids taken from the case's current
items and bogus ones, sent by staff, coordinators, partners (Kela, Keva, Ilmarinen, or none) and the
system, at times that move forward and with effective times in the past or (refused) future. After
every command it checks what the journey promises: a refusal changes nothing, an acceptance records
the command's event plus the stalls it cleared, the state is valid, `next_steps` would have offered
the command, and replaying the events gives the same state.
"""

from __future__ import annotations

import copy
import functools
import string
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from casework.domain import commands as c
from casework.domain import events as e
from casework.domain import rules, timeline
from casework.domain.case import ClientCase
from casework.domain.errors import CaseworkError
from casework.domain.reference import reference
from casework.domain.state import CaseState

START = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
CASE_ID = UUID("00000000-0000-4000-8000-00000000c0de")
EMPLOYERS = [UUID(int=1), UUID(int=2)]

REF = reference()
PARTNERS = sorted(REF.partners)
SECTORS = sorted(REF.sectors)
STEPS = sorted(REF.steps)
ALL_TEAMS = sorted(team for area in REF.areas.values() for team in area.teams)

# Said independently of the rules module: a handoff is open until rejected, redirected or completed.
OPEN_HANDOFF = {"requested", "acknowledged", "info_requested", "accepted"}
PARTNER_COMMANDS = {
    "acknowledge_handoff", "request_handoff_info", "accept_handoff", "reject_handoff",
    "redirect_handoff", "complete_handoff",
}  # fmt: skip
SYSTEM_COMMANDS = {"flag_stall", "escalate_stall", "send_handoff_reminder"}
# `_candidates` in rules.py proposes neither: the workflows send them when their timers fire.
NOT_OFFERED = {"flag_stall", "send_handoff_reminder"}

# The event each accepted command records first (any further events are StallCleared).
EVENT_OF: dict[str, type[e.CaseEvent]] = {
    "record_screening": e.ScreeningRecorded,
    "record_self_assessment": e.SelfAssessmentRecorded,
    "add_tasmatyo_tag": e.TasmatyoTagAdded,
    "remove_tasmatyo_tag": e.TasmatyoTagRemoved,
    "decline_tasmatyo_tag": e.TasmatyoTagDeclined,
    "record_diagnosis": e.DiagnosisRecorded,
    "record_work_history": e.WorkHistoryRecorded,
    "refer_to_coaching": e.CoachingReferred,
    "start_coaching": e.CoachingStarted,
    "complete_coaching": e.CoachingCompleted,
    "interrupt_coaching": e.CoachingInterrupted,
    "propose_match": e.MatchProposed,
    "make_job_referral": e.JobReferralMade,
    "record_referral_outcome": e.JobReferralOutcomeRecorded,
    "apply_for_subsidy": e.SubsidyApplied,
    "decide_subsidy": e.SubsidyDecided,
    "record_sickness_allowance": e.SicknessAllowanceRecorded,
    "request_handoff": e.HandoffRequested,
    "acknowledge_handoff": e.HandoffAcknowledged,
    "request_handoff_info": e.HandoffInfoRequested,
    "supply_handoff_info": e.HandoffInfoSupplied,
    "accept_handoff": e.HandoffAccepted,
    "reject_handoff": e.HandoffRejected,
    "redirect_handoff": e.HandoffRedirected,
    "complete_handoff": e.HandoffCompleted,
    "withdraw_consent": e.ConsentWithdrawn,
    "start_employment": e.EmploymentStarted,
    "record_follow_up": e.FollowUpRecorded,
    "flag_stall": e.StepStalled,
    "escalate_stall": e.StallEscalated,
    "acknowledge_stall": e.StallAcknowledged,
    "send_handoff_reminder": e.HandoffReminderSent,
    "reassign": e.CaseReassigned,
    "add_note": e.NoteAdded,
    "close_case": e.CaseClosed,
}

# Closing ends the journey, so it is drawn rarely; the long handoff track more often.
command_names = st.sampled_from(
    sorted(
        name
        for name in c.CASE_COMMANDS
        for _ in range(1 if name == "close_case" else 4 if name in PARTNER_COMMANDS else 3)
    )
)
pauses = st.sampled_from(
    [timedelta(0)] * 5 + [timedelta(hours=3)] * 3 + [timedelta(days=11), timedelta(days=40)]
)
texts = st.text(alphabet=string.ascii_letters + " åäö", min_size=1, max_size=12)
bogus_ids = st.sampled_from(["coaching-99", "referral-99", "subsidy-99", "handoff-99", "x-1"])


def weighted(choices: list[tuple[st.SearchStrategy[Any], int]]) -> st.SearchStrategy[Any]:
    """One of the strategies, picked in proportion to its weight (`one_of` picks evenly)."""
    pool = [index for index, (_, weight) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda index: choices[index][0])


def item_ids(ids: list[str], others: list[str]) -> st.SearchStrategy[str]:
    """Mostly an id of the right kind the case holds; else one of another kind, or a bogus one."""
    choices = [(st.sampled_from(ids), 6)] if ids else []
    choices += [(st.sampled_from(others), 1)] if others else []
    return weighted([*choices, (bogus_ids, 1)])


def all_item_ids(state: CaseState) -> list[str]:
    groups: list[list[Any]] = [state.coaching, state.referrals, state.subsidies, state.handoffs]
    return [item.id for group in groups for item in group]


def actors(name: str, state: CaseState, cmd: c.Command) -> st.SearchStrategy[c.Actor]:
    """Mostly a role that may run the command (the handoff's own partner), sometimes any role."""
    handoff = state.handoff(getattr(cmd, "handoff_id", ""))
    own = [handoff.partner] * 6 if handoff else []
    staff = st.builds(
        c.Actor,
        id=st.sampled_from(["anna", "ben"]),
        role=st.sampled_from(["staff", "coordinator"]),
        area=st.sampled_from(["*", "*", state.area, state.area, state.area, "lantinen"]),
    )
    partner = st.builds(
        c.Actor,
        id=st.sampled_from(["kela-1", "keva-1", "ilma-1"]),
        role=st.just("partner"),
        partner=st.sampled_from([*own, *PARTNERS, None]),
    )
    system = st.just(c.Actor(id="journey-workflow", role="system"))
    anyone = st.one_of(
        staff, partner, system, st.just(c.Actor(id="audrey", role="auditor", area="*"))
    )
    likely = partner if name in PARTNER_COMMANDS else system if name in SYSTEM_COMMANDS else staff
    return weighted([(likely, 4), (anyone, 1)])


def effective_times(now: datetime) -> st.SearchStrategy[datetime | None]:
    """Mostly now; sometimes back-dated; rarely in the future (refused). A time without an offset
    never reaches the rules: the command refuses it when it is made (test_journey_rules)."""
    return weighted([
        (st.none(), 12),
        (st.integers(0, 20 * 24 * 60).map(lambda minutes: now - timedelta(minutes=minutes)), 4),
        (st.integers(1, 3600).map(lambda seconds: now + timedelta(seconds=seconds)), 1),
    ])  # fmt: skip


SHARED_FIELDS = list(c.SharedField.__args__)


@st.composite
def request_handoff(draw: st.DrawFn, opened_on: date) -> c.RequestHandoff:
    """Mostly with a consent naming the partner and the shares; sometimes without."""
    partner = draw(st.sampled_from([*PARTNERS, *PARTNERS, "pohjola"]))
    shares = draw(st.lists(st.sampled_from(SHARED_FIELDS), max_size=2, unique=True))
    consent = None
    if draw(st.integers(0, 7)) > 0:
        others = draw(st.lists(st.sampled_from([*PARTNERS, "pohjola"]), max_size=2))
        consented = [partner, *others] if draw(st.integers(0, 7)) > 0 else others or ["kela"]
        extra = draw(st.lists(st.sampled_from(SHARED_FIELDS), max_size=2))
        consent = c.Consent(given_on=opened_on, partners=consented, shares=[*shares, *extra])
        if draw(st.integers(0, 7)) == 0:
            consent = c.Consent(given_on=opened_on, partners=consented, shares=extra)
    summary = draw(st.one_of(st.just(""), texts))
    return c.RequestHandoff(partner=partner, consent=consent, summary=summary, shares=shares)


@st.composite
def flag_stall(draw: st.DrawFn, state: CaseState) -> c.FlagStall:
    waiting = rules.waiting_steps(state)
    if waiting and draw(st.integers(0, 3)) > 0:
        w = draw(st.sampled_from(waiting))
        step, item, since = w.step, w.item, w.since
        if draw(st.integers(0, 5)) == 0:
            since += timedelta(seconds=1)
    else:
        step = draw(st.sampled_from([*STEPS, "nap"]))
        item = draw(st.one_of(st.none(), item_ids(all_item_ids(state), [])))
        since = state.opened_at
    return c.FlagStall(
        step=step, item=item, since=since, due=since + timedelta(days=10), policy_version="2026-01"
    )


@st.composite
def send_handoff_reminder(
    draw: st.DrawFn, state: CaseState, handoff_ids: st.SearchStrategy[str]
) -> c.SendHandoffReminder:
    """Mostly about a step the case waits on with an item (a handoff's, or another track's)."""
    waiting = [w for w in rules.waiting_steps(state) if w.item is not None]
    if waiting and draw(st.booleans()):
        w = draw(st.sampled_from(waiting))
        return c.SendHandoffReminder(handoff_id=w.item, step=w.step)
    step = draw(st.sampled_from([*STEPS, "nap"]))
    return c.SendHandoffReminder(handoff_id=draw(handoff_ids), step=step)


@st.composite
def acknowledge_stall(draw: st.DrawFn, state: CaseState) -> c.AcknowledgeStall:
    escalate = draw(escalate_stall(state))
    return c.AcknowledgeStall(step=escalate.step, item=escalate.item, note="soitan huomenna")


@st.composite
def escalate_stall(draw: st.DrawFn, state: CaseState) -> c.EscalateStall:
    if state.stalls and draw(st.booleans()):
        stall = draw(st.sampled_from(state.stalls))
        return c.EscalateStall(step=stall.step, item=stall.item)
    return c.EscalateStall(
        step=draw(st.sampled_from(STEPS)),
        item=draw(st.one_of(st.none(), item_ids(all_item_ids(state), []))),
    )


def bodies(name: str, state: CaseState) -> st.SearchStrategy[c.Command]:
    """Valid bodies (as decoding would accept them) of the named command, for this state."""
    score = st.integers(0, 10)
    others = all_item_ids(state)
    coaching = item_ids([i.id for i in state.coaching], others)
    referral = item_ids([i.id for i in state.referrals], others)
    subsidy = item_ids([i.id for i in state.subsidies], others)
    handoff = item_ids([i.id for i in state.handoffs], others)
    employer = st.sampled_from(EMPLOYERS)
    day = st.dates(date(2025, 1, 1), date(2026, 12, 31))
    partner = st.sampled_from([*PARTNERS, "pohjola"])
    strategies: dict[str, st.SearchStrategy[c.Command]] = {
        "record_screening": st.builds(
            c.RecordScreening,
            answers=st.dictionaries(st.sampled_from(["q1", "q2", "q3"]), texts, max_size=3),
            concern=st.booleans(),
        ),
        "record_self_assessment": st.builds(
            c.RecordSelfAssessment,
            overall=score,
            mental_wellbeing=score,
            social_participation=score,
            physical_functioning=score,
            skills=score,
            everyday_coping=score,
        ),
        "add_tasmatyo_tag": st.builds(
            c.AddTasmatyoTag, basis=st.sampled_from(["screening", "b_statement", "self_report"])
        ),
        "remove_tasmatyo_tag": st.builds(c.RemoveTasmatyoTag, reason=texts),
        "decline_tasmatyo_tag": st.builds(c.DeclineTasmatyoTag, reason=texts),
        "record_diagnosis": st.builds(
            c.RecordDiagnosis,
            icd_chapter=st.sampled_from(string.ascii_uppercase),
            b_statement_on=day,
        ),
        "record_work_history": st.builds(
            c.RecordWorkHistory,
            years=st.integers(0, 60),
            last_insured=st.sampled_from(["public", "private", "none"]),
        ),
        "refer_to_coaching": st.builds(c.ReferToCoaching),
        "start_coaching": st.builds(c.StartCoaching, coaching_id=coaching),
        "complete_coaching": st.builds(c.CompleteCoaching, coaching_id=coaching),
        "interrupt_coaching": st.builds(c.InterruptCoaching, coaching_id=coaching, reason=texts),
        "propose_match": st.builds(
            c.ProposeMatch, employer_id=employer, sector=st.sampled_from([*SECTORS, "mining"])
        ),
        "make_job_referral": st.builds(c.MakeJobReferral, employer_id=employer, vacancy_id=texts),
        "record_referral_outcome": st.builds(
            c.RecordReferralOutcome, referral_id=referral, hired=st.booleans()
        ),
        "apply_for_subsidy": st.builds(
            c.ApplyForSubsidy,
            kind=st.sampled_from(["pay_subsidy", "work_arrangement_subsidy"]),
            employer_id=st.one_of(st.none(), employer),
        ),
        "decide_subsidy": st.builds(c.DecideSubsidy, subsidy_id=subsidy, granted=st.booleans()),
        "record_sickness_allowance": st.builds(
            c.RecordSicknessAllowance, days_used=st.integers(0, 300)
        ),
        "request_handoff": request_handoff(state.opened_at.date()),
        "acknowledge_handoff": st.builds(c.AcknowledgeHandoff, handoff_id=handoff),
        "request_handoff_info": st.builds(c.RequestHandoffInfo, handoff_id=handoff, question=texts),
        "supply_handoff_info": st.builds(c.SupplyHandoffInfo, handoff_id=handoff, answer=texts),
        "accept_handoff": st.builds(c.AcceptHandoff, handoff_id=handoff),
        "reject_handoff": st.builds(c.RejectHandoff, handoff_id=handoff, reason=texts),
        "redirect_handoff": st.builds(
            c.RedirectHandoff, handoff_id=handoff, to_partner=partner, reason=texts
        ),
        "complete_handoff": st.builds(
            c.CompleteHandoff,
            handoff_id=handoff,
            outcome=st.sampled_from(list(c.HandoffOutcome.__args__)),
        ),
        "withdraw_consent": st.builds(c.WithdrawConsent, handoff_id=handoff, reason=texts),
        "start_employment": st.builds(
            c.StartEmployment,
            starts_on=day,
            employer_id=st.one_of(st.none(), employer),
            subsidy_id=st.one_of(st.none(), subsidy),
        ),
        "record_follow_up": st.builds(
            c.RecordFollowUp, month=st.sampled_from([3, 6]), employed=st.booleans()
        ),
        "flag_stall": flag_stall(state),
        "escalate_stall": escalate_stall(state),
        "acknowledge_stall": acknowledge_stall(state),
        "send_handoff_reminder": send_handoff_reminder(state, handoff),
        "reassign": st.builds(
            c.Reassign,
            assignee=texts,
            team=st.one_of(st.none(), st.sampled_from([*ALL_TEAMS, "helsinki-mining"])),
        ),
        "add_note": st.builds(c.AddNote, text=texts),
        "close_case": st.builds(
            c.CloseCase, outcome=st.sampled_from(list(c.CloseOutcome.__args__)), reason=texts
        ),
    }
    assert set(strategies) == set(c.CASE_COMMANDS), "the machine must build every command"
    return strategies[name]


STAFF = c.Actor(id="anna", role="staff", area="*")
COORDINATOR = c.Actor(id="kaisa", role="coordinator", area="*")
SYSTEM = c.Actor(id="journey-workflow", role="system")


def partner_actor(slug: str) -> c.Actor:
    return c.Actor(id=f"{slug}-1", role="partner", partner=slug)


def likely_moves(state: CaseState) -> list[tuple[c.Command, c.Actor]]:
    """What the people around the case would plausibly do next (the rules may still refuse).

    Moves that take an item along its track come first and twice: they are the hardest to reach
    at random, and hypothesis leans towards the start of a list.
    """
    along: list[tuple[c.Command, c.Actor]] = []
    for h in state.handoffs:
        partner = partner_actor(h.partner)
        if h.status == "requested":
            along.append((c.AcknowledgeHandoff(handoff_id=h.id), partner))
        if h.status == "acknowledged":
            along.append((c.RequestHandoffInfo(handoff_id=h.id, question="B-lausunto?"), partner))
            along.append((c.AcceptHandoff(handoff_id=h.id), partner))
            along.append((c.RejectHandoff(handoff_id=h.id, reason="ei työhistoriaa"), partner))
            for other in h.consent_partners:
                redirect = c.RedirectHandoff(handoff_id=h.id, to_partner=other, reason="-")
                along.append((redirect, partner))
        if h.status == "info_requested":
            along.append((c.SupplyHandoffInfo(handoff_id=h.id, answer="liitteenä"), STAFF))
        if h.status == "accepted":
            along.append((c.CompleteHandoff(handoff_id=h.id, outcome="advice_given"), partner))
    for coaching in state.coaching:
        if coaching.status == "referred":
            along.append((c.StartCoaching(coaching_id=coaching.id), STAFF))
        if coaching.status == "started":
            along.append((c.CompleteCoaching(coaching_id=coaching.id), STAFF))
        if coaching.status in ("referred", "started"):
            along.append((c.InterruptCoaching(coaching_id=coaching.id, reason="muutto"), STAFF))
    for referral in state.referrals:
        if referral.status == "made":
            along.append((c.RecordReferralOutcome(referral_id=referral.id, hired=True), STAFF))
    for subsidy in state.subsidies:
        if subsidy.status == "applied":
            for granted in (True, False):
                along.append((c.DecideSubsidy(subsidy_id=subsidy.id, granted=granted), STAFF))

    moves = along * 2
    if state.screened and state.concern and not state.tag_decided:
        moves.append((c.AddTasmatyoTag(basis="screening"), STAFF))
        moves.append((c.DeclineTasmatyoTag(reason="ei tarvetta"), STAFF))
    if not state.screened or state.concern is False:
        moves.append((c.RecordScreening(answers={"q1": "kyllä"}, concern=True), STAFF))
    if not state.diagnosed:
        moves.append((c.RecordDiagnosis(icd_chapter="M", b_statement_on=date(2026, 2, 1)), STAFF))
    if state.tasmatyo or state.diagnosed:
        moves.append((c.ReferToCoaching(), STAFF))
        moves.append((c.ProposeMatch(employer_id=EMPLOYERS[1], sector=SECTORS[0]), STAFF))
    consent = c.Consent(given_on=state.opened_at.date(), partners=PARTNERS, shares=["work_history"])
    for slug in PARTNERS:
        moves.append((c.RequestHandoff(partner=slug, consent=consent), STAFF))
    if state.employment is None:
        granted = [s.id for s in state.subsidies if s.status == "granted"]
        for subsidy_id in [*granted, None]:
            start = c.StartEmployment(starts_on=date(2026, 4, 1), subsidy_id=subsidy_id)
            moves.append((start, STAFF))
    else:
        moves.append((c.RecordFollowUp(month=3, employed=True), STAFF))
        moves.append((c.RecordFollowUp(month=6, employed=False), STAFF))
    for w in rules.waiting_steps(state):
        flag = c.FlagStall(
            step=w.step, item=w.item, since=w.since, due=w.since + timedelta(days=30),
            policy_version="2026-01",
        )  # fmt: skip
        moves.append((flag, SYSTEM))
        if w.item is not None and w.item.startswith("handoff-"):
            moves.append((c.SendHandoffReminder(handoff_id=w.item, step=w.step), SYSTEM))
    for stall in state.stalls:
        moves.append((c.EscalateStall(step=stall.step, item=stall.item), SYSTEM))
        note = c.AcknowledgeStall(step=stall.step, item=stall.item, note="soitan huomenna")
        moves.append((note, COORDINATOR))
    if state.tasmatyo:
        moves.append((c.RemoveTasmatyoTag(reason="virheellinen"), STAFF))
    if state.work_history_years is None:
        moves.append((c.RecordWorkHistory(years=8, last_insured="public"), STAFF))
    more_sick_days = min(300, (state.sickness_days_used or 0) + 150)
    moves += [
        (c.MakeJobReferral(employer_id=EMPLOYERS[0], vacancy_id="v-1"), STAFF),
        (c.ApplyForSubsidy(kind="pay_subsidy", employer_id=EMPLOYERS[0]), STAFF),
        (c.ApplyForSubsidy(kind="work_arrangement_subsidy"), STAFF),
        (c.RecordSicknessAllowance(days_used=more_sick_days), STAFF),
        (c.Reassign(assignee="ben"), STAFF),
        (c.AddNote(text="soitettu"), STAFF),
    ]
    return moves


def replay(events: list[Any]) -> ClientCase:
    return functools.reduce(lambda aggregate, event: event.mutate(aggregate), events, None)


class Journey(RuleBasedStateMachine):
    case: ClientCase
    now: datetime

    @initialize(data=st.data())
    def open_case(self, data: st.DataObject) -> None:
        area = data.draw(st.sampled_from(sorted(REF.areas)), label="area")
        team = data.draw(st.sampled_from(REF.areas[area].teams), label="team")
        channel = data.draw(st.sampled_from(["staff", "digital", "import"]), label="channel")
        self.now = START
        cmd = c.OpenCase(identity_code="131052-308T", area=area, team=team, channel=channel)
        ctx = c.Context(
            actor=c.Actor(id="anna", role="staff", area=area),
            recorded_at=self.now,
            correlation_id="open",
        )
        self.case = ClientCase.open(CASE_ID, "client-1", cmd, ctx)

    @rule(data=st.data())
    def any_command(self, data: st.DataObject) -> None:
        """Any kind of command, with random fields and a random (mostly fitting) actor."""
        self.now += data.draw(pauses, label="pause")
        state = self.case.state
        name = data.draw(command_names, label="command")
        cmd = data.draw(bodies(name, state), label="body")
        cmd.effective_at = data.draw(effective_times(self.now), label="effective_at")
        actor = data.draw(actors(name, state, cmd), label="actor")
        self.run(cmd, actor)

    @rule(data=st.data())
    def a_likely_move(self, data: st.DataObject) -> None:
        """A move a caseworker, partner or the workflow would make now: it takes journeys deep."""
        self.now += data.draw(pauses, label="pause")
        cmd, actor = data.draw(st.sampled_from(likely_moves(self.case.state)), label="move")
        cmd.effective_at = data.draw(effective_times(self.now), label="effective_at")
        self.run(cmd, actor)

    def run(self, cmd: c.Command, actor: c.Actor) -> None:
        state = self.case.state
        name = cmd.name()
        ctx = c.Context(
            actor=actor, recorded_at=self.now, correlation_id=f"corr-{self.case.version}"
        )
        events_before = len(self.case.pending_events)
        version_before = self.case.version
        state_before = msgspec.to_builtins(state)
        before = copy.deepcopy(state)
        offered = rules.next_steps(before, ctx)
        try:
            self.case.execute(cmd, ctx)
        except CaseworkError:
            assert len(self.case.pending_events) == events_before
            assert self.case.version == version_before
            assert msgspec.to_builtins(self.case.state) == state_before
            return

        new = self.case.pending_events[events_before:]
        assert not before.closed, "a closed case accepts nothing"
        assert len(new) >= 1
        assert self.case.version == version_before + len(new)
        assert [ev.originator_version for ev in new] == list(
            range(version_before + 1, self.case.version + 1)
        )
        assert type(new[0]) is EVENT_OF[name]
        assert all(type(ev) is e.StallCleared for ev in new[1:])
        for ev in new:
            assert ev.timestamp == self.now
            assert ev.meta.actor_id == actor.id
            assert ev.meta.actor_role == actor.role
            assert ev.meta.correlation_id == ctx.correlation_id
            assert ev.meta.effective_at == (cmd.effective_at or self.now)
        stalls_before = {(s.step, s.item) for s in before.stalls}
        stalls_after = {(s.step, s.item) for s in self.case.state.stalls}
        cleared = [(ev.step, ev.item) for ev in new[1:]]
        assert sorted(cleared, key=repr) == sorted(stalls_before - stalls_after, key=repr)
        if name not in NOT_OFFERED:
            assert name in offered, f"{name} was accepted but next_steps offered only {offered}"

    @invariant()
    def version_counts_the_events(self) -> None:
        assert self.case.version == len(self.case.pending_events)
        assert self.case.state.version == self.case.version

    @invariant()
    def state_is_valid(self) -> None:
        state = self.case.state
        under_way = [i for i in state.coaching if i.status in ("referred", "started")]
        assert len(under_way) <= 1, "at most one TyöDesign coaching under way"

        open_partners = [h.partner for h in state.handoffs if h.status in OPEN_HANDOFF]
        assert len(open_partners) == len(set(open_partners)), "one open handoff per partner"
        for handoff in state.handoffs:
            assert handoff.partner in REF.partners
            assert handoff.partner in handoff.consent_partners, "handoff without consent"
            assert (handoff.outcome is not None) == (handoff.status == "completed")
            root = state.handoff(handoff.consent_of) if handoff.consent_of else handoff
            assert root is not None, "consent rests on a request"
            assert root.consent_of is None, "consent rests on a request"
            assert handoff.consent_withdrawn == root.consent_withdrawn, "one consent, one answer"

        for kind in ("pay_subsidy", "work_arrangement_subsidy"):
            applied = [s for s in state.subsidies if s.kind == kind and s.status == "applied"]
            assert len(applied) <= 1, f"one {kind} application waiting at a time"

        ids = all_item_ids(state)
        assert len(ids) == len(set(ids)), "item ids are unique"

        waiting = {(w.step, w.item, w.since) for w in rules.waiting_steps(state)}
        for stall in state.stalls:
            assert (stall.step, stall.item, stall.since) in waiting, "stall of a moved step"
            assert stall.waiting_on == REF.steps[stall.step].waiting_on
        keys = [(s.step, s.item) for s in state.stalls]
        assert len(keys) == len(set(keys)), "a step is flagged once"

        if state.employment is not None:
            if state.employment.with_pay_subsidy:
                assert any(
                    s.kind == "pay_subsidy" and s.status == "granted" for s in state.subsidies
                ), "employment with pay subsidy needs a granted pay subsidy"
            assert set(state.employment.follow_ups) <= {"3", "6"}
        assert (state.tag_basis is not None) == state.tasmatyo
        if state.tasmatyo or state.diagnosed:
            assert state.identified_at is not None
        assert state.sickness_days_used is None or 0 <= state.sickness_days_used <= 300
        assert state.f05 == (state.employment is not None and state.sickness_days_used == 300)
        assert state.group == ("A" if state.diagnosed else "B" if state.tasmatyo else None)
        assert state.area in REF.areas
        assert state.team in REF.areas[state.area].teams

    @invariant()
    def closed_case_waits_on_nothing_and_offers_nothing(self) -> None:
        state = self.case.state
        if not state.closed:
            return
        assert state.stage == "closed"
        assert state.stalls == []
        assert rules.waiting_steps(state) == []
        for actor in (
            c.Actor(id="anna", role="staff"),
            c.Actor(id="kela-1", role="partner", partner="kela"),
            c.Actor(id="journey-workflow", role="system"),
        ):
            ctx = c.Context(actor=actor, recorded_at=self.now, correlation_id="look")
            assert rules.next_steps(state, ctx) == []

    @invariant()
    def replaying_the_events_gives_the_same_state(self) -> None:
        replayed = replay(list(self.case.pending_events))
        assert replayed.version == self.case.version
        assert replayed.state == self.case.state
        assert msgspec.to_builtins(replayed.state) == msgspec.to_builtins(self.case.state)

    @invariant()
    def the_facts_in_effect_at_any_moment_fold_without_fault(self) -> None:
        # Effective times are drawn back-dated too, so a step may take effect before its item.
        # Each event is checked at its own moment once, when it is the newest.
        events = list(self.case.pending_events)
        assert timeline.fold(events) == self.case.state
        latest = max(ev.meta.effective_at for ev in events)
        assert timeline.fold(events, latest) == self.case.state
        then = timeline.fold(events, events[-1].meta.effective_at)
        assert then is not None
        assert then.version <= self.case.version


Journey.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestJourney = Journey.TestCase
