"""Effective-time rules: a step cannot take effect before the step it depends on.

Each refusal says which step, when it was meant to take effect, and when the step it depends on
did, as Helsinki dates (with the time of day when both fall on one date).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from casework.domain import commands as c
from casework.domain import events as e
from casework.domain.case import ClientCase
from casework.domain.errors import IllegalStep
from tests.domain.test_journey_rules import (
    CASE_ID,
    CLIENT_ID,
    KELA,
    STAFF,
    SYSTEM,
    consent,
    refused,
)


def day(n: int, hour: int = 10) -> datetime:
    """February 2026, day n, at `hour` UTC (two hours later in Helsinki)."""
    return datetime(2026, 2, n, hour, tzinfo=UTC)


def on(n: int, cmd: c.Command, hour: int = 10) -> c.Command:
    cmd.effective_at = day(n, hour)
    return cmd


def journey(*steps: tuple[c.Command, c.Context] | c.Command) -> ClientCase:
    """A case opened on 1 February, moved on by `steps` (staff's unless a context is given)."""
    opening = c.OpenCase(identity_code="131052-308T", area="helsinki", team="helsinki-sote")
    opening.effective_at = day(1)
    case = ClientCase.open(CASE_ID, CLIENT_ID, opening, STAFF)
    for step in steps:
        cmd, ctx = step if isinstance(step, tuple) else (step, STAFF)
        case.execute(cmd, ctx)
    case.collect_events()
    return case


SCREENED = on(3, c.RecordScreening(answers={"q1": "kyllä"}, concern=True))  # version 2
TAGGED = on(4, c.AddTasmatyoTag(basis="screening"))  # version 3
REFERRED = on(10, c.ReferToCoaching())  # coaching-4
STARTED = on(12, c.StartCoaching(coaching_id="coaching-4"))
REQUESTED = on(10, c.RequestHandoff(partner="kela", consent=consent("kela")))  # handoff-4
REQUESTED_KEVA_TOO = on(10, c.RequestHandoff(partner="kela", consent=consent("kela", "keva")))
H = "handoff-4"
ACKNOWLEDGED = (on(12, c.AcknowledgeHandoff(handoff_id=H)), KELA)
ASKED = (on(13, c.RequestHandoffInfo(handoff_id=H, question="B statement?")), KELA)
ACCEPTED = (on(14, c.AcceptHandoff(handoff_id=H)), KELA)
APPLIED = on(5, c.ApplyForSubsidy(kind="pay_subsidy"))  # subsidy-2
GRANTED = on(10, c.DecideSubsidy(subsidy_id="subsidy-2", granted=True))

REFUSALS = {
    "coaching starts after its referral": (
        [SCREENED, TAGGED, REFERRED],
        on(8, c.StartCoaching(coaching_id="coaching-4")),
        STAFF,
        "coaching-4 cannot start on 2026-02-08: it was referred on 2026-02-10",
    ),
    "coaching completes after it started": (
        [SCREENED, TAGGED, REFERRED, STARTED],
        on(11, c.CompleteCoaching(coaching_id="coaching-4")),
        STAFF,
        "coaching-4 cannot complete on 2026-02-11: it started on 2026-02-12",
    ),
    "coaching is interrupted after it started": (
        [SCREENED, TAGGED, REFERRED, STARTED],
        on(11, c.InterruptCoaching(coaching_id="coaching-4", reason="moved")),
        STAFF,
        "coaching-4 cannot be interrupted on 2026-02-11: it started on 2026-02-12",
    ),
    "a partner acknowledges after the request": (
        [SCREENED, TAGGED, REQUESTED],
        on(9, c.AcknowledgeHandoff(handoff_id=H)),
        KELA,
        "the Kela handoff cannot be acknowledged on 2026-02-09: it was requested on 2026-02-10",
    ),
    "a partner asks for information after acknowledging": (
        [SCREENED, TAGGED, REQUESTED, ACKNOWLEDGED],
        on(11, c.RequestHandoffInfo(handoff_id=H, question="B statement?")),
        KELA,
        "the Kela handoff cannot be asked for more information on 2026-02-11:"
        " it has waited for Kela's decision since 2026-02-12",
    ),
    "information is supplied after it was asked for": (
        [SCREENED, TAGGED, REQUESTED, ACKNOWLEDGED, ASKED],
        on(12, c.SupplyHandoffInfo(handoff_id=H, answer="yes")),
        STAFF,
        "the Kela handoff cannot be given information on 2026-02-12:"
        " Kela asked for more information on 2026-02-13",
    ),
    "a partner accepts after acknowledging": (
        [SCREENED, TAGGED, REQUESTED, ACKNOWLEDGED],
        on(11, c.AcceptHandoff(handoff_id=H)),
        KELA,
        "the Kela handoff cannot be accepted on 2026-02-11:"
        " it has waited for Kela's decision since 2026-02-12",
    ),
    "a partner rejects after acknowledging": (
        [SCREENED, TAGGED, REQUESTED, ACKNOWLEDGED],
        on(11, c.RejectHandoff(handoff_id=H, reason="not ours")),
        KELA,
        "the Kela handoff cannot be rejected on 2026-02-11:"
        " it has waited for Kela's decision since 2026-02-12",
    ),
    "a partner redirects after acknowledging": (
        [SCREENED, TAGGED, REQUESTED_KEVA_TOO, ACKNOWLEDGED],
        on(11, c.RedirectHandoff(handoff_id=H, to_partner="keva", reason="theirs")),
        KELA,
        "the Kela handoff cannot be redirected on 2026-02-11:"
        " it has waited for Kela's decision since 2026-02-12",
    ),
    "a partner completes after accepting": (
        [SCREENED, TAGGED, REQUESTED, ACKNOWLEDGED, ACCEPTED],
        on(13, c.CompleteHandoff(handoff_id=H, outcome="advice_given")),
        KELA,
        "the Kela handoff cannot be completed on 2026-02-13: Kela accepted it on 2026-02-14",
    ),
    "a subsidy is decided after its application": (
        [APPLIED],
        on(4, c.DecideSubsidy(subsidy_id="subsidy-2", granted=True)),
        STAFF,
        "subsidy-2 cannot be decided on 2026-02-04: it was applied for on 2026-02-05",
    ),
    "a referral's outcome comes after the referral": (
        [on(10, c.MakeJobReferral(employer_id=CASE_ID, vacancy_id="vacancy-2"))],
        on(9, c.RecordReferralOutcome(referral_id="referral-2", hired=True)),
        STAFF,
        "the outcome of referral-2 cannot take effect on 2026-02-09:"
        " the referral was made on 2026-02-10",
    ),
    "employment on a pay subsidy starts no earlier than its decision": (
        [APPLIED, GRANTED],
        on(11, c.StartEmployment(starts_on=date(2026, 2, 9), subsidy_id="subsidy-2")),
        STAFF,
        "employment on subsidy-2 cannot start on 2026-02-09:"
        " the pay subsidy was granted on 2026-02-10",
    ),
    "a follow-up comes after the employment started": (
        [on(10, c.StartEmployment(starts_on=date(2026, 2, 20)))],
        on(15, c.RecordFollowUp(month=3, employed=True)),
        STAFF,
        "the 3-month follow-up cannot be recorded on 2026-02-15:"
        " the employment starts on 2026-02-20",
    ),
    "a tag resting on screening comes after the screening": (
        [SCREENED],
        on(2, c.AddTasmatyoTag(basis="screening")),
        STAFF,
        "the Täsmätyö tag cannot be added on 2026-02-02:"
        " the screening it rests on took effect on 2026-02-03",
    ),
    "a tag resting on a B statement comes after the diagnosis": (
        [on(6, c.RecordDiagnosis(icd_chapter="F", b_statement_on=date(2026, 1, 15)))],
        on(5, c.AddTasmatyoTag(basis="b_statement")),
        STAFF,
        "the Täsmätyö tag cannot be added on 2026-02-05:"
        " the diagnosis it rests on took effect on 2026-02-06",
    ),
    "a tag resting on a self-report comes after the self-assessment": (
        [on(6, c.RecordSelfAssessment(**dict.fromkeys(e.SELF_ASSESSMENT_AREAS, 4)))],
        on(5, c.AddTasmatyoTag(basis="self_report")),
        STAFF,
        "the Täsmätyö tag cannot be added on 2026-02-05:"
        " the self-assessment it rests on took effect on 2026-02-06",
    ),
    "declining the tag comes after the screening": (
        [SCREENED],
        on(2, c.DeclineTasmatyoTag(reason="not now")),
        STAFF,
        "the Täsmätyö tag cannot be declined on 2026-02-02:"
        " the screening took effect on 2026-02-03",
    ),
    "removing the tag comes after it was added": (
        [SCREENED, TAGGED],
        on(3, c.RemoveTasmatyoTag(reason="no longer relevant")),
        STAFF,
        "the Täsmätyö tag cannot be removed on 2026-02-03: it was added on 2026-02-04",
    ),
    "closing comes no earlier than the newest fact": (
        [on(10, c.AddNote(text="called the client"))],
        on(9, c.CloseCase(outcome="other", reason="moved away")),
        STAFF,
        "the case cannot close on 2026-02-09: its newest fact took effect on 2026-02-10",
    ),
    "on one date the refusal names the times of day, in Helsinki": (
        [SCREENED, TAGGED, REFERRED],
        on(10, c.StartCoaching(coaching_id="coaching-4"), hour=9),
        STAFF,
        "coaching-4 cannot start on 2026-02-10 11:00: it was referred on 2026-02-10 12:00",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("steps", "cmd", "ctx", "detail"), REFUSALS.values(), ids=REFUSALS)
def test_a_step_cannot_take_effect_before_the_step_it_depends_on(steps, cmd, ctx, detail):
    case = journey(*steps)
    assert str(refused(case, cmd, ctx, IllegalStep)) == detail


@pytest.mark.parametrize(("steps", "cmd", "ctx", "detail"), REFUSALS.values(), ids=REFUSALS)
def test_a_step_may_take_effect_at_the_moment_its_precedent_did(steps, cmd, ctx, detail):
    case = journey(*steps)
    # The newest of the journey's facts is the one the refused step came too early for; a
    # follow-up's is the employment's first day.
    cmd = msgspec.structs.replace(cmd, effective_at=case.state.last_event_at)
    if isinstance(cmd, c.StartEmployment):
        cmd.starts_on = date(2026, 2, 10)
    if isinstance(cmd, c.RecordFollowUp):
        cmd.effective_at = datetime(2026, 2, 19, 22, tzinfo=UTC)  # 20 February in Helsinki
    case.execute(cmd, ctx)
    assert case.version == len(steps) + 2


def stalled_on_screening() -> ClientCase:
    """A case whose screening the journey flagged as stalled on its deadline, 15 February."""
    stalled = c.FlagStall(
        step="screening", since=day(1), due=day(15), policy_version="2026-01",
        effective_at=day(15),
    )  # fmt: skip
    return journey((stalled, SYSTEM))


def test_a_fact_back_dated_before_a_stall_clears_it_when_the_stall_took_effect():
    case = stalled_on_screening()
    case.execute(on(5, c.RecordScreening(answers={"q1": "ei"}, concern=False)), STAFF)
    screened, cleared = case.collect_events()[-2:]
    assert (type(screened), screened.meta.effective_at) == (e.ScreeningRecorded, day(5))
    assert (type(cleared), cleared.meta.effective_at) == (e.StallCleared, day(15))
    assert case.state.stalls == []


def test_a_fact_after_a_stall_clears_it_when_the_fact_took_effect():
    case = stalled_on_screening()
    case.execute(on(20, c.RecordScreening(answers={"q1": "ei"}, concern=False)), STAFF)
    cleared = case.collect_events()[-1]
    assert (type(cleared), cleared.meta.effective_at) == (e.StallCleared, day(20))
