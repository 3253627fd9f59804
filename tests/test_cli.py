"""The `casework` command as an operator uses it: tokens, and the whole service from `up`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from casework.api.auth import Authenticator
from casework.settings import load_settings

CASEWORK = [sys.executable, "-m", "casework.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(data_dir: Path, **settings: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env["CASEWORK_DATA_DIR"] = str(data_dir)
    env |= {f"CASEWORK_{k.upper()}": str(v) for k, v in settings.items()}
    return env


def test_token_prints_a_token_the_api_accepts(tmp_path):
    env = environment(tmp_path)
    done = subprocess.run(
        [*CASEWORK, "token", "--role", "partner", "--partner", "keva", "--user", "kaisa"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = done.stdout.strip()
    assert "\n" not in token
    actor = Authenticator.from_settings(load_settings(env)).actor(token)
    assert (actor.id, actor.role, actor.partner) == ("kaisa", "partner", "keva")


def test_up_serves_the_api_the_temporal_ui_and_loads_the_demo_programme():
    ports = {name: free_port() for name in ("http_port", "temporal_port", "temporal_ui_port")}
    # A short data dir: the embedded server's Unix socket path must stay under ~107 bytes.
    data_dir = Path(tempfile.mkdtemp(prefix="cw-up-"))
    env = environment(data_dir, **ports)
    # Logs go to a file: a pipe nobody reads fills up and stalls the service.
    log = (data_dir / "up.log").open("wb")
    service = subprocess.Popen(
        [*CASEWORK, "up", "--demo"], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    base = f"http://127.0.0.1:{ports['http_port']}"
    try:
        ready = wait_until(lambda: httpx.get(f"{base}/ready", timeout=2).status_code == 200, 120)
        assert ready, (data_dir / "up.log").read_text()[-3000:]
        token = subprocess.run(
            [*CASEWORK, "token", "--role", "staff", "--area", "helsinki"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}

        def demo_loading() -> bool:
            return bool(httpx.get(f"{base}/api/cases", headers=headers).json()["items"])

        assert wait_until(demo_loading, 60)
        assert f"open {base}/ in a browser" in (data_dir / "up.log").read_text()
        ui = httpx.get(f"http://127.0.0.1:{ports['temporal_ui_port']}/", timeout=5)
        assert ui.status_code == 200
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        log.close()
        logged = (data_dir / "up.log").read_text()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert service.returncode == 0, logged[-3000:]


def wait_until(probe, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def test_audit_checkpoint_signs_and_audit_verify_names_a_checkpoint_altered(
    app, database, master_key, monkeypatch, capsys
):
    from casework.cli import main
    from tests.store.test_event_store import open_case, sql

    monkeypatch.setenv("CASEWORK_DATABASE_URL", database.conninfo)
    monkeypatch.setenv("CASEWORK_MASTER_KEY", base64.b64encode(master_key).decode())
    case_id = open_case(app)
    assert main(["audit", "checkpoint"]) == 0
    taken = json.loads(capsys.readouterr().out)
    assert taken["heads"] >= 1

    assert main(["audit", "verify"]) == 0
    sql(database, "DELETE FROM chain_checkpoint_heads WHERE originator_id = %s", case_id)
    assert main(["audit", "verify"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    altered = [line for line in lines if line.get("checkpoint") == taken["id"]]
    assert altered[0]["intact"] is False
