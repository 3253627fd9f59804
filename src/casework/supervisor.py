"""What `casework up` started, kept running: a child that dies is started again, with backoff.

A component is a server we run as a child process (the embedded PostgreSQL, the Temporal dev
server): `prepare` before each start (make its files, stop what a killed predecessor left,
refuse what would be mistaken for it), `spawn` it, `serving` says when it answers, `stop` ends
it within a bound.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from anyio import to_thread

from casework import children

log = structlog.get_logger("casework.supervisor")

READY_SECONDS = 60.0  # PostgreSQL after a crash replays its WAL before it answers
CHECK_SECONDS = 0.5
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0  # up this long, a component's next failure starts the backoff afresh


class Component(Protocol):
    name: str

    def prepare(self) -> None: ...
    def spawn(self) -> subprocess.Popen: ...
    def serving(self, process: subprocess.Popen) -> bool: ...
    def stop(self, process: subprocess.Popen) -> None: ...


class NotServing(children.CannotStart):
    """A component did not come up."""


@dataclass
class Child:
    component: Component
    process: subprocess.Popen | None = None
    up_since: float | None = None
    failures: int = 0
    restarts: int = 0

    @property
    def state(self) -> str:
        if self.up_since is not None:
            return "up"
        return f"down (restarting, attempt {self.failures})" if self.failures else "starting"


class Supervisor:
    """Starts components in order, restarts any that dies, stops them in reverse order."""

    def __init__(
        self,
        components: list[Component],
        restarted: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.children = [Child(c) for c in components]
        self.restarted = restarted

    def health(self) -> dict[str, str]:
        return {child.component.name: child.state for child in self.children}

    def processes(self) -> list[subprocess.Popen]:
        return [c.process for c in self.children if c.process is not None]

    async def start(self) -> None:
        """Start each in turn and wait until it serves; a failure here is the caller's."""
        for child in self.children:
            await self._start(child)

    async def run(self) -> None:
        """Watch until cancelled: restart whatever has died."""
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            for child in self.children:
                if child.process is not None and child.process.poll() is None:
                    continue
                await self._recover(child)

    async def _recover(self, child: Child) -> None:
        name = child.component.name
        if child.up_since is not None:
            code = child.process.returncode if child.process else None
            stable = time.monotonic() - child.up_since > STABLE_SECONDS
            child.failures = 0 if stable else child.failures
            child.up_since = None
            log.warning("component died; restarting it", component=name, exit_code=code)
        delay = BACKOFF_SECONDS[min(child.failures, len(BACKOFF_SECONDS) - 1)]
        child.failures += 1
        await asyncio.sleep(delay)
        try:
            await self._start(child)
        except children.CannotStart as error:
            log.warning("restart failed; trying again", component=name, error=str(error))
            return
        child.restarts += 1
        log.info("component restarted", component=name, attempt=child.failures)
        if self.restarted is not None:
            await self.restarted(name)

    async def _start(self, child: Child) -> None:
        component = child.component
        if child.process is not None:
            children.kill_group(child.process.pid)  # whatever it forked and left behind
        await to_thread.run_sync(component.prepare)
        # Spawned in the event loop's thread: the parent-death signal follows the spawning thread.
        child.process = process = component.spawn()
        deadline = time.monotonic() + READY_SECONDS
        while not await to_thread.run_sync(component.serving, process):
            if process.poll() is not None:
                raise NotServing(f"{component.name} exited with status {process.returncode}")
            if time.monotonic() > deadline:
                await to_thread.run_sync(component.stop, process)
                raise NotServing(f"{component.name} did not answer within {READY_SECONDS:.0f}s")
            await asyncio.sleep(0.1)
        child.up_since = time.monotonic()

    def stop(self) -> None:
        """Stop every component, the last started first (each within its own bound)."""
        for child in reversed(self.children):
            if child.process is not None:
                child.component.stop(child.process)

    def kill(self) -> None:
        """A hard stop: kill every component's process group at once."""
        for process in self.processes():
            children.kill_group(process.pid)
