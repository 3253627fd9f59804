"""The bare floor for P1/P2: a Temporal update whose handler runs one local activity that
appends one event, through the same event store, data converter and sandbox set-up as the
journey worker.

Nothing else: no validator, no idempotency record, no case state in the result, no timers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

with workflow.unsafe.imports_passed_through():
    from casework.application import CaseworkApp
    from casework.domain import commands as c
    from workflows.worker import PASSED_THROUGH

STAFF = c.Actor("bench", "staff", "helsinki")
NOTE = "Phoned the client about the coaching plan; next meeting agreed for Tuesday at the office."
WRITE_TIMEOUT = timedelta(seconds=30)


def floor_id(case_id: UUID) -> str:
    return f"floor-{case_id}"


class FloorActivities:
    def __init__(self, app: CaseworkApp) -> None:
        self.app = app

    @activity.defn
    def append(self, case_id: UUID) -> int:
        """One AddNote on a case opened directly on the app: one event, one transaction."""
        return self.app.execute(case_id, c.AddNote(text=NOTE), self.app.context(STAFF)).version


@workflow.defn
class FloorWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def append(self, case_id: UUID) -> int:
        return await workflow.execute_local_activity_method(
            FloorActivities.append, case_id, start_to_close_timeout=WRITE_TIMEOUT
        )


def build_floor_worker(client: Client, app: CaseworkApp, task_queue: str) -> Worker:
    """As workflows.worker.build_worker: same executor, same sandbox pass-through."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[FloorWorkflow],
        activities=[FloorActivities(app).append],
        activity_executor=ThreadPoolExecutor(max_workers=16),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
        ),
    )
