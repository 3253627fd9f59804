"""The API under test: the real app, journeys on the test Temporal server, a test auth secret."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import psycopg
import pytest
import uvicorn

from casework.api.asgi import create_app
from casework.api.auth import Authenticator, Claims
from casework.api.deps import Services
from casework.domain.policy import shipped_policy
from casework.settings import Settings
from projections.service import Projections
from workflows.client import Journeys

SECRET = "test-secret-" + "x" * 32
STORE_TABLES = ("casework_events", "clients", "client_cases", "idempotency_keys")
"""Every table a command or an opening writes to."""


@pytest.fixture(scope="module")
def auth() -> Authenticator:
    return Authenticator(SECRET, "casework", "casework")


@pytest.fixture(scope="module")
def projections(app) -> Iterator[Projections]:
    running = Projections(app, shipped_policy()).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def services(app, client, task_queue, auth, projections) -> Services:
    journeys = Journeys(client, task_queue, shipped_policy())
    return Services(Settings(), app, journeys, auth, projections)


@pytest.fixture(scope="module")
async def http(services) -> AsyncIterator[httpx.AsyncClient]:
    """The API served by uvicorn on a loopback port, in the test's event loop, over real HTTP."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.should_exit = True
    await serving


@pytest.fixture(scope="module")
def token(auth) -> Callable[..., dict[str, str]]:
    def headers(role: str = "staff", area: str = "helsinki", **claims: str) -> dict[str, str]:
        # Staff work in the team most tests open their cases in (health data is theirs to see).
        if role == "staff" and area != "*":
            claims.setdefault("team", f"{area}-it")
        minted = auth.mint(
            Claims(sub=claims.pop("sub", f"{role}-1"), role=role, area=area, **claims)
        )
        return {"Authorization": f"Bearer {minted}"}

    return headers


@pytest.fixture(scope="module")
def store_rows(database) -> Callable[[], dict[str, int]]:
    """The rows of each table a command writes to: a refused request leaves them as they were."""

    def count() -> dict[str, int]:
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            return {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in STORE_TABLES
            }

    return count
