"""When PostgreSQL or Temporal does not answer, the API says 503 with Retry-After, quickly."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.client import Client

from casework.api.asgi import create_app
from casework.api.deps import Services
from casework.application import CaseworkApp
from casework.db import create_database, start_embedded, stop_embedded
from casework.domain.policy import shipped_policy
from casework.settings import Settings
from projections.service import Projections
from tests.workflows.helpers import opening
from workflows.client import Journeys
from workflows.converter import data_converter


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def serve(services: Services):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def temporal_down(master_key) -> Client:
    # Nothing listens on this port: every call fails as a real outage would.
    return await Client.connect(
        f"127.0.0.1:{free_port()}", data_converter=data_converter(master_key), lazy=True
    )


async def test_temporal_down_is_503_with_retry_after_and_no_hang(app, auth, token, temporal_down):
    journeys = Journeys(temporal_down, "tq", shipped_policy())
    services = Services(Settings(), app, journeys, auth, Projections(app, shipped_policy()))
    server, task, base = await serve(services)
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            response = await http.post("/api/cases", json=opening(), headers=token())
            ready = await http.get("/ready", headers=token("auditor"))
        assert time.monotonic() - started < 30
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["code"] == "unavailable"
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"] == "ok"
    finally:
        server.should_exit = True
        await task


async def test_postgres_down_is_503_with_retry_after(master_key, auth, token, client):
    root = Path(tempfile.mkdtemp(prefix="cw-down-"))
    admin = start_embedded(root / "pg")
    app = CaseworkApp(create_database(admin, "down"), master_key, POSTGRES_CONNECT_TIMEOUT="2")
    journeys = Journeys(client, "tq", shipped_policy())
    services = Services(Settings(), app, journeys, auth, Projections(app, shipped_policy()))
    server, task, base = await serve(services)
    try:
        stop_embedded(root / "pg")
        missing = "00000000-0000-4000-8000-000000000000"
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            response = await http.get(f"/api/cases/{missing}", headers=token())
        assert time.monotonic() - started < 30
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
    finally:
        server.should_exit = True
        await task
        app.close()
        shutil.rmtree(root, ignore_errors=True)
