"""Journey workflows on a real Temporal dev server and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from tests.workflows.helpers import STAFF, command, handed_over, open_case_command, partner
from workflows.client import Journeys, Refused, case_id_for
from workflows.journey import JourneyWorkflow
from workflows.messages import journey_id


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


async def test_opening_a_case_starts_its_journey_and_runs_commands(journeys, client, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    outcome = await journeys.run(
        opened.case_id, command("record_screening", {"answers": {"q": "a"}, "concern": True}), STAFF
    )
    assert (outcome.version, outcome.state.stage) == (2, "screened")
    description = await client.get_workflow_handle(journey_id(opened.case_id)).describe()
    assert description.status.name == "RUNNING"
    assert app.get_case(opened.case_id).version == 2


async def test_an_illegal_step_is_refused_by_the_validator_and_writes_nothing(journeys, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    with pytest.raises(Refused) as refused:
        await journeys.run(
            opened.case_id, command("start_coaching", {"coaching_id": "coaching-9"}), STAFF
        )
    assert refused.value.code == "illegal_step"
    assert app.get_case(opened.case_id).version == 1


async def test_a_partner_without_a_handoff_is_told_the_case_does_not_exist(journeys, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    with pytest.raises(Refused) as refused:
        await journeys.run(
            opened.case_id, command("accept_handoff", {"handoff_id": "handoff-9"}), partner("keva")
        )
    assert (refused.value.code, str(refused.value)) == ("not_found", f"no case {opened.case_id}")
    assert app.get_case(opened.case_id).version == 1


async def test_a_command_made_in_code_past_its_limits_is_refused_naming_the_field(journeys, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    beyond = c.RecordSicknessAllowance(days_used=301)  # a constructor checks no `Meta` limit
    with pytest.raises(Refused) as refused:
        await journeys.run(opened.case_id, beyond, STAFF)
    assert refused.value.code == "validation_failed"
    assert [e.field for e in refused.value.problem.errors] == ["days_used"]
    assert app.get_case(opened.case_id).version == 1


async def test_an_invalid_opening_is_refused_and_its_journey_ends(journeys, client):
    with pytest.raises(Refused) as refused:
        await journeys.open_case(open_case_command(identity_code="010101-0000"), STAFF, "bad-open")
    assert refused.value.code == "validation_failed"
    case_id = case_id_for(STAFF, "bad-open")
    handle = client.get_workflow_handle_for(JourneyWorkflow.run, journey_id(case_id))
    result = await handle.result()
    assert result.opened is False


async def test_retrying_a_command_with_the_same_idempotency_key_writes_once(journeys, app):
    opened = await journeys.open_case(open_case_command(), STAFF, idempotency_key="open-1")
    again = await journeys.open_case(open_case_command(), STAFF, idempotency_key="open-1")
    assert again.case_id == opened.case_id
    body = {"text": "called the client"}
    first = await journeys.run(
        opened.case_id, command("add_note", body), STAFF, idempotency_key="n1"
    )
    second = await journeys.run(
        opened.case_id, command("add_note", body), STAFF, idempotency_key="n1"
    )
    assert second.version == first.version
    assert app.get_case(opened.case_id).version == 2


async def test_a_stale_expected_version_is_refused_with_the_current_version(journeys):
    opened = await journeys.open_case(open_case_command(), STAFF)
    await journeys.run(opened.case_id, command("add_note", {"text": "x"}), STAFF)
    with pytest.raises(Refused) as refused:
        await journeys.run(
            opened.case_id, command("add_note", {"text": "y"}), STAFF, expected_version=1
        )
    assert refused.value.code == "stale_version"
    assert refused.value.problem.current_version == 2


async def test_closing_a_case_ends_its_open_handoffs_too(journeys, client):
    case_id, handoff_id, child = await handed_over(journeys, "kela")
    await journeys.run(
        case_id, command("close_case", {"outcome": "other", "reason": "moved"}), STAFF
    )
    result = await asyncio.wait_for(child.result(), timeout=20)
    assert (result.handoff_id, result.status) == (handoff_id, "requested")
