"""Schemathesis over the whole OpenAPI against the real app, as uvicorn serves it (the `http`
fixture), with a staff token and then a coordinator's; what it checks is in `tests/api/fuzz.py`,
which runs in a process of its own."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from tests.api.test_cases_api import open_case, run

MIN_REQUESTS = 1000
HANDOFF = {"partner": "kela", "consent": {"given_on": "2026-11-01", "partners": ["kela"]}}


@pytest.fixture(scope="module")
async def cases(http, token) -> list[str]:
    """Cases of the staff token's team in several states, one with a Kela handoff."""
    opened = [await open_case(http, token) for _ in range(3)]
    for name, body in [
        ("record_screening", {"answers": {"q1": "selkä"}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("request_handoff", HANDOFF),
    ]:
        assert (await run(http, token(), opened[0], name, body)).status_code == 200
    return opened


async def test_generated_requests_to_every_operation_get_the_answers_the_openapi_declares(
    http, token, cases, request
):
    callers = {"staff": token(), "coordinator": token("coordinator", "*")}
    tokens = {name: h["Authorization"].removeprefix("Bearer ") for name, h in callers.items()}
    spec = f"{str(http.base_url).rstrip('/')}/schema/openapi.json"
    config = {"spec": spec, "tokens": tokens, "cases": cases}
    # The fuzzing runs beside this event loop, which serves the app meanwhile.
    fuzzing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.api.fuzz", json.dumps(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await fuzzing.communicate()
    assert fuzzing.returncode == 0, err.decode()[-20_000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    total = sum(summary["requests"].values())
    report = (
        f"schemathesis: {total} requests in {summary['seconds']} s {summary['requests']},"
        f" statuses {summary['statuses']}"
    )
    # The lead reads the figure from the test run: shown past pytest's capture.
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if terminal is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            terminal.write_line(report)
    assert total >= MIN_REQUESTS, report
    assert not [status for status in summary["statuses"] if status.startswith("5")], report
