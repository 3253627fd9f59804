"""The journey rules, one example each: the ClientCase aggregate, Employer and TrainingSession.

Each test is named after the rule it checks and asserts the events recorded and the state reached by
equality. A refused command must record nothing and change nothing (`refused` checks both).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from casework.domain import commands as c
from casework.domain import events as e
from casework.domain import rules
from casework.domain.case import ClientCase
from casework.domain.employer import (
    AddInterestTag,
    Employer,
    FillVacancy,
    InterestTagAdded,
    OpenVacancy,
    RegisterEmployer,
    VacancyFilled,
    VacancyOpened,
)
from casework.domain.errors import (
    ConsentMissing,
    FieldError,
    IllegalStep,
    NotPermitted,
    UnknownCase,
    ValidationFailed,
)
from casework.domain.events import EventMeta
from casework.domain.state import CaseState, Coaching, Employment, Handoff, Stall, Subsidy
from casework.domain.training import (
    FeedbackRecorded,
    HoldSession,
    PlanSession,
    RecordFeedback,
    SessionHeld,
    TrainingSession,
)

RECORDED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CASE_ID = UUID("6f1d3c2a-0000-4000-8000-000000000001")
CLIENT_ID = "client-7f3a"
EMPLOYER_ID = UUID("6f1d3c2a-0000-4000-8000-0000000000e1")
SESSION_ID = UUID("6f1d3c2a-0000-4000-8000-0000000000f1")


def context(
    role: str = "staff",
    *,
    partner: str | None = None,
    area: str = "helsinki",
    actor_id: str | None = None,
    at: datetime = RECORDED_AT,
) -> c.Context:
    actor = c.Actor(id=actor_id or f"{partner or role}-1", role=role, area=area, partner=partner)  # type: ignore[arg-type]
    return c.Context(actor=actor, recorded_at=at, correlation_id="corr-1")


STAFF = context()
SYSTEM = context("system", area="*")
KELA = context("partner", partner="kela", area="*")
KEVA = context("partner", partner="keva", area="*")
ILMARINEN = context("partner", partner="ilmarinen", area="*")
PARTNERS = {"kela": KELA, "keva": KEVA, "ilmarinen": ILMARINEN}


def opening(area: str = "helsinki", team: str = "helsinki-sote") -> c.OpenCase:
    return c.OpenCase(identity_code="131052-308T", area=area, team=team)


def open_case(*cmds: c.Command, ctx: c.Context = STAFF) -> ClientCase:
    """A case opened by Helsinki staff, moved on by `cmds`; every event so far collected."""
    case = ClientCase.open(CASE_ID, CLIENT_ID, opening(), STAFF)
    for cmd in cmds:
        case.execute(cmd, ctx)
    case.collect_events()
    return case


def recorded(case: ClientCase) -> list[object]:
    return list(case.collect_events())


def meta(ctx: c.Context = STAFF, effective_at: datetime | None = None) -> EventMeta:
    return EventMeta(
        actor_id=ctx.actor.id,
        actor_role=ctx.actor.role,
        correlation_id=ctx.correlation_id,
        causation_id=ctx.causation_id,
        effective_at=effective_at or ctx.recorded_at,
    )


def event(
    cls: type[e.CaseEvent],
    version: int,
    ctx: c.Context = STAFF,
    *,
    reason: str | None = None,
    effective_at: datetime | None = None,
    **data: object,
) -> e.CaseEvent:
    """The event `cls` as the aggregate should record it at `version`."""
    return cls(  # type: ignore[call-arg]
        originator_id=CASE_ID,
        originator_version=version,
        timestamp=ctx.recorded_at,
        meta=meta(ctx, effective_at),
        reason=reason,
        **data,
    )


def consent(*partners: str, shares: tuple[str, ...] = ()) -> c.Consent:
    return c.Consent(given_on=date(2026, 3, 1), partners=list(partners), shares=list(shares))


def refused(case: ClientCase, cmd: c.Command, ctx: c.Context, error: type[Exception]) -> Exception:
    """Run `cmd`, expect `error`, and check that nothing was recorded or changed."""
    state_before = copy.deepcopy(case.state)
    version_before = case.version
    pending_before = len(case.pending_events)
    with pytest.raises(error) as raised:
        case.execute(cmd, ctx)
    assert len(case.pending_events) == pending_before
    assert case.version == version_before
    assert case.state == state_before
    return raised.value


SCREENED_WITH_CONCERN = c.RecordScreening(answers={"q1": "kyllä"}, concern=True)
TAGGED = c.AddTasmatyoTag(basis="screening")
DIAGNOSED = c.RecordDiagnosis(icd_chapter="F", b_statement_on=date(2026, 2, 20))


# --- opening -------------------------------------------------------------------------------------


def test_opening_a_case_records_case_opened_and_waits_on_screening() -> None:
    case = ClientCase.open(CASE_ID, CLIENT_ID, opening(), STAFF)

    [opened] = recorded(case)
    assert type(opened) is e.CaseOpened
    assert (opened.originator_id, opened.originator_version) == (CASE_ID, 1)
    assert (opened.meta, opened.client_id, opened.area, opened.team) == (
        meta(),
        CLIENT_ID,
        "helsinki",
        "helsinki-sote",
    )
    assert case.state == CaseState(
        case_id=str(CASE_ID),
        client_id=CLIENT_ID,
        area="helsinki",
        team="helsinki-sote",
        channel="staff",
        opened_at=RECORDED_AT,
        last_event_at=RECORDED_AT,
        version=1,
    )
    assert (case.state.stage, case.state.group) == ("opened", None)
    assert rules.waiting_steps(case.state) == [
        rules.Waiting("screening", None, RECORDED_AT, "staff"),
        rules.Waiting("inactivity", None, RECORDED_AT, "staff"),
    ]


@pytest.mark.parametrize(
    ("area", "team", "field", "message"),
    [
        ("espoo", "helsinki-sote", "area", "unknown area 'espoo'"),
        (
            "helsinki",
            "helsinki-mining",
            "team",
            "'helsinki-mining' is not a team of area 'helsinki'",
        ),
        ("helsinki", "itainen-sote", "team", "'itainen-sote' is not a team of area 'helsinki'"),
    ],
)
def test_case_opens_only_in_a_known_area_and_one_of_its_teams(
    area: str, team: str, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        ClientCase.open(CASE_ID, CLIENT_ID, opening(area, team), context(area="*"))
    assert raised.value.errors == [FieldError(field, message)]
    assert raised.value.code == "validation_failed"


def test_staff_cannot_open_a_case_in_another_area() -> None:
    with pytest.raises(NotPermitted, match="staff of area lantinen cannot open a case in helsinki"):
        ClientCase.open(CASE_ID, CLIENT_ID, opening(), context(area="lantinen"))


def test_a_partner_cannot_open_a_case() -> None:
    with pytest.raises(NotPermitted, match="a partner may not open case"):
        ClientCase.open(CASE_ID, CLIENT_ID, opening(), KELA)


def test_staff_of_another_area_cannot_act_on_the_case() -> None:
    case = open_case()
    error = refused(case, SCREENED_WITH_CONCERN, context(area="itainen"), NotPermitted)
    assert str(error) == "the case belongs to area helsinki"


def test_item_ids_are_named_by_the_version_of_the_event_that_creates_them() -> None:
    case = open_case(DIAGNOSED)  # versions 1 and 2
    case.execute(c.ReferToCoaching(), STAFF)  # 3
    case.execute(c.ApplyForSubsidy(kind="pay_subsidy"), STAFF)  # 4
    case.execute(c.MakeJobReferral(employer_id=EMPLOYER_ID, vacancy_id="v-1"), STAFF)  # 5
    case.execute(c.RequestHandoff(partner="kela", consent=consent("kela")), STAFF)  # 6

    state = case.state
    assert [i.id for i in state.coaching] == ["coaching-3"]
    assert [i.id for i in state.subsidies] == ["subsidy-4"]
    assert [i.id for i in state.referrals] == ["referral-5"]
    assert [i.id for i in state.handoffs] == ["handoff-6"]


# --- screening, identification, group and stage --------------------------------------------------


def test_screening_with_concern_waits_on_identification() -> None:
    case = open_case()
    case.execute(SCREENED_WITH_CONCERN, STAFF)

    assert recorded(case) == [
        event(e.ScreeningRecorded, 2, answers={"q1": "kyllä"}, concern=True),
    ]
    assert (case.state.stage, case.state.screened_at, case.state.concern) == (
        "screened",
        RECORDED_AT,
        True,
    )
    assert [w.step for w in rules.waiting_steps(case.state)] == ["identification", "inactivity"]


def test_screening_needs_at_least_one_answer() -> None:
    case = open_case()
    error = refused(case, c.RecordScreening(answers={}, concern=True), STAFF, ValidationFailed)
    assert error.errors == [FieldError("answers", "record at least one answer")]


def test_tasmatyo_tag_cannot_rest_on_a_screening_without_concern() -> None:
    case = open_case(c.RecordScreening(answers={"q1": "ei"}, concern=False))
    error = refused(case, TAGGED, STAFF, IllegalStep)
    assert str(error) == "the tag cannot rest on screening: no screening found a concern"


def test_tasmatyo_tag_cannot_rest_on_a_b_statement_none_is_recorded() -> None:
    case = open_case(SCREENED_WITH_CONCERN)
    error = refused(case, c.AddTasmatyoTag(basis="b_statement"), STAFF, IllegalStep)
    assert str(error) == "the tag cannot rest on a B statement: none is recorded"


def test_tasmatyo_tag_on_a_screening_concern_makes_a_group_b_client() -> None:
    case = open_case(SCREENED_WITH_CONCERN)
    case.execute(TAGGED, STAFF)

    assert recorded(case) == [event(e.TasmatyoTagAdded, 3, basis="screening")]
    state = case.state
    assert (state.tasmatyo, state.tag_basis, state.tag_decided) == (True, "screening", True)
    assert (state.group, state.stage, state.identified_at) == ("B", "identified", RECORDED_AT)
    assert [w.step for w in rules.waiting_steps(state)] == ["service_plan", "inactivity"]


def test_tasmatyo_tag_is_added_once() -> None:
    case = open_case(SCREENED_WITH_CONCERN, TAGGED)
    error = refused(case, TAGGED, STAFF, IllegalStep)
    assert str(error) == "the client already carries the Täsmätyö tag"


def test_removing_the_tag_needs_a_tag_and_leaves_the_identification_date() -> None:
    case = open_case(SCREENED_WITH_CONCERN)
    refused(case, c.RemoveTasmatyoTag(reason="virhe"), STAFF, IllegalStep)
    case.execute(TAGGED, STAFF)
    case.execute(c.RemoveTasmatyoTag(reason="virhe"), STAFF)

    assert recorded(case)[-1] == event(e.TasmatyoTagRemoved, 4, reason="virhe")
    assert (case.state.tasmatyo, case.state.tag_basis, case.state.group) == (False, None, None)
    assert (case.state.stage, case.state.identified_at) == ("screened", RECORDED_AT)


def test_declining_the_tag_needs_an_undecided_screening_concern() -> None:
    case = open_case()
    error = refused(case, c.DeclineTasmatyoTag(reason="ei tarvetta"), STAFF, IllegalStep)
    assert str(error) == "there is no screening concern to decide on"

    case.execute(SCREENED_WITH_CONCERN, STAFF)
    case.execute(c.DeclineTasmatyoTag(reason="ei tarvetta"), STAFF)
    assert recorded(case)[-1] == event(e.TasmatyoTagDeclined, 3, reason="ei tarvetta")
    assert [w.step for w in rules.waiting_steps(case.state)] == ["inactivity"]

    error = refused(case, c.DeclineTasmatyoTag(reason="taas"), STAFF, IllegalStep)
    assert str(error) == "the tag has already been decided"


def test_diagnosis_makes_a_group_a_client_tagged_or_not() -> None:
    case = open_case()
    case.execute(DIAGNOSED, STAFF)

    assert recorded(case) == [
        event(e.DiagnosisRecorded, 2, icd_chapter="F", b_statement_on=date(2026, 2, 20))
    ]
    assert (case.state.group, case.state.stage, case.state.diagnosed) == ("A", "identified", True)
    case.execute(c.AddTasmatyoTag(basis="b_statement"), STAFF)
    assert case.state.group == "A"


def test_unknown_icd_chapter_is_refused_naming_icd_chapter() -> None:
    case = open_case()
    cmd = c.RecordDiagnosis(icd_chapter="U", b_statement_on=date(2026, 2, 20))
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("icd_chapter", "not an ICD-10 chapter letter")]


@pytest.mark.parametrize(
    ("cmds", "stage", "group"),
    [
        ([], "opened", None),
        ([SCREENED_WITH_CONCERN], "screened", None),
        ([SCREENED_WITH_CONCERN, TAGGED], "identified", "B"),
        ([DIAGNOSED], "identified", "A"),
        ([SCREENED_WITH_CONCERN, TAGGED, DIAGNOSED], "identified", "A"),
        ([c.StartEmployment(starts_on=date(2026, 4, 1))], "employed", None),
        ([DIAGNOSED, c.StartEmployment(starts_on=date(2026, 4, 1))], "employed", "A"),
        ([c.CloseCase(outcome="other", reason="muutti")], "closed", None),
    ],
)
def test_group_and_stage_follow_from_the_facts(
    cmds: list[c.Command], stage: str, group: str | None
) -> None:
    case = open_case()
    for cmd in cmds:
        case.execute(cmd, STAFF)
    assert (case.state.stage, case.state.group) == (stage, group)


def test_tag_on_a_self_report_needs_a_self_assessment() -> None:
    case = open_case()
    error = refused(case, c.AddTasmatyoTag(basis="self_report"), STAFF, IllegalStep)
    assert str(error) == "the tag cannot rest on a self-report: no self-assessment is recorded"

    assessment = c.RecordSelfAssessment(
        overall=4, mental_wellbeing=3, social_participation=5, physical_functioning=6, skills=7,
        everyday_coping=5,
    )  # fmt: skip
    digital = context("system", area="*", actor_id="te-digi")  # the client answered in TE-digi
    case.execute(assessment, digital)
    case.execute(c.AddTasmatyoTag(basis="self_report"), STAFF)

    scores = {
        "overall": 4, "mental_wellbeing": 3, "social_participation": 5,
        "physical_functioning": 6, "skills": 7, "everyday_coping": 5,
    }  # fmt: skip
    assert recorded(case) == [
        event(e.SelfAssessmentRecorded, 2, digital, scores=scores),
        event(e.TasmatyoTagAdded, 3, basis="self_report"),
    ]
    assert case.state.group == "B"


# --- service tracks ------------------------------------------------------------------------------


def test_coaching_needs_an_identified_client() -> None:
    case = open_case()
    error = refused(case, c.ReferToCoaching(), STAFF, IllegalStep)
    assert (
        str(error) == "a TyöDesign referral needs an identified client: add the Täsmätyö tag first"
    )


def test_only_one_coaching_is_under_way_at_a_time() -> None:
    case = open_case(DIAGNOSED, c.ReferToCoaching())
    error = refused(case, c.ReferToCoaching(), STAFF, IllegalStep)
    assert str(error) == "the client already has TyöDesign coaching under way"

    case.execute(c.StartCoaching(coaching_id="coaching-3"), STAFF)
    refused(case, c.ReferToCoaching(), STAFF, IllegalStep)
    case.execute(c.CompleteCoaching(coaching_id="coaching-3"), STAFF)
    case.execute(c.ReferToCoaching(), STAFF)

    assert recorded(case) == [
        event(e.CoachingStarted, 4, coaching_id="coaching-3"),
        event(e.CoachingCompleted, 5, coaching_id="coaching-3"),
        event(e.CoachingReferred, 6, coaching_id="coaching-6"),
    ]
    assert case.state.coaching == [
        Coaching("coaching-3", "completed", RECORDED_AT),
        Coaching("coaching-6", "referred", RECORDED_AT),
    ]


def test_coaching_is_completed_only_after_it_started() -> None:
    case = open_case(DIAGNOSED, c.ReferToCoaching())
    error = refused(case, c.CompleteCoaching(coaching_id="coaching-3"), STAFF, IllegalStep)
    assert str(error) == "coaching coaching-3 cannot be completed: it is referred"
    error = refused(case, c.StartCoaching(coaching_id="coaching-9"), STAFF, IllegalStep)
    assert str(error) == "the case has no coaching coaching-9"


def test_unknown_sector_is_refused_naming_sector() -> None:
    case = open_case(DIAGNOSED)
    cmd = c.ProposeMatch(employer_id=EMPLOYER_ID, sector="mining")
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("sector", "unknown sector 'mining'")]

    case.execute(c.ProposeMatch(employer_id=EMPLOYER_ID, sector="it"), STAFF)
    assert recorded(case) == [
        event(e.MatchProposed, 3, employer_id=str(EMPLOYER_ID), sector="it"),
    ]


def test_job_referral_gets_one_outcome() -> None:
    case = open_case(c.MakeJobReferral(employer_id=EMPLOYER_ID, vacancy_id="v-1"))
    case.execute(c.RecordReferralOutcome(referral_id="referral-2", hired=False), STAFF)
    assert recorded(case) == [
        event(e.JobReferralOutcomeRecorded, 3, referral_id="referral-2", hired=False)
    ]
    cmd = c.RecordReferralOutcome(referral_id="referral-2", hired=True)
    error = refused(case, cmd, STAFF, IllegalStep)
    assert str(error) == "job referral referral-2 already has its outcome"


def test_one_subsidy_application_of_a_kind_waits_at_a_time() -> None:
    case = open_case(c.ApplyForSubsidy(kind="pay_subsidy"))
    error = refused(case, c.ApplyForSubsidy(kind="pay_subsidy"), STAFF, IllegalStep)
    assert str(error) == "a pay subsidy application is already waiting for its decision"
    case.execute(c.ApplyForSubsidy(kind="work_arrangement_subsidy"), STAFF)
    case.execute(c.DecideSubsidy(subsidy_id="subsidy-2", granted=False), STAFF)
    error = refused(case, c.DecideSubsidy(subsidy_id="subsidy-2", granted=True), STAFF, IllegalStep)
    assert str(error) == "subsidy application subsidy-2 is already denied"


def test_pay_subsidy_must_be_granted_before_employment_starts() -> None:
    case = open_case(c.ApplyForSubsidy(kind="pay_subsidy", employer_id=EMPLOYER_ID))
    start = c.StartEmployment(
        starts_on=date(2026, 4, 1), employer_id=EMPLOYER_ID, subsidy_id="subsidy-2"
    )

    error = refused(case, start, STAFF, IllegalStep)
    assert str(error) == "a pay subsidy must be granted before the job starts"

    case.execute(c.DecideSubsidy(subsidy_id="subsidy-2", granted=True), STAFF)
    case.execute(start, STAFF)
    assert recorded(case) == [
        event(e.SubsidyDecided, 3, subsidy_id="subsidy-2", granted=True),
        event(
            e.EmploymentStarted, 4, starts_on=date(2026, 4, 1), employer_id=str(EMPLOYER_ID),
            subsidy_id="subsidy-2",
        ),
    ]  # fmt: skip
    assert case.state.employment == Employment(date(2026, 4, 1), str(EMPLOYER_ID), True)
    assert case.state.subsidies == [Subsidy("subsidy-2", "pay_subsidy", "granted", RECORDED_AT)]
    assert case.state.stage == "employed"


def test_employment_cannot_rest_on_a_work_arrangement_subsidy() -> None:
    case = open_case(
        c.ApplyForSubsidy(kind="work_arrangement_subsidy"),
        c.DecideSubsidy(subsidy_id="subsidy-2", granted=True),
    )
    start = c.StartEmployment(starts_on=date(2026, 4, 1), subsidy_id="subsidy-2")
    error = refused(case, start, STAFF, IllegalStep)
    assert str(error) == "the case has no pay-subsidy application subsidy-2"


def test_employment_starts_once_and_each_follow_up_is_recorded_once() -> None:
    case = open_case()
    error = refused(case, c.RecordFollowUp(month=3, employed=True), STAFF, IllegalStep)
    assert str(error) == "a follow-up needs a started employment"
    case.execute(c.StartEmployment(starts_on=date(2026, 4, 1)), STAFF)
    refused(case, c.StartEmployment(starts_on=date(2026, 5, 1)), STAFF, IllegalStep)
    case.execute(c.RecordFollowUp(month=3, employed=True), STAFF)
    error = refused(case, c.RecordFollowUp(month=3, employed=False), STAFF, IllegalStep)
    assert str(error) == "the 3-month follow-up is already recorded"
    assert case.state.employment == Employment(date(2026, 4, 1), None, False, {"3": True})


def test_sickness_allowance_days_cannot_go_down() -> None:
    case = open_case(c.RecordSicknessAllowance(days_used=120))
    error = refused(case, c.RecordSicknessAllowance(days_used=119), STAFF, ValidationFailed)
    assert error.errors == [
        FieldError(
            "days_used", "sickness-allowance days cannot go down from what is already recorded"
        )
    ]
    case.execute(c.RecordSicknessAllowance(days_used=120), STAFF)
    case.execute(c.RecordSicknessAllowance(days_used=300), STAFF)
    assert recorded(case) == [
        event(e.SicknessAllowanceRecorded, 3, days_used=120),
        event(e.SicknessAllowanceRecorded, 4, days_used=300),
    ]


def test_f05_is_an_employed_client_with_300_sickness_allowance_days() -> None:
    case = open_case(c.RecordSicknessAllowance(days_used=300))
    assert case.state.f05 is False
    case.execute(c.StartEmployment(starts_on=date(2026, 4, 1)), STAFF)
    assert case.state.f05 is True


# --- partner handoffs ----------------------------------------------------------------------------


def test_handoff_without_consent_is_refused_with_consent_missing() -> None:
    case = open_case()
    error = refused(case, c.RequestHandoff(partner="kela"), STAFF, ConsentMissing)
    assert str(error) == "the Kela handoff needs the client's recorded consent"
    assert error.code == "consent_missing"


def test_handoff_to_a_partner_the_client_did_not_consent_to_is_refused() -> None:
    case = open_case()
    cmd = c.RequestHandoff(partner="keva", consent=consent("kela"))
    error = refused(case, cmd, STAFF, ConsentMissing)
    assert str(error) == "the client has not consented to sharing with Keva"


def test_handoff_shares_only_what_the_client_consented_to() -> None:
    case = open_case()
    cmd = c.RequestHandoff(
        partner="kela",
        consent=consent("kela", shares=("work_history",)),
        shares=["work_history", "icd_chapter", "b_statement"],
    )
    error = refused(case, cmd, STAFF, ConsentMissing)
    assert str(error) == "the client has not consented to sharing b_statement, icd_chapter"


def test_unknown_partner_is_refused_naming_the_field() -> None:
    case = open_case()
    cmd = c.RequestHandoff(partner="pohjola", consent=consent("pohjola"))
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("partner", "unknown partner 'pohjola'")]

    cmd = c.RequestHandoff(partner="kela", consent=consent("kela", "pohjola"))
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("consent.partners", "unknown partner 'pohjola'")]


def test_one_open_handoff_per_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    again = c.RequestHandoff(partner="kela", consent=consent("kela"))
    error = refused(case, again, STAFF, IllegalStep)
    assert str(error) == "a Kela handoff is already open"

    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    case.execute(c.RejectHandoff(handoff_id="handoff-2", reason="ei kuulu Kelalle"), KELA)
    case.execute(again, STAFF)
    assert [(h.id, h.status) for h in case.state.handoffs] == [
        ("handoff-2", "rejected"),
        ("handoff-5", "requested"),
    ]


def test_keva_handoff_cannot_be_accepted_before_keva_acknowledges() -> None:
    case = open_case(c.RequestHandoff(partner="keva", consent=consent("keva")))
    error = refused(case, c.AcceptHandoff(handoff_id="handoff-2"), KEVA, IllegalStep)
    assert str(error) == "the Keva handoff cannot be accepted: Keva has not acknowledged it"
    assert error.code == "illegal_step"
    assert recorded(case) == []
    assert case.state.handoff("handoff-2") == Handoff(
        "handoff-2", "keva", "requested", RECORDED_AT, ["keva"]
    )


def test_handoff_goes_from_request_to_completion_through_an_info_request() -> None:
    case = open_case()
    request = c.RequestHandoff(
        partner="keva",
        consent=consent("keva", shares=("work_history",)),
        summary="julkisen sektorin työhistoria 12 v",
        shares=["work_history"],
    )
    case.execute(request, STAFF)
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KEVA)
    case.execute(
        c.RequestHandoffInfo(handoff_id="handoff-2", question="B-lausunnon päiväys?"), KEVA
    )
    case.execute(c.SupplyHandoffInfo(handoff_id="handoff-2", answer="20.2.2026"), STAFF)
    case.execute(c.AcceptHandoff(handoff_id="handoff-2"), KEVA)
    case.execute(c.CompleteHandoff(handoff_id="handoff-2", outcome="rehabilitation_granted"), KEVA)

    h = "handoff-2"
    assert recorded(case) == [
        event(
            e.HandoffRequested, 2, handoff_id=h, partner="keva",
            consent={"given_on": "2026-03-01", "partners": ["keva"], "shares": ["work_history"]},
            summary="julkisen sektorin työhistoria 12 v", shares=["work_history"],
        ),
        event(e.HandoffAcknowledged, 3, KEVA, handoff_id=h),
        event(e.HandoffInfoRequested, 4, KEVA, handoff_id=h, question="B-lausunnon päiväys?"),
        event(e.HandoffInfoSupplied, 5, handoff_id=h, answer="20.2.2026"),
        event(e.HandoffAccepted, 6, KEVA, handoff_id=h),
        event(e.HandoffCompleted, 7, KEVA, handoff_id=h, outcome="rehabilitation_granted"),
    ]  # fmt: skip
    assert case.state.handoffs == [
        Handoff(h, "keva", "completed", RECORDED_AT, ["keva"], outcome="rehabilitation_granted")
    ]


def test_handoff_info_is_supplied_only_when_the_partner_asked() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    cmd = c.SupplyHandoffInfo(handoff_id="handoff-2", answer="liitteenä")
    error = refused(case, cmd, STAFF, IllegalStep)
    assert str(error) == "the Kela handoff cannot be given information: Kela has asked for none"


def test_partner_cannot_act_on_another_partners_handoff() -> None:
    both = consent("keva", "kela")
    case = open_case(
        c.RequestHandoff(partner="keva", consent=both),
        c.RequestHandoff(partner="kela", consent=both),
    )
    error = refused(case, c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA, IllegalStep)
    assert str(error) == "the case has no handoff handoff-2 for you"


def test_a_partner_without_a_handoff_on_the_case_does_not_learn_that_it_exists() -> None:
    case = open_case(c.RequestHandoff(partner="keva", consent=consent("keva")))
    error = refused(case, c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA, UnknownCase)
    assert str(error) == f"no case {case.id}"
    no_partner_claim = context("partner", area="*", actor_id="p-1")
    refused(case, c.AcknowledgeHandoff(handoff_id="handoff-2"), no_partner_claim, UnknownCase)
    assert rules.next_steps(case.state, KELA) == []


def test_staff_cannot_answer_for_a_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    error = refused(case, c.AcknowledgeHandoff(handoff_id="handoff-2"), STAFF, NotPermitted)
    assert str(error) == "a staff may not acknowledge handoff"


def test_redirect_needs_consent_for_the_new_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    recorded(case)

    cmd = c.RedirectHandoff(handoff_id="handoff-2", to_partner="ilmarinen", reason="yksityinen")
    error = refused(case, cmd, KELA, ConsentMissing)
    assert str(error) == "the client has not consented to sharing with Ilmarinen"


def test_redirect_opens_a_handoff_with_the_new_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela", "ilmarinen")))
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    redirect = c.RedirectHandoff(handoff_id="handoff-2", to_partner="ilmarinen", reason="työeläke")
    case.execute(redirect, KELA)

    assert recorded(case) == [
        event(e.HandoffAcknowledged, 3, KELA, handoff_id="handoff-2"),
        event(
            e.HandoffRedirected, 4, KELA, reason="työeläke", handoff_id="handoff-2",
            to_partner="ilmarinen", new_handoff_id="handoff-4",
        ),
    ]  # fmt: skip
    consented = ["kela", "ilmarinen"]
    assert case.state.handoffs == [
        Handoff("handoff-2", "kela", "redirected", RECORDED_AT, consented),
        Handoff("handoff-4", "ilmarinen", "requested", RECORDED_AT, consented,
                consent_of="handoff-2"),
    ]  # fmt: skip
    # The new partner acknowledges its own handoff; the old one is done with.
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-4"), ILMARINEN)
    refused(case, c.AcceptHandoff(handoff_id="handoff-2"), KELA, IllegalStep)


def test_redirect_goes_to_another_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    recorded(case)
    cmd = c.RedirectHandoff(handoff_id="handoff-2", to_partner="kela", reason="-")
    error = refused(case, cmd, KELA, ValidationFailed)
    assert error.errors == [FieldError("to_partner", "redirect to another partner")]
    cmd = c.RedirectHandoff(handoff_id="handoff-2", to_partner="varma", reason="-")
    error = refused(case, cmd, KELA, ValidationFailed)
    assert error.errors == [FieldError("to_partner", "unknown partner 'varma'")]


def test_redirect_to_a_partner_with_an_open_handoff_is_refused() -> None:
    both = consent("kela", "keva")
    case = open_case(
        c.RequestHandoff(partner="kela", consent=both),
        c.RequestHandoff(partner="keva", consent=both),
    )
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    recorded(case)

    cmd = c.RedirectHandoff(handoff_id="handoff-2", to_partner="keva", reason="julkinen sektori")
    error = refused(case, cmd, KELA, IllegalStep)
    assert str(error) == "a Keva handoff is already open"


# --- effective time ------------------------------------------------------------------------------


def test_effective_time_in_future_is_refused() -> None:
    case = open_case()
    cmd = c.AddNote(text="soitettu", effective_at=RECORDED_AT + timedelta(seconds=1))
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("effective_at", "a fact cannot take effect in the future")]


def test_effective_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationFailed) as raised:
        c.AddNote(text="soitettu", effective_at=datetime(2026, 3, 1, 12, 0))
    assert raised.value.errors == [FieldError("effective_at", "give the time with its UTC offset")]


def test_a_back_dated_fact_takes_effect_when_it_happened_and_is_recorded_now() -> None:
    opened = c.OpenCase(
        identity_code="131052-308T", area="helsinki", team="helsinki-sote",
        effective_at=RECORDED_AT - timedelta(days=10),
    )  # fmt: skip
    case = ClientCase.open(CASE_ID, CLIENT_ID, opened, STAFF)
    case.collect_events()
    happened = RECORDED_AT - timedelta(days=3)
    case.execute(
        c.RecordScreening(answers={"q1": "kyllä"}, concern=True, effective_at=happened), STAFF
    )

    [screened] = recorded(case)
    assert screened == event(
        e.ScreeningRecorded, 2, effective_at=happened, answers={"q1": "kyllä"}, concern=True
    )
    assert (screened.timestamp, screened.effective_at) == (RECORDED_AT, happened)
    assert (case.state.screened_at, case.state.last_event_at) == (happened, happened)


def test_a_fact_cannot_precede_the_opening_of_its_case() -> None:
    case = open_case()
    early = c.AddNote(text="x", effective_at=RECORDED_AT - timedelta(seconds=1))
    error = refused(case, early, STAFF, ValidationFailed)
    assert [e.field for e in error.errors] == ["effective_at"]


def test_a_back_dated_fact_does_not_turn_the_inactivity_clock_back() -> None:
    case = open_case(c.AddNote(text="today"))
    opened = case.state.opened_at
    case.execute(c.AddNote(text="earlier", effective_at=opened), STAFF)
    assert case.state.last_event_at == RECORDED_AT


def test_opening_in_the_future_is_refused() -> None:
    cmd = c.OpenCase(
        identity_code="131052-308T", area="helsinki", team="helsinki-it",
        effective_at=RECORDED_AT + timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as raised:
        ClientCase.open(CASE_ID, CLIENT_ID, cmd, STAFF)
    assert raised.value.errors == [
        FieldError("effective_at", "a fact cannot take effect in the future")
    ]


# --- stalls --------------------------------------------------------------------------------------


def flag(case: ClientCase, step: str, item: str | None = None) -> c.FlagStall:
    """The FlagStall the journey workflow would send for a step the case waits on."""
    [wait] = [w for w in rules.waiting_steps(case.state) if (w.step, w.item) == (step, item)]
    return c.FlagStall(
        step=step, item=item, since=wait.since, due=wait.since + timedelta(days=14),
        policy_version="2026-01",
    )  # fmt: skip


def test_event_that_moves_a_stalled_step_on_clears_the_stall() -> None:
    case = open_case()
    stalled = flag(case, "screening")
    case.execute(stalled, SYSTEM)
    later = context(at=RECORDED_AT + timedelta(days=20))
    case.execute(SCREENED_WITH_CONCERN, later)

    assert recorded(case) == [
        event(
            e.StepStalled, 2, SYSTEM, step="screening", item=None, waiting_on="staff",
            since=RECORDED_AT, due=RECORDED_AT + timedelta(days=14), policy_version="2026-01",
        ),
        event(e.ScreeningRecorded, 3, later, answers={"q1": "kyllä"}, concern=True),
        event(e.StallCleared, 4, later, step="screening", item=None),
    ]  # fmt: skip
    assert case.state.stalls == []


def test_stall_of_a_partners_step_names_the_partner_it_waits_on() -> None:
    case = open_case(c.RequestHandoff(partner="keva", consent=consent("keva")))
    case.execute(flag(case, "handoff_ack", "handoff-2"), SYSTEM)
    assert case.state.stalls == [
        Stall("handoff_ack", "handoff-2", "partner", RECORDED_AT,
              RECORDED_AT + timedelta(days=14), "2026-01"),
    ]  # fmt: skip
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KEVA)
    assert [type(ev) for ev in recorded(case)] == [
        e.StepStalled,
        e.HandoffAcknowledged,
        e.StallCleared,
    ]
    assert case.state.stalls == []


def test_flagging_a_stall_is_not_activity_on_the_case() -> None:
    case = open_case()
    case.execute(
        flag(case, "inactivity"), context("system", area="*", at=RECORDED_AT + timedelta(days=31))
    )
    assert case.state.last_event_at == RECORDED_AT
    assert [(s.step, s.escalated) for s in case.state.stalls] == [("inactivity", False)]

    case.execute(c.EscalateStall(step="inactivity"), SYSTEM)
    assert recorded(case)[-1] == event(e.StallEscalated, 3, SYSTEM, step="inactivity", item=None)
    assert [(s.step, s.escalated) for s in case.state.stalls] == [("inactivity", True)]
    error = refused(case, c.EscalateStall(step="inactivity"), SYSTEM, IllegalStep)
    assert str(error) == "the stall of inactivity is already escalated"


def test_stall_is_flagged_only_for_a_step_the_case_waits_on_since_then() -> None:
    case = open_case()
    wrong_since = c.FlagStall(
        step="screening", since=RECORDED_AT - timedelta(days=1), due=RECORDED_AT,
        policy_version="2026-01",
    )  # fmt: skip
    error = refused(case, wrong_since, SYSTEM, IllegalStep)
    assert str(error) == "the case is not waiting on screening since 2026-03-01T09:00:00+00:00"
    no_such_item = c.FlagStall(
        step="coaching_start", item="coaching-2", since=RECORDED_AT, due=RECORDED_AT,
        policy_version="2026-01",
    )  # fmt: skip
    refused(case, no_such_item, SYSTEM, IllegalStep)

    case.execute(flag(case, "screening"), SYSTEM)
    error = refused(case, flag(case, "screening"), SYSTEM, IllegalStep)
    assert str(error) == "screening is already flagged as stalled"


def test_unknown_stall_step_is_refused_naming_step() -> None:
    case = open_case()
    cmd = c.FlagStall(step="lunch", since=RECORDED_AT, due=RECORDED_AT, policy_version="2026-01")
    error = refused(case, cmd, SYSTEM, ValidationFailed)
    assert error.errors == [FieldError("step", "unknown step 'lunch'")]


def test_only_the_system_flags_stalls_and_only_it_or_a_coordinator_escalates_them() -> None:
    case = open_case()
    error = refused(case, flag(case, "screening"), STAFF, NotPermitted)
    assert str(error) == "a staff may not flag stall"
    refused(case, c.EscalateStall(step="screening"), STAFF, NotPermitted)
    case.execute(flag(case, "screening"), SYSTEM)
    case.execute(c.EscalateStall(step="screening"), context("coordinator"))
    assert case.state.stall("screening", None).escalated


def test_a_coordinator_acknowledges_a_stall_with_a_note_and_it_stays_in_the_queue() -> None:
    case = open_case()
    note = c.AcknowledgeStall(step="screening", note="asiakas sairaalassa, palataan 1.12.")
    error = refused(case, note, context("coordinator"), IllegalStep)
    assert str(error) == "screening is not stalled"
    case.execute(flag(case, "screening"), SYSTEM)
    refused(case, note, STAFF, NotPermitted)
    case.execute(note, context("coordinator", actor_id="kaisa"))
    stall = case.state.stall("screening", None)
    assert (stall.acknowledged_by, stall.escalated) == ("kaisa", False)
    assert "screening" in {w.step for w in rules.waiting_steps(case.state)}


def test_an_unflagged_step_cannot_be_escalated() -> None:
    case = open_case()
    error = refused(case, c.EscalateStall(step="screening"), SYSTEM, IllegalStep)
    assert str(error) == "screening is not stalled"


def test_partner_is_reminded_once_per_wait() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    workflow = context("system", area="*", at=RECORDED_AT + timedelta(days=7))
    remind = c.SendHandoffReminder(handoff_id="handoff-2", step="handoff_ack")
    case.execute(remind, workflow)

    assert recorded(case) == [
        event(
            e.HandoffReminderSent, 3, workflow, handoff_id="handoff-2", step="handoff_ack",
            since=RECORDED_AT,
        ),
    ]  # fmt: skip
    assert case.state.last_event_at == RECORDED_AT  # a reminder is not activity on the case
    error = refused(case, remind, workflow, IllegalStep)
    assert str(error) == "Kela has already been reminded"
    wrong_step = c.SendHandoffReminder(handoff_id="handoff-2", step="handoff_decision")
    error = refused(case, wrong_step, workflow, IllegalStep)
    assert str(error) == "handoff handoff-2 is not waiting on handoff_decision"

    # Once the step moves on, the new wait may be reminded of again.
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    case.execute(c.SendHandoffReminder(handoff_id="handoff-2", step="handoff_decision"), workflow)


def test_reminder_about_another_tracks_item_is_refused() -> None:
    case = open_case(c.ApplyForSubsidy(kind="pay_subsidy"))
    cmd = c.SendHandoffReminder(handoff_id="subsidy-2", step="subsidy_decision")
    error = refused(case, cmd, SYSTEM, IllegalStep)
    assert str(error) == "the case has no handoff subsidy-2"


def test_partner_is_reminded_only_of_a_step_that_waits_on_the_partner() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    case.execute(c.RequestHandoffInfo(handoff_id="handoff-2", question="?"), KELA)
    recorded(case)
    remind = c.SendHandoffReminder(handoff_id="handoff-2", step="handoff_info")
    refused(case, remind, SYSTEM, IllegalStep)


# --- closing -------------------------------------------------------------------------------------


def test_closed_case_accepts_nothing_and_waits_on_nothing() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    case.execute(flag(case, "handoff_ack", "handoff-2"), SYSTEM)
    case.execute(c.CloseCase(outcome="municipal_pilot", reason="siirtyi kuntakokeiluun"), STAFF)

    assert [type(ev) for ev in recorded(case)] == [e.StepStalled, e.CaseClosed, e.StallCleared]
    assert (case.state.closed, case.state.close_outcome) == (True, "municipal_pilot")
    assert (case.state.stalls, rules.waiting_steps(case.state)) == ([], [])
    error = refused(case, c.AddNote(text="vielä"), STAFF, IllegalStep)
    assert str(error) == "the case is closed"
    refused(case, c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA, IllegalStep)
    for ctx in (STAFF, KELA, SYSTEM):
        assert rules.next_steps(case.state, ctx) == []


def test_case_closes_as_employed_only_after_employment_started() -> None:
    case = open_case()
    error = refused(case, c.CloseCase(outcome="employed", reason="työllistyi"), STAFF, IllegalStep)
    assert str(error) == "the case cannot close as employed: no employment has started"


def test_reassign_to_a_team_of_the_cases_area() -> None:
    case = open_case()
    cmd = c.Reassign(assignee="ben", team="lantinen-it")
    error = refused(case, cmd, STAFF, ValidationFailed)
    assert error.errors == [FieldError("team", "'lantinen-it' is not a team of area 'helsinki'")]
    case.execute(c.Reassign(assignee="ben", team="helsinki-it"), STAFF)
    case.execute(c.Reassign(assignee="cecilia"), STAFF)
    assert recorded(case) == [
        event(e.CaseReassigned, 2, assignee="ben", team="helsinki-it"),
        event(e.CaseReassigned, 3, assignee="cecilia", team="helsinki-it"),
    ]


# --- partner suggestion and next steps ------------------------------------------------------------


@pytest.mark.parametrize(
    ("years", "last_insured", "partner"),
    [
        (None, None, None),
        (0, "none", "kela"),
        (4, "public", "kela"),
        (4, "private", "kela"),
        (12, "none", "kela"),
        (5, "public", "keva"),
        (30, "public", "keva"),
        (5, "private", "ilmarinen"),
    ],
)
def test_suggested_partner_follows_work_history(
    years: int | None, last_insured: str | None, partner: str | None
) -> None:
    case = open_case()
    if years is not None:
        case.execute(c.RecordWorkHistory(years=years, last_insured=last_insured), STAFF)  # type: ignore[arg-type]
    suggestion = rules.suggest_partner(case.state)
    assert (suggestion.partner if suggestion else None) == partner


def test_the_suggested_partner_comes_with_its_reason_in_a_sentence() -> None:
    case = open_case()
    case.execute(c.RecordWorkHistory(years=12, last_insured="public"), STAFF)
    assert rules.suggest_partner(case.state) == rules.PartnerSuggestion(
        "keva", "12 years of work history, last insured in the public sector: Keva"
    )
    case.execute(c.RecordWorkHistory(years=1, last_insured="private"), STAFF)
    assert rules.suggest_partner(case.state) == rules.PartnerSuggestion(
        "kela", "1 year of work history, under the 5 a pension provider needs: Kela covers it"
    )


def test_next_steps_for_staff_on_a_new_case() -> None:
    assert rules.next_steps(open_case().state, STAFF) == [
        "record_screening", "record_self_assessment", "record_diagnosis", "record_work_history",
        "make_job_referral", "apply_for_subsidy", "record_sickness_allowance", "request_handoff",
        "start_employment", "reassign", "add_note", "close_case",
    ]  # fmt: skip


def test_partner_sees_only_acknowledge_handoff_on_a_requested_handoff() -> None:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela")))
    assert rules.next_steps(case.state, KELA) == ["acknowledge_handoff"]
    assert rules.next_steps(case.state, KEVA) == []
    assert rules.next_steps(case.state, context("auditor", area="*")) == []
    assert rules.next_steps(case.state, SYSTEM) == ["record_self_assessment"]


def test_staff_of_another_area_are_offered_nothing() -> None:
    assert rules.next_steps(open_case().state, context(area="keskinen")) == []


def _examples(state: CaseState) -> dict[str, list[c.Command]]:
    """Commands of each kind worth trying on a state, written independently of rules.py."""
    handoffs = [h.id for h in state.handoffs]
    return {
        "record_screening": [SCREENED_WITH_CONCERN],
        "record_self_assessment": [
            c.RecordSelfAssessment(
                overall=5,
                mental_wellbeing=5,
                social_participation=5,
                physical_functioning=5,
                skills=5,
                everyday_coping=5,
            )
        ],
        "add_tasmatyo_tag": [
            c.AddTasmatyoTag(basis=b) for b in ("screening", "b_statement", "self_report")
        ],
        "remove_tasmatyo_tag": [c.RemoveTasmatyoTag(reason="-")],
        "decline_tasmatyo_tag": [c.DeclineTasmatyoTag(reason="-")],
        "record_diagnosis": [DIAGNOSED],
        "record_work_history": [c.RecordWorkHistory(years=3, last_insured="none")],
        "refer_to_coaching": [c.ReferToCoaching()],
        "start_coaching": [c.StartCoaching(coaching_id=i.id) for i in state.coaching],
        "complete_coaching": [c.CompleteCoaching(coaching_id=i.id) for i in state.coaching],
        "interrupt_coaching": [
            c.InterruptCoaching(coaching_id=i.id, reason="-") for i in state.coaching
        ],
        "propose_match": [c.ProposeMatch(employer_id=EMPLOYER_ID, sector="sote")],
        "make_job_referral": [c.MakeJobReferral(employer_id=EMPLOYER_ID, vacancy_id="v")],
        "record_referral_outcome": [
            c.RecordReferralOutcome(referral_id=r.id, hired=True) for r in state.referrals
        ],
        "apply_for_subsidy": [
            c.ApplyForSubsidy(kind="pay_subsidy"),
            c.ApplyForSubsidy(kind="work_arrangement_subsidy"),
        ],
        "decide_subsidy": [c.DecideSubsidy(subsidy_id=s.id, granted=True) for s in state.subsidies],
        "record_sickness_allowance": [c.RecordSicknessAllowance(days_used=300)],
        "request_handoff": [c.RequestHandoff(partner=p, consent=consent(p)) for p in PARTNERS],
        "acknowledge_handoff": [c.AcknowledgeHandoff(handoff_id=h) for h in handoffs],
        "request_handoff_info": [
            c.RequestHandoffInfo(handoff_id=h, question="?") for h in handoffs
        ],
        "supply_handoff_info": [c.SupplyHandoffInfo(handoff_id=h, answer="!") for h in handoffs],
        "accept_handoff": [c.AcceptHandoff(handoff_id=h) for h in handoffs],
        "reject_handoff": [c.RejectHandoff(handoff_id=h, reason="-") for h in handoffs],
        "redirect_handoff": [
            c.RedirectHandoff(handoff_id=h.id, to_partner=p, reason="-")
            for h in state.handoffs
            for p in h.consent_partners
        ],
        "complete_handoff": [c.CompleteHandoff(handoff_id=h, outcome="other") for h in handoffs],
        "withdraw_consent": [c.WithdrawConsent(handoff_id=h, reason="-") for h in handoffs],
        "start_employment": [c.StartEmployment(starts_on=date(2026, 4, 1))],
        "record_follow_up": [c.RecordFollowUp(month=m, employed=True) for m in (3, 6)],  # type: ignore[arg-type]
        "escalate_stall": [c.EscalateStall(step=s.step, item=s.item) for s in state.stalls],
        "acknowledge_stall": [
            c.AcknowledgeStall(step=s.step, item=s.item, note="-") for s in state.stalls
        ],
        "reassign": [c.Reassign(assignee="ben")],
        "add_note": [c.AddNote(text="-")],
        "close_case": [c.CloseCase(outcome="other", reason="-")],
    }


def _accepts_one(case: ClientCase, cmds: list[c.Command], ctx: c.Context) -> bool:
    for cmd in cmds:
        trial = copy.deepcopy(case)
        try:
            trial.execute(cmd, ctx)
        except (IllegalStep, NotPermitted, UnknownCase, ValidationFailed):
            continue
        return True
    return False


SCENARIOS: dict[str, Callable[[], ClientCase]] = {
    "new": open_case,
    "identified with tracks": lambda: open_case(
        SCREENED_WITH_CONCERN,
        TAGGED,
        c.ReferToCoaching(),
        c.ApplyForSubsidy(kind="pay_subsidy"),
        c.MakeJobReferral(employer_id=EMPLOYER_ID, vacancy_id="v"),
        c.RequestHandoff(partner="keva", consent=consent("keva", "kela")),
        c.RecordSicknessAllowance(days_used=200),
    ),
    "handoff acknowledged": lambda: _acknowledged(),
    "employed": lambda: open_case(DIAGNOSED, c.StartEmployment(starts_on=date(2026, 4, 1))),
}


def _acknowledged() -> ClientCase:
    case = open_case(c.RequestHandoff(partner="kela", consent=consent("kela", "ilmarinen")))
    case.execute(c.AcknowledgeHandoff(handoff_id="handoff-2"), KELA)
    case.execute(flag(case, "handoff_decision", "handoff-2"), SYSTEM)
    return case


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize(
    "ctx",
    [STAFF, context("coordinator", area="*"), KELA, KEVA, SYSTEM],
    ids=["staff", "coordinator", "kela", "keva", "system"],
)
def test_next_steps_offers_only_commands_the_rules_would_accept(
    scenario: str, ctx: c.Context
) -> None:
    case = SCENARIOS[scenario]()
    offered = rules.next_steps(case.state, ctx)
    examples = _examples(case.state)
    for name in offered:
        assert _accepts_one(case, examples[name], ctx), f"{name} is offered but refused"
    # ... and every kind some example shows to be accepted is offered.
    accepted = [name for name, cmds in examples.items() if _accepts_one(case, cmds, ctx)]
    assert sorted(offered) == sorted(accepted)


# --- employers -----------------------------------------------------------------------------------


def register(business_id: str = "0112038-9", **overrides: str) -> RegisterEmployer:
    fields = {"name": "Acme Oy", "sector": "it", "area": "helsinki"} | overrides
    return RegisterEmployer(business_id=business_id, **fields)


@pytest.mark.parametrize("business_id", ["0112038-8", "123", "ABCDEFG-1", "1572860-1"])
def test_invalid_business_id_is_refused_naming_business_id(business_id: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Employer.register(EMPLOYER_ID, register(business_id), STAFF)
    [error] = raised.value.errors
    assert error.field == "business_id"
    assert repr(business_id) in error.message


def test_business_id_is_normalised_to_one_form() -> None:
    forms = {
        Employer.register(EMPLOYER_ID, register(written), STAFF).business_id
        for written in ("0112038-9", "01120389", " 0112038-9 ", "0112038 9")
    }
    assert len(forms) == 1


def test_business_id_is_kept_in_its_standard_form() -> None:
    employer = Employer.register(EMPLOYER_ID, register("01120389"), STAFF)
    assert employer.business_id == "0112038-9"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"sector": "mining"}, "sector"), ({"area": "espoo"}, "area")],
)
def test_employer_in_unknown_sector_or_area_is_refused_naming_the_field(
    overrides: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        Employer.register(EMPLOYER_ID, register(**overrides), STAFF)
    assert [err.field for err in raised.value.errors] == [field]


def test_only_staff_change_employer_records() -> None:
    with pytest.raises(NotPermitted):
        Employer.register(EMPLOYER_ID, register(), KELA)
    employer = Employer.register(EMPLOYER_ID, register(), STAFF)
    with pytest.raises(NotPermitted):
        employer.execute(AddInterestTag(), context("auditor", area="*"))


def test_employer_interest_tag_is_added_once() -> None:
    employer = Employer.register(EMPLOYER_ID, register(), STAFF)
    employer.collect_events()
    employer.execute(AddInterestTag(), STAFF)
    assert employer.collect_events() == [
        InterestTagAdded(  # type: ignore[call-arg]
            originator_id=EMPLOYER_ID, originator_version=2, timestamp=RECORDED_AT, meta=meta(),
            reason=None,
        )
    ]  # fmt: skip
    assert employer.interested is True

    with pytest.raises(IllegalStep, match="Acme Oy already carries the interest tag"):
        employer.execute(AddInterestTag(), STAFF)
    assert employer.collect_events() == []
    assert employer.version == 2


def test_vacancy_is_filled_once() -> None:
    employer = Employer.register(EMPLOYER_ID, register(), STAFF)
    employer.execute(OpenVacancy(title="Tukihenkilö", sector="sote"), STAFF)
    employer.execute(FillVacancy(vacancy_id="vacancy-2"), STAFF)
    assert employer.collect_events()[1:] == [
        VacancyOpened(  # type: ignore[call-arg]
            originator_id=EMPLOYER_ID, originator_version=2, timestamp=RECORDED_AT, meta=meta(),
            reason=None, vacancy_id="vacancy-2", title="Tukihenkilö", sector="sote",
        ),
        VacancyFilled(  # type: ignore[call-arg]
            originator_id=EMPLOYER_ID, originator_version=3, timestamp=RECORDED_AT, meta=meta(),
            reason=None, vacancy_id="vacancy-2",
        ),
    ]  # fmt: skip
    with pytest.raises(IllegalStep, match="vacancy vacancy-2 is already filled"):
        employer.execute(FillVacancy(vacancy_id="vacancy-2"), STAFF)
    with pytest.raises(IllegalStep, match="Acme Oy has no vacancy vacancy-9"):
        employer.execute(FillVacancy(vacancy_id="vacancy-9"), STAFF)


# --- training sessions ---------------------------------------------------------------------------

COORDINATOR = context("coordinator", area="*")


def planned_session() -> TrainingSession:
    cmd = PlanSession(kind="info", title="Työkykyinfo", area="keskinen", on=date(2026, 3, 10))
    session = TrainingSession.plan(SESSION_ID, cmd, COORDINATOR)
    session.collect_events()
    return session


def test_only_coordinators_record_training_sessions() -> None:
    cmd = PlanSession(kind="club", title="Klubi", area="helsinki", on=date(2026, 3, 10))
    with pytest.raises(NotPermitted, match="only coordinators record training sessions"):
        TrainingSession.plan(SESSION_ID, cmd, STAFF)


def test_training_session_in_unknown_area_is_refused_naming_area() -> None:
    cmd = PlanSession(kind="onboarding", title="Perehdytys", area="espoo", on=date(2026, 3, 10))
    with pytest.raises(ValidationFailed) as raised:
        TrainingSession.plan(SESSION_ID, cmd, COORDINATOR)
    assert raised.value.errors == [FieldError("area", "unknown area 'espoo'")]


def test_feedback_before_the_session_is_held_is_refused() -> None:
    session = planned_session()
    with pytest.raises(IllegalStep, match="the session 'Työkykyinfo' has not been held yet"):
        session.execute(RecordFeedback(answer="useful"), COORDINATOR)
    assert session.collect_events() == []


def test_feedback_comes_from_at_most_every_participant() -> None:
    session = planned_session()
    session.execute(HoldSession(participants=2), COORDINATOR)
    session.execute(RecordFeedback(answer="useful"), COORDINATOR)
    session.execute(RecordFeedback(answer="partly_useful"), COORDINATOR)
    with pytest.raises(IllegalStep, match="every participant has already given feedback"):
        session.execute(RecordFeedback(answer="useful"), COORDINATOR)

    common = {"originator_id": SESSION_ID, "timestamp": RECORDED_AT, "meta": meta(COORDINATOR)}
    assert session.collect_events() == [
        SessionHeld(originator_version=2, reason=None, participants=2, **common),  # type: ignore[call-arg]
        FeedbackRecorded(originator_version=3, reason=None, answer="useful", **common),  # type: ignore[call-arg]
        FeedbackRecorded(originator_version=4, reason=None, answer="partly_useful", **common),  # type: ignore[call-arg]
    ]
    assert (session.participants, session.feedback) == (2, {"useful": 1, "partly_useful": 1})


def test_training_session_is_held_once() -> None:
    session = planned_session()
    session.execute(HoldSession(participants=12), COORDINATOR)
    with pytest.raises(IllegalStep, match="the session 'Työkykyinfo' has already been held"):
        session.execute(HoldSession(participants=13), COORDINATOR)
