"""Coordinators' work over HTTP: reassign a case, acknowledge a stall with a note, escalate it
by hand, see the stall policy in force and which journeys run which version, and move them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from casework.domain.policy import StallPolicy, shipped_policy
from tests.workflows.helpers import STAFF, new_code, open_case_command
from workflows.client import Journeys

AREA = "keskinen"
# Past the screening's 10 working days (at most 22 days, holidays included), short of twice
# that (at least 28 days), when a stall escalates by itself.
STALLED_NOT_ESCALATED = timedelta(days=23)


async def until(probe, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await probe()):
        assert asyncio.get_running_loop().time() < deadline, "it never happened"
        await asyncio.sleep(0.1)
    return found


async def open_stalled_case(http, token) -> str:
    opened = await http.post("/api/cases", headers=token(area=AREA), json={
        "identity_code": new_code(), "area": AREA, "team": f"{AREA}-it",
        "effective_at": (datetime.now(UTC) - STALLED_NOT_ESCALATED).isoformat(),
    })  # fmt: skip
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


async def queue_item(http, token, case_id: str) -> dict[str, Any] | None:
    response = await http.get("/api/queues/stalled", params={"area": AREA, "step": "screening"},
                              headers=token("coordinator", AREA))  # fmt: skip
    return next((i for i in response.json()["items"] if i["case_id"] == case_id), None)


async def test_a_coordinator_reassigns_a_case_and_the_list_shows_it(http, token):
    case_id = await open_stalled_case(http, token)
    coordinator = token("coordinator", AREA, sub="kaisa")
    moved = await http.post(f"/api/cases/{case_id}/commands/reassign", headers=coordinator,
                            json={"assignee": "ben", "team": f"{AREA}-sote"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["events"][0] == "CaseReassigned"

    async def listed() -> dict[str, Any] | None:
        page = await http.get("/api/cases", params={"area": AREA}, headers=coordinator)
        item = next(i for i in page.json()["items"] if i["id"] == case_id)
        return item if item["assignee"] == "ben" else None

    assert (await until(listed))["team"] == f"{AREA}-sote"
    elsewhere = token("coordinator", "lantinen")
    refused = await http.post(f"/api/cases/{case_id}/commands/reassign", headers=elsewhere,
                              json={"assignee": "cecilia"})  # fmt: skip
    assert refused.status_code == 403


async def test_a_stall_acknowledged_with_a_note_stays_queued_showing_who_saw_it(http, token):
    case_id = await open_stalled_case(http, token)
    item = await until(lambda: queue_item(http, token, case_id))
    assert (item["stalled"], item["acknowledged"]) == (True, None)
    note = {"step": "screening", "note": "asiakas sairaalassa; soitan 1.12."}
    staff = await http.post(f"/api/cases/{case_id}/commands/acknowledge_stall",
                            headers=token(area=AREA), json=note)  # fmt: skip
    assert staff.status_code == 403
    coordinator = token("coordinator", AREA, sub="kaisa")
    seen = await http.post(f"/api/cases/{case_id}/commands/acknowledge_stall",
                           headers=coordinator, json=note)  # fmt: skip
    assert seen.status_code == 200, seen.text

    async def acknowledged() -> dict[str, Any] | None:
        item = await queue_item(http, token, case_id)
        return item if item and item["acknowledged"] else None

    item = await until(acknowledged)
    assert item["acknowledged"]["by"] == "kaisa"
    assert not item["escalated"]
    history = await http.get(f"/api/cases/{case_id}/history", headers=coordinator)
    assert history.json()["items"][-1]["data"]["note"] == note["note"]


async def test_a_coordinator_escalates_a_stall_by_hand(http, token):
    case_id = await open_stalled_case(http, token)
    await until(lambda: queue_item(http, token, case_id))
    coordinator = token("coordinator", AREA)
    escalated = await http.post(f"/api/cases/{case_id}/commands/escalate_stall",
                                headers=coordinator, json={"step": "screening"})  # fmt: skip
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["events"] == ["StallEscalated"]

    async def shown() -> bool:
        item = await queue_item(http, token, case_id)
        return bool(item and item["escalated"])

    await until(shown)
    again = await http.post(f"/api/cases/{case_id}/commands/escalate_stall",
                            headers=coordinator, json={"step": "screening"})  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (409, "illegal_step")


def older_policy() -> StallPolicy:
    data = msgspec.to_builtins(shipped_policy()) | {"version": "2025-test"}
    return msgspec.convert(data, StallPolicy)


async def test_coordinators_see_which_journeys_run_which_policy_and_move_them(
    http, token, client, task_queue
):
    old = Journeys(client, task_queue, older_policy())
    for _ in range(3):
        await old.open_case(open_case_command(), STAFF)
    coordinator = token("coordinator", "*")

    async def running() -> dict[str | None, int]:
        report = await http.get("/api/coordination/policy", headers=coordinator)
        assert report.status_code == 200, report.text
        assert report.json()["in_force"]["version"] == shipped_policy().version
        return {j["version"]: j["running"] for j in report.json()["journeys"]}

    async def on_old_version() -> dict[str | None, int] | None:
        counts = await running()
        return counts if counts.get("2025-test") == 3 else None

    await until(on_old_version)
    moved = await http.post("/api/coordination/policy/migrate", headers=coordinator,
                            json={"from_version": "2025-test"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"from_version": "2025-test", "to_version": "2026-01", "moved": 3}

    async def migrated() -> dict[str | None, int] | None:
        counts = await running()
        return counts if "2025-test" not in counts else None

    assert (await until(migrated))[shipped_policy().version] >= 3
    area_only = token("coordinator", AREA)
    refused = await http.post("/api/coordination/policy/migrate", headers=area_only, json={})
    assert refused.status_code == 403
    bad = await http.post("/api/coordination/policy/migrate", headers=coordinator,
                          json={"from_version": "x' OR '1'='1"})  # fmt: skip
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "from_version")
