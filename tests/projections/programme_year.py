"""A seeded random programme year (2025), driven through the real application.

Cases open across the four areas with back-dated effective times; each runs a random journey
(screening, tags, diagnoses, coaching, job referrals, subsidies, handoffs with acknowledgements,
redirections and outcomes, sickness allowance up to 300 days, employment, closing), with the stalls
the service itself would have flagged on the way. Employers carry interest tags; coordinators hold
sessions that get feedback. Every effective time is a whole second, so medians are exact.

`late_facts` then records a few facts back-dated into earlier months, each restating a month.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_args
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import msgspec

from casework.application import CaseworkApp
from casework.demo import sample_business_id
from casework.domain import commands as c
from casework.domain.commands import SubsidyKind
from casework.domain.employer import AddInterestTag, Employer, OpenVacancy, RegisterEmployer
from casework.domain.errors import CaseworkError
from casework.domain.events import SELF_ASSESSMENT_AREAS
from casework.domain.policy import shipped_policy
from casework.domain.reference import reference
from casework.domain.stalls import due_commands
from casework.domain.training import (
    HoldSession,
    PlanSession,
    RecordFeedback,
    TrainingSession,
    Usefulness,
)
from tests.workflows.helpers import new_code

HELSINKI = ZoneInfo("Europe/Helsinki")
START = datetime(2025, 1, 1, tzinfo=HELSINKI)
END = datetime(2026, 1, 1, tzinfo=HELSINKI)
SYSTEM = c.Actor("casework", "system")
COORDINATOR = c.Actor("coordinator-1", "coordinator")
PARTNERS = ("kela", "keva", "ilmarinen")
OUTCOMES = get_args(c.HandoffOutcome)


@dataclass
class Restated:
    """A late fact, and the indicator it should change in the month it took effect."""

    area: str
    month: str
    indicator: str


class ProgrammeYear:
    def __init__(self, app: CaseworkApp, seed: int) -> None:
        self.app = app
        self.rng = random.Random(seed)
        self.policy = shipped_policy()
        self.areas = list(reference().areas)
        self.employers: dict[str, list[UUID]] = {a: [] for a in self.areas}
        self.refused = 0
        self._states: dict[UUID, Any] = {}  # the state each case was last read at

    # Time

    def moment(self, lo: datetime = START, hi: datetime = END) -> datetime:
        seconds = int((hi - lo).total_seconds())
        return lo + timedelta(seconds=self.rng.randrange(max(seconds, 1)))

    def after(self, t: datetime, lo: float = 1, hi: float = 30) -> datetime:
        return t + timedelta(seconds=round(self.rng.uniform(lo, hi) * 86400))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # Employers and sessions

    def employers_and_sessions(self, employers: int = 20, sessions: int = 30) -> None:
        staff = self.app.context(c.Actor("staff-x", "staff"))
        for n in range(employers):
            area = self.areas[n % len(self.areas)]
            at = self.moment(hi=END - timedelta(days=60))
            cmd = RegisterEmployer(
                business_id=sample_business_id(1_000_000 + n * 13), name=f"Employer {n}",
                sector="services", area=area, effective_at=at,
            )  # fmt: skip
            employer = Employer.register(uuid4(), cmd, staff)
            # Job referrals name an open vacancy: each employer has one, `vacancy-2`.
            employer.execute(
                OpenVacancy(title="Työntekijä", sector="services", effective_at=at), staff
            )
            if self.chance(0.6):
                employer.execute(AddInterestTag(effective_at=self.after(at, 1, 50)), staff)
            self.app.save(employer)
            self.employers[area].append(employer.id)
        coordinator = self.app.context(COORDINATOR)
        for n in range(sessions):
            at = self.moment(hi=END - timedelta(days=30))
            kind = self.rng.choice(["onboarding", "info", "info", "club"])
            plan = PlanSession(
                kind=kind, title=f"Session {n}", area=self.rng.choice(self.areas),
                on=at.date(), effective_at=at,
            )  # fmt: skip
            session = TrainingSession.plan(uuid4(), plan, coordinator)
            if self.chance(0.85):
                held = self.after(at, 0.1, 2)
                participants = self.rng.randint(3, 25)
                session.execute(
                    HoldSession(participants=participants, effective_at=held), coordinator
                )
                answers: list[Usefulness] = self.rng.choices(
                    ["useful", "partly_useful", "not_useful"], [7, 3, 1], k=participants
                )
                for answer in answers[: self.rng.randint(0, participants)]:
                    at = self.after(held, 0, 20)
                    session.execute(RecordFeedback(answer=answer, effective_at=at), coordinator)
            self.app.save(session)

    # Cases

    def run(self, cases: int) -> None:
        self.employers_and_sessions()
        for _ in range(cases):
            self.case()

    def do(self, case_id: UUID, cmd: c.Command, actor: c.Actor, at: datetime) -> bool:
        """Flag what fell due before `at` (as the journey workflow would), then run `cmd`."""
        self.flag_due(case_id, at)
        try:
            self.execute(case_id, msgspec.structs.replace(cmd, effective_at=at), actor)
        except CaseworkError:
            self.refused += 1
            return False
        return True

    def execute(self, case_id: UUID, cmd: c.Command, actor: c.Actor) -> None:
        self._states.pop(case_id, None)
        self.app.execute(case_id, cmd, self.app.context(actor))

    def flag_due(self, case_id: UUID, at: datetime) -> None:
        for _ in range(20):
            commands, _ = due_commands(self.state(case_id), self.policy, at)
            if not commands:
                return
            self.execute(case_id, commands[0], SYSTEM)

    def state(self, case_id: UUID) -> Any:
        if case_id not in self._states:
            self._states[case_id] = self.app.get_case(case_id).state
        return self._states[case_id]

    def case(self) -> None:
        """One journey, step by step, each a while after the one before."""
        rng, ref = self.rng, reference()
        area = rng.choice(self.areas)
        staff = c.Actor(f"staff-{area}", "staff", area)
        t = self.moment(hi=END - timedelta(days=20))
        if self.chance(0.1):
            t = month_start_after(t)  # on a month's first instant: not in the month before
        opening = c.OpenCase(
            identity_code=new_code(), area=area, team=rng.choice(ref.areas[area].teams),
            effective_at=t,
        )  # fmt: skip
        case_id = self.app.open_case(opening, self.app.context(staff)).case_id

        def step(cmd: c.Command, actor: c.Actor = staff, lo: float = 1, hi: float = 25) -> bool:
            nonlocal t
            t = self.after(t, lo, hi)
            return t < END and self.do(case_id, cmd, actor, t)

        def later() -> bool:
            return t < END

        tag_later = False
        if self.chance(0.85):
            concern = self.chance(0.65)
            step(c.RecordScreening(answers={"q1": "a"}, concern=concern), hi=15)
            if concern:
                if self.chance(0.55):
                    step(c.AddTasmatyoTag(basis="screening"), hi=20)
                elif self.chance(0.5):
                    tag_later = True  # after referrals and subsidies: those are not the group's
                elif self.chance(0.5):
                    step(c.DeclineTasmatyoTag(reason="not now"))
        if self.chance(0.15):
            step(c.RecordSelfAssessment(**dict.fromkeys(SELF_ASSESSMENT_AREAS, 5)))
            if not self.state(case_id).tasmatyo and self.chance(0.4):
                step(c.AddTasmatyoTag(basis="self_report"))
        if self.chance(0.25):
            step(
                c.RecordDiagnosis(icd_chapter=rng.choice("FMGI"), b_statement_on=date(2024, 12, 1))
            )
            if not self.state(case_id).tasmatyo and self.chance(0.5):
                step(c.AddTasmatyoTag(basis="b_statement"))
        if self.chance(0.4):
            step(
                c.RecordWorkHistory(
                    years=rng.randint(0, 20), last_insured=rng.choice(["public", "private", "none"])
                )
            )

        def identified() -> bool:
            return self.state(case_id).identified

        tracks = ["coaching", "referrals", "subsidies", "handoff", "sickness"]
        rng.shuffle(tracks)
        for track in tracks:
            if not later():
                break
            if track == "coaching" and identified() and self.chance(0.5):
                if step(c.ReferToCoaching()):
                    coaching_id = self.state(case_id).coaching[-1].id
                    if self.chance(0.75) and step(c.StartCoaching(coaching_id=coaching_id), hi=40):
                        if self.chance(0.7):
                            step(c.CompleteCoaching(coaching_id=coaching_id), lo=10, hi=60)
                        elif self.chance(0.5):
                            step(c.InterruptCoaching(coaching_id=coaching_id, reason="moved"))
            elif track == "referrals":
                for _ in range(rng.choice([0, 0, 1, 1, 2])):
                    employer = rng.choice(self.employers[area])
                    if step(
                        c.MakeJobReferral(employer_id=employer, vacancy_id="vacancy-2")
                    ) and self.chance(0.8):
                        referral_id = self.state(case_id).referrals[-1].id
                        step(
                            c.RecordReferralOutcome(referral_id=referral_id, hired=self.chance(0.3))
                        )
            elif track == "subsidies":
                kinds: list[tuple[SubsidyKind, float]] = [
                    ("pay_subsidy", 0.35), ("work_arrangement_subsidy", 0.12)
                ]  # fmt: skip
                for kind, p in kinds:
                    if self.chance(p) and step(c.ApplyForSubsidy(kind=kind)) and self.chance(0.9):
                        subsidy_id = self.state(case_id).subsidies[-1].id
                        step(
                            c.DecideSubsidy(subsidy_id=subsidy_id, granted=self.chance(0.7)), hi=30
                        )
            elif track == "handoff" and identified() and self.chance(0.45):
                self.handoff(case_id, step)
            elif track == "sickness" and self.chance(0.3):
                for days in rng.choice([[120], [300], [150, 300], [200, 250], [300, 300]]):
                    step(c.RecordSicknessAllowance(days_used=days), hi=40)
        if tag_later and not self.state(case_id).tasmatyo:
            tag = c.AddTasmatyoTag(basis="screening")
            if self.chance(0.4) and (at := month_start_after(t)) < END:
                t = at
                self.do(case_id, tag, staff, at)  # in the group from a month's first instant
            else:
                step(tag)
        if later() and self.chance(0.4):
            granted = [s.id for s in self.state(case_id).subsidies
                       if s.kind == "pay_subsidy" and s.status == "granted"]  # fmt: skip
            subsidy_id = granted[-1] if granted and self.chance(0.8) else None
            employment = c.StartEmployment(
                starts_on=date(2025, 6, 1),
                employer_id=rng.choice(self.employers[area]),
                subsidy_id=subsidy_id,
            )
            if step(employment) and self.chance(0.3):
                step(c.RecordFollowUp(month=3, employed=self.chance(0.8)), lo=80, hi=100)
        if self.state(case_id).tasmatyo and self.chance(0.2):
            step(c.RemoveTasmatyoTag(reason="no longer relevant"))
        if self.chance(0.1):
            step(c.Reassign(assignee="someone", team=rng.choice(ref.areas[area].teams)))
        if self.chance(0.35):
            employed = self.state(case_id).employment is not None
            outcome = "employed" if employed else rng.choice(["rehabilitation", "pension", "other"])
            close = c.CloseCase(outcome=outcome, reason="done")  # type: ignore[arg-type]
            if self.chance(0.3) and (at := month_start_after(t)) < END:
                self.do(case_id, close, staff, at)  # still open at the end of the month before
            else:
                step(close, hi=60)
        if not self.state(case_id).closed:
            self.flag_due(case_id, END - timedelta(seconds=1))

    def handoff(self, case_id: UUID, step: Any) -> None:
        rng = self.rng
        partner = rng.choice(PARTNERS)
        other = rng.choice([p for p in PARTNERS if p != partner])
        consent = c.Consent(
            given_on=date(2025, 1, 1), partners=[partner, other], shares=["work_history"]
        )
        if not step(
            c.RequestHandoff(partner=partner, consent=consent, summary="s", shares=["work_history"])
        ):
            return
        handoff_id = self.state(case_id).handoffs[-1].id
        for hop in range(2):
            actor = c.Actor(f"{partner}-user", "partner", partner=partner)
            if not (
                self.chance(0.85)
                and step(c.AcknowledgeHandoff(handoff_id=handoff_id), actor, 0.5, 20)
            ):
                return
            if self.chance(0.25):
                step(c.RequestHandoffInfo(handoff_id=handoff_id, question="q"), actor)
                step(c.SupplyHandoffInfo(handoff_id=handoff_id, answer="a"), hi=15)
            r = rng.random()
            if r < 0.5:
                if step(c.AcceptHandoff(handoff_id=handoff_id), actor, hi=30) and self.chance(0.7):
                    done = c.CompleteHandoff(handoff_id=handoff_id, outcome=rng.choice(OUTCOMES))
                    step(done, actor, hi=40)
                return
            if r < 0.7:
                step(c.RejectHandoff(handoff_id=handoff_id, reason="not ours"), actor)
                return
            if r < 0.9 and hop == 0:
                if not step(
                    c.RedirectHandoff(handoff_id=handoff_id, to_partner=other, reason="theirs"),
                    actor,
                ):
                    return
                handoff_id, partner = self.state(case_id).handoffs[-1].id, other
                continue
            return

    # Late facts

    def late_facts(self, count: int = 6) -> list[Restated]:
        """Facts recorded now but back-dated into an earlier month than the case's latest facts.

        Each raises an indicator in the month it took effect; the one kind that also lowers
        another month (moving an identification earlier) keeps clear of the months the others
        raise, so every restatement shows.
        """
        restated: list[Restated] = []
        lowered: set[tuple[str, str]] = set()
        open_cases = self.app.case_ids(open_only=True)
        self.rng.shuffle(open_cases)
        # Stalled on identification first: the diagnosis clears the stall before it began.
        open_cases.sort(key=lambda case_id: not self.state(case_id).stall("identification", None))
        done: Counter[str] = Counter()
        for case_id in open_cases:
            state = self.state(case_id)
            staff = c.Actor(f"staff-{state.area}", "staff", state.area)
            last = _month(state.last_event_at)
            at = state.opened_at + timedelta(days=1)
            raised = (state.area, _month(at))
            if not (state.tasmatyo or state.diagnosed or state.identified_at):
                # Never identified: a diagnosis back-dated to a day after opening restates every
                # month since (target group, identification, referrals for the target group).
                if done["diagnosed"] == count or _month(at) == last or raised in lowered:
                    continue
                diagnosis = c.RecordDiagnosis(
                    icd_chapter="F", b_statement_on=date(2025, 1, 1), effective_at=at
                )
                self.execute(case_id, diagnosis, staff)
                restated.append(Restated(*raised, "target_group_at_month_end"))
                restated.append(Restated(*raised, "identifications"))
                done["diagnosed"] += 1
            elif state.identified_at and not state.diagnosed:
                # Tagged later: a diagnosis back-dated before the tag moves the identification.
                source = (state.area, _month(state.identified_at))
                if (
                    done["earlier"] == count // 2 or source == raised or raised in lowered
                    or any(source == (r.area, r.month) for r in restated)
                ):  # fmt: skip
                    continue
                diagnosis = c.RecordDiagnosis(
                    icd_chapter="M", b_statement_on=date(2025, 1, 1), effective_at=at
                )
                self.execute(case_id, diagnosis, staff)
                restated.append(Restated(*raised, "identifications"))
                lowered.add(source)
                done["earlier"] += 1
            elif state.employment and state.sickness_days_used != 300:
                # Employed: reaching 300 sickness-allowance days puts the client in F05.
                at = self._employment_effective(case_id) + timedelta(days=1)
                if done["employed"] == count // 2 or at >= END or _month(at) == last:
                    continue
                sickness = c.RecordSicknessAllowance(days_used=300, effective_at=at)
                self.execute(case_id, sickness, staff)
                restated.append(Restated(state.area, _month(at), "f05_at_month_end"))
                done["employed"] += 1
        return restated

    def _employment_effective(self, case_id: UUID) -> datetime:
        for stored in self.app.stored_events(case_id):
            event = self.app.mapper.to_domain_event(stored)
            if type(event).__name__ == "EmploymentStarted":
                return event.meta.effective_at
        raise LookupError(case_id)


def month_start_after(at: datetime) -> datetime:
    """The first instant of the next month in Helsinki."""
    local = at.astimezone(HELSINKI)
    year, month = local.year + local.month // 12, local.month % 12 + 1
    return datetime(year, month, 1, tzinfo=HELSINKI)


def _month(at: datetime) -> str:
    return f"{at.astimezone(HELSINKI):%Y-%m}"
