"""A journey whose workflow task keeps failing on what it was given is reported, not hidden:
in /metrics, in /ready, and first in the coordinators' stalled queue."""

from __future__ import annotations

from uuid import UUID

from tests.api.test_cases_api import open_case
from tests.projections.test_case_views import wait_listed
from tests.workflows.helpers import eventually
from workflows.journey import JourneyWorkflow
from workflows.messages import journey_id


async def test_a_journey_whose_task_keeps_failing_is_reported_everywhere_people_look(
    http, token, client, task_queue
):
    case_id = await open_case(http, token)
    await wait_listed(http, token, case_id, 1)
    handle = client.get_workflow_handle(journey_id(UUID(case_id)))
    await handle.terminate("replaced by a broken journey")
    # A policy without limits: the journey cannot decide any deadline, so every task fails.
    broken = {"case_id": case_id, "policy": {"version": "broken", "limits": {}}}
    handle = await client.start_workflow(
        JourneyWorkflow.run, broken, id=journey_id(UUID(case_id)), task_queue=task_queue
    )
    coordinator = token("coordinator")

    async def metrics_count_it() -> bool:
        return "casework_workflows_failing_tasks 1" in (await http.get("/metrics")).text

    try:
        assert await eventually(metrics_count_it, timeout=60)
        ready = await http.get("/ready", headers=coordinator)
        queue = await http.get("/api/queues/stalled", headers=coordinator)
        elsewhere = await http.get(
            "/api/queues/stalled", params={"area": "lantinen"}, headers=coordinator
        )
    finally:
        await handle.terminate("test over")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert journey_id(UUID(case_id)) in ready.json()["checks"]["workflows"]
    first = queue.json()["items"][0]
    assert (first["case_id"], first["step"], first["waiting_on"]) == (
        case_id,
        "journey",
        "casework",
    )
    assert case_id not in {item["case_id"] for item in elsewhere.json()["items"]}
