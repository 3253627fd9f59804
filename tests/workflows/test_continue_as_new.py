"""A journey continues as new, as long journeys do, and carries its whole state into the next run.

The module runs its own Temporal dev server that suggests continuing as new after a few dozen
history events (`limit.historyCount.suggestContinueAsNew`): the journey then takes the path it
takes in production after thousands, through `workflow.info().is_continue_as_new_suggested()`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from casework.domain.policy import shipped_policy
from tests.workflows.helpers import STAFF, command, eventually, handed_over, partner
from workflows.client import Journeys
from workflows.converter import data_converter
from workflows.devserver import SEARCH_ATTRIBUTES, temporal_binary
from workflows.journey import JourneyWorkflow
from workflows.messages import journey_id
from workflows.worker import build_worker

SUGGEST_AFTER_EVENTS = 40
SUGGEST = f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}"


@pytest.fixture(scope="module")
async def impatient(master_key) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true",
            "--dynamic-config-value", SUGGEST,
            *SEARCH_ATTRIBUTES,
        ],
        data_converter=data_converter(master_key),
    )  # fmt: skip
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def journeys(impatient, app) -> AsyncIterator[Journeys]:
    queue = f"tq-{uuid.uuid4()}"
    async with build_worker(impatient.client, app, queue):
        yield Journeys(impatient.client, queue, shipped_policy())


async def test_a_handoff_finished_after_continue_as_new_reaches_the_journey(journeys, impatient):
    client, kela = impatient.client, partner("kela")
    case_id, handoff_id, child = await handed_over(journeys, "kela")
    on_handoff = {"handoff_id": handoff_id}
    await journeys.run(case_id, command("acknowledge_handoff", on_handoff), kela)

    journey = client.get_workflow_handle_for(JourneyWorkflow.run, journey_id(case_id))
    first_run = (await journey.describe()).run_id
    for n in range(SUGGEST_AFTER_EVENTS):  # each note adds several events: far more than enough
        await journeys.run(case_id, command("add_note", {"text": f"note {n}"}), STAFF)
        if (await journey.describe()).run_id != first_run:
            break
    else:
        raise AssertionError("the journey never continued as new")
    first = await client.get_workflow_handle(journey.id, run_id=first_run).fetch_history()
    assert first.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    carried = await journey.query(JourneyWorkflow.journey_state)
    assert carried.handoffs == {handoff_id: None}  # the child still runs, and the new run knows
    assert carried.case.handoffs[0].status == "acknowledged"

    # The partner decides in the new run; the child, started by the first, hears of it and
    # tells the journey, whichever run is current.
    await journeys.run(case_id, command("accept_handoff", on_handoff), kela)
    done = on_handoff | {"outcome": "rehabilitation_granted"}
    await journeys.run(case_id, command("complete_handoff", done), kela)
    assert (await child.result()).outcome == "rehabilitation_granted"

    async def outcome_reached_the_journey() -> bool:
        state = await journey.query(JourneyWorkflow.journey_state)
        return state.handoffs == {handoff_id: "rehabilitation_granted"}

    await eventually(outcome_reached_the_journey)
    closing = {"outcome": "rehabilitation", "reason": "Kela granted rehabilitation"}
    await journeys.run(case_id, command("close_case", closing), STAFF)
    result = await journey.result()
    assert result.handoff_outcomes == {handoff_id: "rehabilitation_granted"}
    assert result.close_outcome == "rehabilitation"
