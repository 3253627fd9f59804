"""Journey workflows on a real Temporal dev server and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casework.demo import sample_identity_code
from casework.domain.commands import Actor
from casework.domain.policy import shipped_policy
from workflows.client import Journeys, Refused
from workflows.messages import Caller, journey_id

STAFF = Caller(Actor("anna.staff", "staff", "helsinki"), correlation_id="test")
KEVA = Caller(Actor("keva.user", "partner", partner="keva"), correlation_id="test")
_numbers = iter(range(900, 1000))


def new_code() -> str:
    from datetime import date

    n = next(_numbers)
    return sample_identity_code(date(1965, 3, 1) + timedelta(days=n * 3), n)


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


async def open_case(journeys: Journeys) -> object:
    body = {"identity_code": new_code(), "area": "helsinki", "team": "helsinki-it"}
    return await journeys.open_case(body, STAFF)


async def test_opening_a_case_starts_its_journey_and_runs_commands(journeys, client, app):
    opened = await open_case(journeys)
    outcome = await journeys.run(
        opened.case_id, "record_screening", {"answers": {"q": "a"}, "concern": True}, STAFF
    )
    assert outcome.version == 2
    assert outcome.state.stage == "screened"
    description = await client.get_workflow_handle(journey_id(opened.case_id)).describe()
    assert description.status.name == "RUNNING"
    assert app.get_case(opened.case_id).version == 2


async def test_an_illegal_step_is_refused_by_the_validator_and_writes_nothing(journeys, app):
    opened = await open_case(journeys)
    with pytest.raises(Refused) as refused:
        await journeys.run(opened.case_id, "accept_handoff", {"handoff_id": "handoff-9"}, KEVA)
    assert refused.value.code == "illegal_step"
    assert app.get_case(opened.case_id).version == 1
