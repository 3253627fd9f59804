"""The demo programme, scaled down, sent through the real API (uvicorn, journeys on Temporal,
views): every journey stage, handoffs to every partner answered on their routes, indicators that
move; and a second run that writes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from casework.demo import DemoMarker, load, plan
from casework.domain.state import Stage
from tests.workflows.helpers import eventually

SEED, CLIENTS = 7, 30
UNTIL = date.today() - timedelta(days=1)
MOVED = (
    "tasmatyo_tags_added", "target_group_at_month_end", "coaching_referred", "coaching_completed",
    "employments_with_pay_subsidy", "employments_without_pay_subsidy", "f05_at_month_end",
    "handoffs_kela_requested", "handoffs_keva_requested", "handoffs_ilmarinen_requested",
    "stalled_cases_at_month_end", "identifications",
)  # fmt: skip
STAGES: tuple[Stage, ...] = ("opened", "screened", "identified", "employed", "closed")


@pytest.fixture(scope="module")
async def loaded(http, auth) -> Any:
    base = str(http.base_url)
    return await load(base, auth, SEED, CLIENTS, UNTIL, show_progress=False)


def test_the_same_seed_plans_the_same_programme_and_another_seed_another():
    def bodies(seed: int) -> list[Any]:
        return [(j.opening, j.start, [s.name for s in j.steps]) for j in plan(seed, 50, UNTIL)]

    assert bodies(SEED) == bodies(SEED)
    assert bodies(SEED) != bodies(SEED + 1)


async def test_the_programme_loads_without_a_refusal(loaded):
    assert loaded.failures == []
    assert loaded.clients == CLIENTS
    assert loaded.written + loaded.rescheduled == loaded.requests


async def test_the_programme_has_cases_in_every_journey_stage(http, token, loaded):
    coordinator = token("coordinator", "*")

    async def stages() -> set[str]:
        found = set()
        for stage in STAGES:
            page = await http.get("/api/cases", params={"stage": stage}, headers=coordinator)
            if page.json()["items"]:
                found.add(stage)
        assert found == set(STAGES)
        return found

    await eventually(stages)


async def test_every_partner_gets_handoffs_and_answers_them_on_its_routes(http, token, loaded):
    coordinator = token("coordinator", "*")

    async def answered() -> bool:
        for partner in ("kela", "keva", "ilmarinen"):
            tasks = []
            for state in ("open", "answered", "waiting", "closed", None):
                params = {"state": state} if state else {}
                page = await http.get(f"/api/partners/{partner}/tasks", params=params,
                                      headers=coordinator)  # fmt: skip
                tasks += page.json()["items"]
            assert tasks, partner
            assert any(t["status"] != "requested" for t in tasks), partner
        return True

    await eventually(answered)


async def test_the_programme_moves_the_indicators(http, token, loaded):
    coordinator = token("coordinator", "*")
    months = {"from": f"{UNTIL - timedelta(days=364):%Y-%m}", "to": f"{UNTIL:%Y-%m}"}

    async def totals() -> dict[str, float]:
        answer = (await http.get("/api/indicators", params=months, headers=coordinator)).json()
        summed: dict[str, float] = {}
        for figures in answer["areas"]["total"].values():
            for name, value in figures.items():
                summed[name] = summed.get(name, 0) + (value or 0)
        assert {name for name in MOVED if not summed.get(name)} == set()
        return summed

    await eventually(totals)


async def test_running_the_programme_again_writes_nothing(http, auth, loaded, database):
    def keys() -> int:
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0]

    before = keys()
    again = await load(str(http.base_url), auth, SEED, CLIENTS, UNTIL, show_progress=False)
    assert again.failures == []
    assert again.written == 0
    assert again.replayed + again.rescheduled == again.requests
    assert keys() == before


def test_up_loads_the_programme_it_began_until_it_is_marked_loaded_then_never_again(app):
    marker = DemoMarker(app.recorder.datastore)
    assert marker.claim(SEED, CLIENTS, UNTIL) == (SEED, CLIENTS, UNTIL)
    # Stopped before it finished: the next start finishes the same programme, not another.
    assert marker.claim(SEED + 1, 1000, UNTIL + timedelta(days=3)) == (SEED, CLIENTS, UNTIL)
    marker.loaded()
    assert marker.claim(SEED, CLIENTS, UNTIL) is None
