"""Running the service: the embedded engines when nothing external is configured, then the
worker and the API in one event loop (or either alone, to scale them out separately)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
import structlog
import uvicorn
from temporalio.client import Client

from casework import children
from casework.api.asgi import create_app
from casework.api.auth import Authenticator
from casework.api.deps import Services
from casework.application import CaseworkApp
from casework.bootstrap import build_app
from casework.db import ChildPostgres
from casework.domain.policy import load_policy
from casework.integrity import checkpoint_periodically
from casework.keys import load_master_key
from casework.live import Streams
from casework.settings import Settings
from casework.supervisor import Supervisor
from projections.service import Projections
from workflows.client import Journeys
from workflows.devserver import DevServer
from workflows.reconcile import keep_journeys
from workflows.worker import build_worker, connect

log = structlog.get_logger("casework")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
HTTP_GRACE_SECONDS = 5  # open requests may finish within this, then connections are closed


@dataclass
class Engines:
    app: CaseworkApp
    client: Client
    journeys: Journeys
    projections: Projections
    supervisor: Supervisor = field(default_factory=lambda: Supervisor([]))


# The API's event loop, the Temporal worker and the view runners share one GIL. At Python's
# default switch interval (5 ms) a thread back from PostgreSQL may wait that long for the GIL on
# every round trip, and a view's batch makes about a dozen: P3's p99 was 117 ms, and 28 ms at 1 ms.
GIL_SWITCH_SECONDS = 0.001


def hand_the_gil_over_quickly() -> None:
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


@contextlib.asynccontextmanager
async def engines(settings: Settings, supervise: bool = False) -> AsyncIterator[Engines]:
    """PostgreSQL and Temporal: external if configured. Otherwise, under `casework up`
    (`supervise`), the embedded servers as children of this process, kept running; a part run
    alone joins (or starts) the embedded PostgreSQL of the data dir."""
    hand_the_gil_over_quickly()
    embedded = supervise and not settings.database_url
    postgres = ChildPostgres(settings.data_path / "pg") if embedded else None
    temporal = None
    if supervise and not settings.temporal_address:
        temporal = DevServer(
            settings.data_path / "temporal", settings.temporal_port, settings.temporal_ui_port
        )
    supervisor = Supervisor([c for c in (postgres, temporal) if c is not None])
    address = settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    app: CaseworkApp | None = None
    try:
        await supervisor.start()
        app = build_app(settings, postgres.database if postgres else None)
        master_key = load_master_key(settings.master_key, settings.data_path)
        client = await connect(address, settings.temporal_namespace, master_key)
        policy = load_policy(Path(settings.policy_file) if settings.policy_file else None)
        journeys = Journeys(client, settings.task_queue, policy)
        yield Engines(app, client, journeys, Projections(app, policy), supervisor)
    finally:
        if app is not None:
            app.close()
        supervisor.stop()
        if postgres is not None:
            postgres.release()


class Stop:
    """What SIGTERM and SIGINT do: an orderly stop, within `seconds` (CASEWORK_STOP_SECONDS).

    Until the API serves, a stop cancels the start; while it serves, `on_request` ends it (and
    the rest unwinds in order). Past the bound, or at a second signal, the process groups of
    our children are killed and the process exits with status 1: a write that hangs, a worker
    waiting for an activity that never ends, cannot keep the service from stopping.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.requested = False
        main = asyncio.current_task()
        assert main is not None
        self.on_request: Callable[[], object] = main.cancel
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.request, sig)

    def request(self, sig: signal.Signals) -> None:
        if self.requested:
            self.hard_stop(f"a second {sig.name}")
        self.requested = True
        log.info("stopping", signal=sig.name, within_seconds=self.seconds)
        timer = threading.Timer(self.seconds, self.hard_stop, ("the orderly stop took too long",))
        timer.daemon = True
        timer.start()
        self.on_request()

    @staticmethod
    def hard_stop(reason: str) -> None:
        log.error("stopping hard: killing what we started", reason=reason)
        for child in psutil.Process().children():
            children.kill_group(child.pid)
        os._exit(1)


