"""The worker: runs journey and handoff workflows and the write activities against one app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from casework.application import CaseworkApp
from workflows.activities import CaseActivities
from workflows.converter import data_converter
from workflows.delivery import WebhookActivities
from workflows.handoff import HandoffWorkflow
from workflows.journey import JourneyWorkflow

# Our domain and message modules are deterministic and import-safe: sharing them with the sandbox
# saves re-importing them for every workflow task and keeps one class per message type.
PASSED_THROUGH = (
    "casework", "msgspec", "holidays", "workflows.messages", "workflows.activities",
    "workflows.delivery",
)  # fmt: skip


async def connect(address: str, namespace: str, master_key: bytes) -> Client:
    return await Client.connect(
        address, namespace=namespace, data_converter=data_converter(master_key)
    )


def build_worker(client: Client, app: CaseworkApp, task_queue: str) -> Worker:
    activities = CaseActivities(app)
    webhooks = WebhookActivities(app)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[JourneyWorkflow, HandoffWorkflow],
        activities=[
            activities.open_case,
            activities.execute_command,
            activities.case_state,
            webhooks.deliver_webhook,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=16),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
        ),
    )
