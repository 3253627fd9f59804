"""A Temporal dev server (time skipping per workflow) per test run; a worker per test module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from casework.app import CaseworkApp
from workflows.converter import data_converter
from workflows.devserver import temporal_binary
from workflows.worker import build_worker


@pytest.fixture(scope="session")
async def temporal(master_key: bytes) -> AsyncIterator[WorkflowEnvironment]:
    # Skipping is off unless a test fast-forwards a workflow: journeys have timers forever.
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"
        ],
        data_converter=data_converter(master_key),
    )  # fmt: skip
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def task_queue(temporal: WorkflowEnvironment, app: CaseworkApp) -> AsyncIterator[str]:
    queue = f"tq-{uuid.uuid4()}"
    async with build_worker(temporal.client, app, queue):
        yield queue


@pytest.fixture(scope="module")
def client(temporal: WorkflowEnvironment) -> Client:
    return temporal.client
