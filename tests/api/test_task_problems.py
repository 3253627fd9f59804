"""A journey whose workflow task keeps failing on what it was given is reported, not hidden."""

from __future__ import annotations

import uuid

from tests.workflows.helpers import eventually
from workflows.journey import JourneyWorkflow


async def test_a_journey_whose_task_keeps_failing_is_counted_in_metrics(http, client, task_queue):
    # A policy without limits: the journey cannot decide any deadline, so every task fails.
    broken = {"case_id": str(uuid.uuid4()), "policy": {"version": "broken", "limits": {}}}
    handle = await client.start_workflow(
        JourneyWorkflow.run, broken, id=f"journey-broken-{uuid.uuid4()}", task_queue=task_queue
    )

    async def reported() -> bool:
        metrics = (await http.get("/metrics")).text
        return "casework_workflows_failing_tasks 1" in metrics

    try:
        assert await eventually(reported, timeout=60)
    finally:
        await handle.terminate("test over")
