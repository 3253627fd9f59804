"""`casework workflows reconcile`: open cases without a running journey get one back."""

from __future__ import annotations

import json

import pytest

from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from casework.importer import import_journeys
from tests.workflows.helpers import STAFF, command, eventually, new_code, open_case_command
from workflows.client import Journeys
from workflows.messages import journey_id
from workflows.reconcile import reconcile


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


async def test_reconcile_restarts_the_journey_of_an_open_case_that_has_none(journeys, client, app):
    # Imported straight into the store (as a migration might), so no journey runs for it.
    cmd = c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it")
    imported = app.open_case(cmd, app.context(STAFF.actor)).case_id
    running = await journeys.open_case(open_case_command(), STAFF)
    await client.get_workflow_handle(journey_id(running.case_id)).terminate("test: lost")

    dry = await reconcile(app, client, journeys, restart=False)
    assert {imported, running.case_id} <= set(dry.missing)

    report = await reconcile(app, client, journeys)
    assert {imported, running.case_id} <= set(report.restarted)
    description = await client.get_workflow_handle(journey_id(imported)).describe()
    assert description.status.name == "RUNNING"

    # The restarted journey works like any other: it takes commands and writes them.
    body = {"answers": {"q": "a"}, "concern": False}
    outcome = await journeys.run(imported, command("record_screening", body), STAFF)
    assert outcome.version == 2
    assert await eventually(lambda: app.get_case(imported).version == 2)
    again = await reconcile(app, client, journeys)
    assert imported not in again.restarted


async def test_imported_open_cases_get_journeys_and_overdue_steps_stall_at_once(
    journeys, client, app
):
    line = json.dumps({
        "identity_code": new_code(), "area": "lantinen", "team": "lantinen-sote",
        "opened_at": "2025-06-02T09:00:00+03:00",
    })  # fmt: skip
    report = import_journeys(app, [line], c.Actor("legacy-import", "staff", "*"))
    (case_id,) = report.open_cases

    restarted = await reconcile(app, client, journeys)

    assert case_id in restarted.restarted
    stall = await eventually(lambda: app.get_case(case_id).state.stall("screening", None))
    assert stall.since.date().isoformat() == "2025-06-02"
    assert stall.escalated or await eventually(
        lambda: app.get_case(case_id).state.stall("screening", None).escalated
    )
