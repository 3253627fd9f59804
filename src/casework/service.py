"""Running the service: the embedded engines when nothing external is configured, then the
worker and the API in one event loop (or either alone, to scale them out separately)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn
from temporalio.client import Client

from casework.api.app import create_app
from casework.api.auth import Authenticator
from casework.api.deps import Services
from casework.app import CaseworkApp
from casework.bootstrap import build_app
from casework.domain.policy import load_policy
from casework.keys import load_master_key
from casework.settings import Settings
from projections.service import Projections
from workflows.client import Journeys
from workflows.devserver import start_dev_server
from workflows.worker import build_worker, connect

log = structlog.get_logger("casework")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Engines:
    app: CaseworkApp
    client: Client
    journeys: Journeys
    projections: Projections


# The API's event loop, the Temporal worker and the view runners share one GIL. At Python's
# default switch interval (5 ms) a thread back from PostgreSQL may wait that long for the GIL on
# every round trip, and a view's batch makes about a dozen: P3's p99 was 117 ms, and 28 ms at 1 ms.
GIL_SWITCH_SECONDS = 0.001


def hand_the_gil_over_quickly() -> None:
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


@contextlib.asynccontextmanager
async def engines(settings: Settings, embedded_temporal: bool) -> AsyncIterator[Engines]:
    """PostgreSQL and Temporal: external if configured, else embedded (Temporal if asked)."""
    hand_the_gil_over_quickly()
    app = build_app(settings)
    dev_server: subprocess.Popen | None = None
    address = settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    if embedded_temporal and not settings.temporal_address:
        dev_server = start_dev_server(
            settings.data_path / "temporal", settings.temporal_port, settings.temporal_ui_port
        )
    try:
        master_key = load_master_key(settings.master_key, settings.data_path)
        client = await connect(address, settings.temporal_namespace, master_key)
        policy = load_policy(Path(settings.policy_file) if settings.policy_file else None)
        journeys = Journeys(client, settings.task_queue, policy)
        yield Engines(app, client, journeys, Projections(app, policy))
    finally:
        if dev_server is not None:
            dev_server.terminate()
            dev_server.wait(timeout=15)
        app.close()


class Server(uvicorn.Server):
    """uvicorn, but a requested shutdown (SIGTERM, Ctrl-C) ends the process with status 0.

    uvicorn re-raises the signal after shutting down; the worker, the dev server and the
    embedded database must be closed first, and an operator's stop is a success.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def api_server(settings: Settings, engines: Engines) -> uvicorn.Server:
    auth = Authenticator.from_settings(settings)
    services = Services(settings, engines.app, engines.journeys, auth, engines.projections)
    config = uvicorn.Config(
        create_app(services),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,  # the API logs each request itself, as JSON, without bodies
    )
    return Server(config)


async def up(settings: Settings, demo: bool) -> None:
    """Everything in one process: engines (embedded unless configured), worker, API, demo data."""
    from casework.demo import run_journeys

    async with engines(settings, embedded_temporal=True) as e:
        worker = build_worker(e.client, e.app, settings.task_queue)
        server = api_server(settings, e)
        e.projections.start()
        async with worker:
            background = asyncio.create_task(run_journeys(e.journeys)) if demo else None
            base = f"http://{settings.http_host}:{settings.http_port}"
            ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
            log.info(
                "casework is up",
                api=base,
                docs=f"{base}/schema/swagger",
                temporal_ui=None if settings.temporal_address else ui,
            )
            await server.serve()
            if background is not None and not background.done():
                background.cancel()
        e.projections.stop()


async def worker_only(settings: Settings) -> None:
    async with engines(settings, embedded_temporal=False) as e:
        await build_worker(e.client, e.app, settings.task_queue).run()


async def project(settings: Settings) -> None:
    """Run every view until stopped; stop with an error if a view fails on an event."""
    async with engines(settings, embedded_temporal=False) as e:
        e.projections.start()
        try:
            while True:
                await asyncio.sleep(1)
                if failed := [s.error for s in e.projections.status() if s.error]:
                    raise ViewFailed("; ".join(failed))
        finally:
            e.projections.stop()


class ViewFailed(Exception):
    """A view stopped on an event; the message names it."""


async def api_only(settings: Settings) -> None:
    async with engines(settings, embedded_temporal=False) as e:
        await api_server(settings, e).serve()
