"""A running journey keeps the stall policy it started with until it is migrated explicitly."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from casework.domain.policy import StallPolicy, shipped_policy
from tests.workflows.helpers import STAFF, eventually, open_case_command
from workflows.client import Journeys
from workflows.journey import JourneyWorkflow
from workflows.messages import journey_id


def quick_policy() -> StallPolicy:
    """The shipped policy with every limit cut to two seconds, as a new version."""
    data = msgspec.to_builtins(shipped_policy())
    for limit in data["limits"].values():
        limit |= {"amount": 2, "unit": "seconds", "per_partner": {}}
    data["version"] = "test-seconds"
    return msgspec.convert(data, StallPolicy)


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


async def test_a_journey_keeps_its_policy_until_migrated(journeys, client, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    await asyncio.sleep(3)  # past the quick policy's limit, well within the shipped one
    assert app.get_case(opened.case_id).state.stalls == []

    handle = client.get_workflow_handle_for(JourneyWorkflow.run, journey_id(opened.case_id))
    await handle.signal(JourneyWorkflow.migrate_policy, quick_policy())

    stall = await eventually(lambda: app.get_case(opened.case_id).state.stall("screening", None))
    assert stall.policy_version == "test-seconds"
