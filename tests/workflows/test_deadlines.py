"""Stall deadlines with per-workflow time skipping: weeks of waiting pass in seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework.domain.calendar import FINNISH_HOLIDAYS, add_working_days, local_date
from casework.domain.policy import shipped_policy
from tests.workflows.helpers import (
    STAFF,
    command,
    eventually,
    handed_over,
    open_case_command,
    partner,
)
from workflows.client import Journeys
from workflows.journey import JourneyWorkflow
from workflows.messages import journey_id

# Ten working days take 14 calendar days, and 20 from 18 December (Christmas, New Year,
# Epiphany); twenty take at least 28. Skipping this far passes the first and not the second.
TEN_WORKING_DAYS_AT_MOST = timedelta(days=22)


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


def stall(app, case_id, step):
    return app.get_case(case_id).state.stall(step, None)


async def journey_knows_stall(handle, step: str) -> bool:
    state = await handle.query(JourneyWorkflow.current_state)
    return state is not None and state.stall(step, None) is not None


def event_types(app, case_id) -> list[str]:
    return [type(e).__name__ for e in app.events.get(case_id)]


async def test_unscreened_case_stalls_after_ten_working_days(journeys, temporal, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    handle = temporal.client.get_workflow_handle(journey_id(opened.case_id))
    await temporal.fast_forward(handle, TEN_WORKING_DAYS_AT_MOST)

    flagged = await eventually(lambda: stall(app, opened.case_id, "screening"))
    since = opened.state.opened_at
    assert (flagged.since, flagged.due) == (since, add_working_days(since, 10))
    assert flagged.waiting_on == "staff"
    assert flagged.policy_version == shipped_policy().version


async def test_a_ten_working_day_limit_skips_finnish_public_holidays(journeys, temporal, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    handle = temporal.client.get_workflow_handle(journey_id(opened.case_id))
    # Screen the client on the next 18 December: Christmas, New Year and Epiphany follow.
    now = datetime.now(UTC)
    year = now.year if local_date(now) < now.date().replace(month=12, day=18) else now.year + 1
    target = datetime(year, 12, 18, 9, tzinfo=UTC)
    await temporal.fast_forward(handle, target - now)
    body = {"answers": {"q": "pain"}, "concern": True}
    screened = await journeys.run(opened.case_id, command("record_screening", body), STAFF)
    await temporal.fast_forward(handle, timedelta(days=25))

    flagged = await eventually(lambda: stall(app, opened.case_id, "identification"))
    assert flagged.since == screened.state.screened_at
    span = [
        local_date(flagged.since) + timedelta(days=d)
        for d in range(1, (local_date(flagged.due) - local_date(flagged.since)).days + 1)
    ]
    weekdays = [d for d in span if d.weekday() < 5]
    holidays_in_span = [d for d in weekdays if d in FINNISH_HOLIDAYS]
    assert holidays_in_span, "the span should cross Christmas"
    assert len(weekdays) - len(holidays_in_span) == 10


async def test_a_back_dated_case_is_stalled_at_once(journeys, app):
    opened_at = datetime.now(UTC) - timedelta(days=40)
    opened = await journeys.open_case(open_case_command(effective_at=opened_at.isoformat()), STAFF)
    flagged = await eventually(lambda: stall(app, opened.case_id, "screening"))
    assert flagged.due == add_working_days(opened_at, 10)
    escalated = await eventually(lambda: stall(app, opened.case_id, "screening").escalated)
    assert escalated


async def test_a_stall_escalates_past_twice_its_limit(journeys, temporal, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    handle = temporal.client.get_workflow_handle(journey_id(opened.case_id))
    await temporal.fast_forward(handle, TEN_WORKING_DAYS_AT_MOST)
    await eventually(lambda: stall(app, opened.case_id, "screening"))
    assert not stall(app, opened.case_id, "screening").escalated
    # Skip on only once the journey has set its escalation timer: skipped before, the timer is
    # set after the skip and lies beyond it.
    await eventually(lambda: journey_knows_stall(handle, "screening"))
    # Twenty working days run to 33 calendar days over Christmas (a test run in December once
    # skipped 32 and failed): skip well past them.
    await temporal.fast_forward(handle, timedelta(days=30))
    assert await eventually(lambda: stall(app, opened.case_id, "screening").escalated)


async def test_the_event_that_moves_a_stalled_step_on_clears_the_stall(journeys, temporal, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    handle = temporal.client.get_workflow_handle(journey_id(opened.case_id))
    await temporal.fast_forward(handle, TEN_WORKING_DAYS_AT_MOST)
    await eventually(lambda: stall(app, opened.case_id, "screening"))
    body = {"answers": {"q": "fine"}, "concern": False}
    outcome = await journeys.run(opened.case_id, command("record_screening", body), STAFF)
    assert outcome.events == ["ScreeningRecorded", "StallCleared"]
    assert outcome.state.stall("screening", None) is None


async def test_handoff_child_reminds_then_stalls_and_its_outcome_returns(journeys, temporal, app):
    case_id, handoff_id, child = await handed_over(journeys, "keva")
    await temporal.fast_forward(child, TEN_WORKING_DAYS_AT_MOST)
    await eventually(lambda: app.get_case(case_id).state.stall("handoff_ack", handoff_id))
    types = event_types(app, case_id)
    assert types.index("HandoffReminderSent") < types.index("StepStalled")

    keva = partner("keva")
    acked = await journeys.run(
        case_id, command("acknowledge_handoff", {"handoff_id": handoff_id}), keva
    )
    assert "StallCleared" in acked.events
    await journeys.run(case_id, command("accept_handoff", {"handoff_id": handoff_id}), keva)
    done = {"handoff_id": handoff_id, "outcome": "rehabilitation_granted"}
    await journeys.run(case_id, command("complete_handoff", done), keva)
    result = await child.result()
    assert (result.status, result.outcome) == ("completed", "rehabilitation_granted")

    await journeys.run(
        case_id, command("close_case", {"outcome": "rehabilitation", "reason": "x"}), STAFF
    )
    journey = await temporal.client.get_workflow_handle_for(
        JourneyWorkflow.run, journey_id(case_id)
    ).result()
    assert journey.handoff_outcomes == {handoff_id: "rehabilitation_granted"}
