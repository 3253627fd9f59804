"""The worker: runs journey and handoff workflows and the write activities against one app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from casework.application import CaseworkApp
from workflows.activities import CaseActivities
from workflows.converter import data_converter
from workflows.delivery import WebhookActivities
from workflows.handoff import HandoffWorkflow
from workflows.journey import JourneyWorkflow
from workflows.messages import POLICY_VERSION

log = structlog.get_logger("casework.workflows")

# Our domain and message modules are deterministic and import-safe: sharing them with the sandbox
# saves re-importing them for every workflow task and keeps one class per message type.
PASSED_THROUGH = (
    "casework", "msgspec", "holidays", "workflows.messages", "workflows.activities",
    "workflows.delivery",
)  # fmt: skip


async def connect(address: str, namespace: str, master_key: bytes) -> Client:
    client = await Client.connect(
        address, namespace=namespace, data_converter=data_converter(master_key)
    )
    await register_search_attributes(client)
    return client


async def register_search_attributes(client: Client) -> None:
    """Ours exist before a journey starts: the dev server's flag covers a fresh database, not
    one made by an earlier release, and a cluster's operator may have forgotten. A caller not
    allowed to add them (Temporal Cloud) is told to ask."""
    request = AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={POLICY_VERSION.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as error:
        if error.status == RPCStatusCode.ALREADY_EXISTS:
            return
        log.warning("search attribute not registered", name=POLICY_VERSION.name,
                    error=error.status.name if error.status else type(error).__name__)  # fmt: skip


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
