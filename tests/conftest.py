"""Shared fixtures: one PostgreSQL and one Temporal server per test run; per module, a database
and a worker on a task queue of its own."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from temporalio.client import Client
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from casework.application import CaseworkApp
from casework.db import Database, create_database, start_embedded, stop_embedded
from workflows.converter import data_converter
from workflows.devserver import SEARCH_ATTRIBUTES, TASK_PROBLEMS_CONFIG, temporal_binary
from workflows.worker import build_worker

# Tests write nothing into the tree: no example database, and hypothesis's caches in /tmp.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "casework-hypothesis")
settings.register_profile("casework", database=None, deadline=None)
settings.load_profile("casework")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Database]:
    """An embedded server in a short temporary path (Unix socket paths are limited)."""
    root = Path(tempfile.mkdtemp(prefix="cw-"))
    pgdata = root / "pg"
    try:
        yield start_embedded(pgdata)
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def database(pg_server: Database, request: pytest.FixtureRequest) -> Database:
    name = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:50]
    return create_database(pg_server, f"t_{name}_{os.getpid()}")


@pytest.fixture(scope="session")
def master_key() -> bytes:
    # Fixed, so recorded workflow histories (sealed with it) replay in later runs.
    return hashlib.sha256(b"casework test master key").digest()


@pytest.fixture(scope="module")
def app(database: Database, master_key: bytes) -> Iterator[CaseworkApp]:
    application = CaseworkApp(database, master_key)
    yield application
    application.close()


@pytest.fixture(scope="session")
async def temporal(master_key: bytes) -> AsyncIterator[WorkflowEnvironment]:
    # Skipping is off unless a test fast-forwards a workflow: journeys have timers forever.
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=[
            "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true",
            "--dynamic-config-value", f"{TASK_PROBLEMS_CONFIG}=2",
            *SEARCH_ATTRIBUTES,
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
