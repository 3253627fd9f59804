"""Every list is keyset-paged: following `next` walks the whole list once, in order, whatever the
`limit`; a cursor the list did not give out is a 400."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from casework.domain import commands as c
from casework.domain import employer as emp
from tests.workflows.helpers import new_code

AREA = "itainen"
COORDINATOR = c.Actor("kaisa", "coordinator", "*")
BUSINESS_IDS = ["0112038-9", "1572860-0", "0737546-2", "2617416-4", "0201256-6"]


async def walk(http, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items, cursor = [], None
    for _ in range(100):
        page = await http.get(path, params=params | ({"cursor": cursor} if cursor else {}),
                              headers=headers)  # fmt: skip
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= params["limit"]
        items += body["items"]
        if not (cursor := body["next"]):
            return items
    raise AssertionError("the list never ended")


async def settled(read, count: int) -> list[dict[str, Any]]:
    for _ in range(150):
        if len(found := await read()) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} items, saw {len(found)}")


@pytest.fixture(scope="module")
async def stalled_cases(http, token) -> list[str]:
    """Five cases of one area opened long ago: each is stalled on its screening at once."""
    staff = token(area=AREA)
    ids = []
    for days in (90, 80, 70, 60, 50):
        opened = await http.post("/api/cases", headers=staff, json={
            "identity_code": new_code(), "area": AREA, "team": f"{AREA}-sote",
            "effective_at": (datetime.now(UTC) - timedelta(days=days)).isoformat(),
        })  # fmt: skip
        assert opened.status_code == 201, opened.text
        ids.append(opened.json()["id"])
    return ids


async def test_the_stalled_queue_continues_past_its_limit_oldest_first(http, token, stalled_cases):
    coordinator = token("coordinator", AREA)
    params = {"area": AREA, "step": "screening"}

    async def whole() -> list[dict[str, Any]]:
        response = await http.get("/api/queues/stalled", params=params | {"limit": 500},
                                  headers=coordinator)  # fmt: skip
        return [i for i in response.json()["items"] if i["stalled"]]

    everything = await settled(whole, len(stalled_cases))
    paged = await walk(http, "/api/queues/stalled", coordinator, **params, limit=2)
    assert [i["case_id"] for i in paged] == [i["case_id"] for i in everything]
    assert [i["case_id"] for i in paged if i["case_id"] in stalled_cases] == stalled_cases


async def test_the_case_list_continues_past_its_limit(http, token, stalled_cases):
    staff = token(area=AREA)
    paged = await walk(http, "/api/cases", staff, area=AREA, limit=2)
    assert sorted(i["id"] for i in paged) == sorted(stalled_cases)
    assert len({i["id"] for i in paged}) == len(paged)


async def test_the_employers_continue_past_their_limit(app, http, token):
    ctx = app.context(COORDINATOR)
    for n, business_id in enumerate(BUSINESS_IDS):
        cmd = emp.RegisterEmployer(
            business_id=business_id, name=f"Yritys {n} Oy", sector="logistics", area=AREA
        )
        employer = emp.Employer.register(uuid4(), cmd, ctx)
        employer.execute(emp.AddInterestTag(), ctx)
        if n % 2:
            employer.execute(emp.OpenVacancy(title="Varastotyö", sector="logistics"), ctx)
        app.save(employer)

    async def whole() -> list[dict[str, Any]]:
        response = await http.get("/api/employers", params={"area": AREA, "limit": 500},
                                  headers=token())  # fmt: skip
        return response.json()["items"]

    everything = await settled(whole, len(BUSINESS_IDS))
    paged = await walk(http, "/api/employers", token(), area=AREA, limit=2)
    assert paged == everything
    assert [e["open_vacancies"] for e in paged] == [1, 1, 0, 0, 0]


@pytest.mark.parametrize("path", ["/api/queues/stalled", "/api/employers", "/api/cases"])
async def test_a_cursor_the_list_did_not_give_out_is_a_400(http, token, path):
    for cursor in ("abc", "W10=", "WzEsMiwzXQ=="):  # not base64; [] ; [1,2,3]
        response = await http.get(path, params={"cursor": cursor}, headers=token("coordinator"))
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["code"] == "malformed"
