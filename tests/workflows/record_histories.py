"""Record the workflow histories that test_replay.py replays. Run by hand, from the project root:

    .venv/bin/python -m tests.workflows.record_histories

It starts its own embedded PostgreSQL and time-skipping Temporal dev server (as tests/conftest.py
does), drives one journey with a partner handoff from opening to closing, and one opening that is
refused, then writes each workflow's history as JSON into tests/workflows/histories/. Payloads are
sealed with the tests' fixed master key, so the replay test can decode them. Re-record after a
deliberate, versioned change to a workflow; an accidental change is what the replay test catches.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from casework.application import CaseworkApp
from casework.db import create_database, start_embedded, stop_embedded
from casework.domain.policy import shipped_policy
from tests.workflows.helpers import (
    STAFF,
    command,
    eventually,
    open_case_command,
    partner,
    started,
)
from workflows.client import Journeys, Refused, case_id_for
from workflows.converter import data_converter
from workflows.devserver import SEARCH_ATTRIBUTES, temporal_binary
from workflows.handoff import HandoffWorkflow
from workflows.journey import JourneyWorkflow
from workflows.messages import handoff_workflow_id, journey_id
from workflows.worker import build_worker

HISTORIES = Path(__file__).parent / "histories"
JOURNEY = HISTORIES / "journey.json"
HANDOFF = HISTORIES / "handoff.json"
REFUSED_OPENING = HISTORIES / "journey_refused_opening.json"

# The `master_key` fixture of tests/conftest.py (test_replay checks that the two agree).
MASTER_KEY = hashlib.sha256(b"casework test master key").digest()


async def expect_refusal(call: Awaitable[object], code: str) -> None:
    try:
        await call
    except Refused as refused:
        if refused.code == code:
            return
        raise
    raise AssertionError(f"expected a {code} refusal")


async def drive_journey(
    env: WorkflowEnvironment, journeys: Journeys, app: CaseworkApp
) -> tuple[str, str]:
    """Open, stall, several commands and refusals, a handoff through its whole life, close."""
    client, keva = env.client, partner("keva")
    opened = await journeys.open_case(open_case_command(), STAFF)
    case_id = opened.case_id
    journey = client.get_workflow_handle(journey_id(case_id))

    # Sixteen days without screening: the journey's timer fires and flags the stall.
    await env.fast_forward(journey, timedelta(days=16))
    await eventually(lambda: app.get_case(case_id).state.stall("screening", None))
    await journeys.run(
        case_id, command("record_screening", {"answers": {"q": "a"}, "concern": True}), STAFF
    )
    # Refused by the validator (not in the history) and by the write itself (in the history).
    bad_step = journeys.run(
        case_id, command("start_coaching", {"coaching_id": "coaching-9"}), STAFF
    )
    await expect_refusal(bad_step, "illegal_step")
    stale = journeys.run(case_id, command("add_note", {"text": "x"}), STAFF, expected_version=1)
    await expect_refusal(stale, "stale_version")
    for name, body in [
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("record_diagnosis", {"icd_chapter": "F", "b_statement_on": "2026-01-15"}),
        ("add_note", {"text": "called the client"}),
    ]:
        await journeys.run(case_id, command(name, body), STAFF)
    outcome = await journeys.run(case_id, command("request_handoff", {
        "partner": "keva", "summary": "needs rehabilitation",
        "consent": {"given_on": "2026-01-20", "partners": ["keva"]},
    }), STAFF)  # fmt: skip
    handoff_id = outcome.state.handoffs[0].id

    # Keva acknowledges, asks for more information and gets it, then sits on its decision: the
    # child reminds it halfway to the deadline and flags the stall when it passes.
    child_id = handoff_workflow_id(case_id, handoff_id)
    child = client.get_workflow_handle_for(HandoffWorkflow.run, child_id)
    await started(child)
    on_handoff = {"handoff_id": handoff_id}
    await journeys.run(case_id, command("acknowledge_handoff", on_handoff), keva)
    question = on_handoff | {"question": "is there a B statement?"}
    await journeys.run(case_id, command("request_handoff_info", question), keva)
    answer = on_handoff | {"answer": "yes, from January"}
    await journeys.run(case_id, command("supply_handoff_info", answer), STAFF)
    # Fast-forward only the child, and only after the journey's last write to the handoff: each
    # workflow has its own virtual clock, and a child running ahead judges later steps overdue.
    await env.fast_forward(child, timedelta(days=30))
    await eventually(lambda: app.get_case(case_id).state.stall("handoff_decision", handoff_id))
    await journeys.run(case_id, command("accept_handoff", on_handoff), keva)
    done = on_handoff | {"outcome": "rehabilitation_granted"}
    await journeys.run(case_id, command("complete_handoff", done), keva)
    assert (await child.result()).status == "completed"

    closing = {"outcome": "rehabilitation", "reason": "Keva granted rehabilitation"}
    await journeys.run(case_id, command("close_case", closing), STAFF)
    result = await client.get_workflow_handle_for(JourneyWorkflow.run, journey.id).result()
    assert result.handoff_outcomes == {handoff_id: "rehabilitation_granted"}
    return journey.id, child_id


async def drive_refused_opening(client: Client, journeys: Journeys) -> str:
    """An opening the write refuses: the journey records the failed update and ends."""
    key = f"bad-open-{uuid.uuid4()}"
    await expect_refusal(
        journeys.open_case(open_case_command(identity_code="010101-0000"), STAFF, key),
        "validation_failed",
    )
    workflow_id = journey_id(case_id_for(STAFF, key))
    result = await client.get_workflow_handle_for(JourneyWorkflow.run, workflow_id).result()
    assert result.opened is False
    return workflow_id


async def fetch(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def record(out: Path) -> list[Path]:
    root = Path(tempfile.mkdtemp(prefix="cw-rec-"))
    pgdata = root / "pg"
    try:
        database = create_database(start_embedded(pgdata), "record_histories")
        app = CaseworkApp(database, MASTER_KEY)
        env = await WorkflowEnvironment.start_time_skipping_v2(
            ts_config=TimeSkippingConfig(enabled=False),
            dev_server_existing_path=str(temporal_binary()),
            dev_server_extra_args=[
                "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true",
                *SEARCH_ATTRIBUTES,
            ],
            data_converter=data_converter(MASTER_KEY),
        )  # fmt: skip
        try:
            queue = f"record-{uuid.uuid4()}"
            journeys = Journeys(env.client, queue, shipped_policy())
            async with build_worker(env.client, app, queue):
                journey, child = await drive_journey(env, journeys, app)
                refused = await drive_refused_opening(env.client, journeys)
                histories = {
                    out / JOURNEY.name: await fetch(env.client, journey),
                    out / HANDOFF.name: await fetch(env.client, child),
                    out / REFUSED_OPENING.name: await fetch(env.client, refused),
                }
        finally:
            await env.shutdown()
            app.close()
    finally:
        stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    for path, history in histories.items():
        path.write_text(history.to_json() + "\n")
    return list(histories)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HISTORIES
    for path in asyncio.run(record(out)):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