@contextlib.contextmanager
def holding(data_dir: Path) -> Iterator[IO[str]]:
    """One `casework up` per data dir: the lock is the kernel's, so a killed one releases it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "up.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise children.CannotStart(f"another `casework up` runs on {data_dir}") from None
        yield lock


class Server(uvicorn.Server):
    """uvicorn, leaving the signals to Stop (which ends the whole process in order), ending
    the live streams as it begins to stop: uvicorn waits for open responses, and a stream
    would hold the stop for the whole grace period."""

    def __init__(self, config: uvicorn.Config, streams: Streams) -> None:
        super().__init__(config)
        self.streams = streams

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.streams.close()
        await super().shutdown(sockets)


def api_server(
    settings: Settings, engines: Engines, components: Callable[[], dict[str, str]] | None = None
) -> uvicorn.Server:
    auth = Authenticator.from_settings(settings)
    services = Services(
        settings, engines.app, engines.journeys, auth, engines.projections, components
    )
    config = uvicorn.Config(
        create_app(services),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,  # the API logs each request itself, as JSON, without bodies
        timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
    )
    return Server(config, services.streams)


async def serve(server: uvicorn.Server, stop: Stop) -> None:
    def exit_server() -> None:
        server.should_exit = True

    stop.on_request = exit_server
    await server.serve()


@contextlib.asynccontextmanager
async def background(*coroutines: object) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coroutines]  # type: ignore[arg-type]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def up(settings: Settings, demo: bool) -> None:
    """Everything in one process: engines (embedded unless configured, supervised), worker,
    API, views, journeys reconciled, demo data."""
    stop = Stop(settings.stop_seconds)
    with holding(settings.data_path), contextlib.suppress(asyncio.CancelledError):
        await _up(settings, demo, stop)


async def _up(settings: Settings, demo: bool, stop: Stop) -> None:
    async with engines(settings, supervise=True) as e:
        temporal_back = asyncio.Event()

        async def restarted(component: str) -> None:
            if component == "temporal":
                temporal_back.set()  # perhaps with a new, empty database: look at once

        e.supervisor.restarted = restarted
        worker = build_worker(e.client, e.app, settings.task_queue)
        server = api_server(settings, e, e.supervisor.health)
        e.projections.start()
        try:
            async with (
                worker,
                background(
                    e.supervisor.run(),
                    keep_journeys(e.app, e.client, e.journeys, temporal_back),
                    checkpoint_periodically(e.app),
                    *([demo_programme(settings, e)] if demo else []),
                ),
            ):
                base = f"http://{settings.http_host}:{settings.http_port}"
                ui = f"http://127.0.0.1:{settings.temporal_ui_port}"
                log.info(
                    "casework is up",
                    api=base,
                    docs=f"{base}/schema/swagger",
                    temporal_ui=None if settings.temporal_address else ui,
                )
                await serve(server, stop)
        finally:
            e.projections.stop()


async def demo_programme(settings: Settings, e: Engines) -> None:
    """`casework up --demo`: once the service is ready, say where the UI is and load the demo
    programme through the API, unless the database holds it already. The load runs as
    `casework demo` in a process of its own: in this one its client would take the GIL from the
    API, the worker and the views it is loading."""
    from casework.demo import DEFAULT_CLIENTS, DEFAULT_SEED, DemoMarker, until_ready, yesterday

    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::") else settings.http_host
    base = f"http://{host}:{settings.http_port}"
    marker = await asyncio.to_thread(DemoMarker, e.app.recorder.datastore)  # type: ignore[attr-defined]
    await until_ready(base)
    ready(base)
    claimed = await asyncio.to_thread(marker.claim, DEFAULT_SEED, DEFAULT_CLIENTS, yesterday())
    if claimed is None:
        log.info("demo programme loaded already")
        return
    seed, clients, until = claimed
    argv = [sys.executable, "-m", "casework.cli", "demo", "--url", base, "--seed", str(seed),
            "--clients", str(clients), "--until", until.isoformat()]  # fmt: skip
    loading = children.spawn(argv, signal.SIGTERM, sys.stderr.buffer)
    try:
        status = await asyncio.to_thread(loading.wait)
    finally:
        if loading.poll() is None:  # `up` is stopping: the next start finishes the load
            loading.terminate()
    if status == 0:
        await asyncio.to_thread(marker.loaded)
        log.info("demo programme loaded", clients=clients)
    else:
        log.error("demo programme not loaded in full; the next start tries again")


def ready(base: str) -> None:
    """What a person starting `casework up --demo` needs to know first."""
    print(
        f"\ncasework is ready: open {base}/ in a browser and sign in by picking a persona"
        " (staff of an area, a coordinator, Kela, Keva or Ilmarinen, an auditor).\n"
        "The demo programme loads in the background; the lists fill as it goes.\n",
        file=sys.stderr,
    )


async def worker_only(settings: Settings) -> None:
    """The worker, keeping journeys reconciled and the chain's checkpoints taken (each
    checkpoint is taken by one process at a time, whichever runs)."""
    Stop(settings.stop_seconds)
    with contextlib.suppress(asyncio.CancelledError):
        async with (
            engines(settings) as e,
            background(keep_journeys(e.app, e.client, e.journeys), checkpoint_periodically(e.app)),
        ):
            await build_worker(e.client, e.app, settings.task_queue).run()


async def project(settings: Settings) -> None:
    """Run every view until stopped. A view that fails on an event keeps trying it (the
    runner says which, in the logs, /ready and /metrics) rather than ending the process."""
    Stop(settings.stop_seconds)
    with contextlib.suppress(asyncio.CancelledError):
        async with engines(settings) as e:
            e.projections.start()
            try:
                await asyncio.Event().wait()
            finally:
                e.projections.stop()


async def api_only(settings: Settings) -> None:
    stop = Stop(settings.stop_seconds)
    with contextlib.suppress(asyncio.CancelledError):
        async with engines(settings) as e:
            await serve(api_server(settings, e), stop)
