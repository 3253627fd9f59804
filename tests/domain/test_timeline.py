"""A case on two time axes: what was recorded by a moment, which facts were in effect at one."""

from __future__ import annotations

from datetime import datetime, timedelta

from casework.domain import commands as c
from casework.domain import timeline
from casework.domain.case import ClientCase
from tests.domain.test_journey_rules import (
    CASE_ID,
    CLIENT_ID,
    KELA,
    RECORDED_AT,
    STAFF,
    context,
)

CONSENT = c.Consent(given_on=RECORDED_AT.date(), partners=["kela"])


def days(n: int) -> timedelta:
    return timedelta(days=n)


def opened_on(moment: datetime) -> ClientCase:
    cmd = c.OpenCase(
        identity_code="131052-308T", area="helsinki", team="helsinki-it", effective_at=moment
    )
    return ClientCase.open(CASE_ID, CLIENT_ID, cmd, STAFF)


def test_a_back_dated_fact_is_in_effect_from_when_it_took_effect_not_when_it_was_recorded():
    # Opened 30 days back, screened 20 days back; a diagnosis 25 days back recorded 3 days later.
    opened = RECORDED_AT - days(30)
    case = opened_on(opened)
    screening = c.RecordScreening(answers={"q": "a"}, concern=True, effective_at=opened + days(10))
    case.execute(screening, STAFF)
    diagnosis = c.RecordDiagnosis(
        icd_chapter="M", b_statement_on=opened.date(), effective_at=opened + days(5)
    )
    case.execute(diagnosis, context(at=RECORDED_AT + days(3)))
    events = list(case.collect_events())

    known_then = timeline.recorded_by(events, RECORDED_AT + days(1))
    assert [type(e).__name__ for e in known_then] == ["CaseOpened", "ScreeningRecorded"]
    in_effect = timeline.fold(events, opened + days(7))
    assert in_effect is not None
    assert (in_effect.diagnosed, in_effect.screened) == (True, False)
    known_then_in_effect = timeline.fold(known_then, opened + days(7))
    assert known_then_in_effect is not None
    assert (known_then_in_effect.diagnosed, known_then_in_effect.screened) == (False, False)
    assert timeline.fold(events, opened - days(1)) is None
    assert timeline.fold(events) == case.state


def test_a_step_back_dated_before_its_item_took_effect_is_not_yet_in_effect_then():
    case = opened_on(RECORDED_AT - days(10))
    request = c.RequestHandoff(partner="kela", consent=CONSENT, effective_at=RECORDED_AT)
    case.execute(request, STAFF)
    ack = c.AcknowledgeHandoff(handoff_id="handoff-2", effective_at=RECORDED_AT - days(2))
    case.execute(ack, KELA)
    events = list(case.collect_events())

    before_the_request = timeline.fold(events, RECORDED_AT - days(1))
    assert before_the_request is not None
    assert before_the_request.handoffs == []
    now = timeline.fold(events)
    assert now is not None
    assert [h.status for h in now.handoffs] == ["acknowledged"]
