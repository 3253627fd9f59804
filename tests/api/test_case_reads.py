"""Reading a case over HTTP: on both time axes, its history item by item and page by page, the
reason a read carries, and the partner its work history suggests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.test_cases_api import open_case, run
from tests.store.test_event_store import sql


def ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def read(http, headers, case_id: str, **params):
    response = await http.get(f"/api/cases/{case_id}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_what_we_knew_on_day_x_about_day_y_with_a_back_dated_fact(http, token):
    # Opened 30 days ago, screened 20 days ago; then, recorded after day X, a diagnosis that
    # took effect 25 days ago.
    staff = token()
    case_id = await open_case(http, token, effective_at=ago(30))
    screening = {"answers": {"q1": "selkä"}, "concern": True, "effective_at": ago(20)}
    assert (await run(http, staff, case_id, "record_screening", screening)).status_code == 200
    then = datetime.now(UTC)
    day_x = then.isoformat()
    diagnosis = {"icd_chapter": "M", "b_statement_on": "2026-01-02", "effective_at": ago(25)}
    assert (await run(http, staff, case_id, "record_diagnosis", diagnosis)).status_code == 200
    day_y = ago(22)

    def facts(doc):
        return doc["screened"], doc["diagnosed"]

    assert facts(await read(http, staff, case_id)) == (True, True)
    assert facts(await read(http, staff, case_id, known_at=day_x)) == (True, False)
    assert facts(await read(http, staff, case_id, as_of=day_x)) == (True, False)  # its alias
    assert facts(await read(http, staff, case_id, effective_at=day_y)) == (False, True)
    both = await read(http, staff, case_id, known_at=day_x, effective_at=day_y)
    assert facts(both) == (False, False)
    assert (both["stage"], both["next_steps"]) == ("opened", [])

    # The ETag names the version the office knew then (the journey flags stalls meanwhile).
    items = (await http.get(f"/api/cases/{case_id}/history", headers=staff)).json()["items"]
    known = [i["version"] for i in items if datetime.fromisoformat(i["recorded_at"]) <= then]
    response = await http.get(f"/api/cases/{case_id}", params={"known_at": day_x}, headers=staff)
    assert response.headers["etag"] == f'"{max(known)}"'
    assert max(known) < len(items)


async def test_a_moment_before_the_case_was_opened_is_a_404_on_either_axis(http, token):
    case_id = await open_case(http, token, effective_at=ago(3))
    for params in ({"effective_at": ago(4)}, {"known_at": ago(1)}):
        response = await http.get(f"/api/cases/{case_id}", params=params, headers=token())
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"as_of": ago(1), "known_at": ago(1)}, "as_of"),
     ({"version": 1, "effective_at": ago(0)}, "version"),
     ({"effective_at": "2026-11-01T09:00:00"}, "effective_at"),
     ({"known_at": "9999-12-31T00:00:00+00:00"}, "known_at")],
)  # fmt: skip
async def test_moments_that_cannot_be_answered_are_a_422_naming_them(http, token, params, field):
    case_id = await open_case(http, token)
    response = await http.get(f"/api/cases/{case_id}", params=params, headers=token())
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_history_item_names_its_actor_times_reason_causation_correlation_and_chain(
    http, token
):
    case_id = await open_case(http, token)
    headers = token(sub="anna") | {"Idempotency-Key": "note-1", "X-Request-ID": "req-77"}
    body = {"text": "soitettu", "reason": "asiakkaan pyyntö"}
    assert (await run(http, headers, case_id, "add_note", body)).status_code == 200
    items = (await http.get(f"/api/cases/{case_id}/history", headers=token())).json()["items"]
    opened, note = items
    assert set(note) == {
        "version", "type", "recorded_at", "effective_at", "actor", "reason", "data",
        "causation_id", "correlation_id", "prev_hash", "hash",
    }  # fmt: skip
    assert (note["version"], note["type"], note["actor"]) == (
        2, "NoteAdded", {"id": "anna", "role": "staff"},
    )  # fmt: skip
    assert (note["causation_id"], note["correlation_id"]) == ("note-1", "req-77")
    assert (note["reason"], note["data"]) == ("asiakkaan pyyntö", {"text": "soitettu"})
    assert note["prev_hash"] == opened["hash"]


async def test_the_history_pages_past_its_limit_and_next_really_continues(http, token):
    case_id = await open_case(http, token)
    for n in range(6):
        assert (await run(http, token(), case_id, "add_note", {"text": f"n{n}"})).status_code == 200
    path = f"/api/cases/{case_id}/history"
    versions, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await http.get(path, params=params, headers=token())).json()
        versions += [item["version"] for item in page["items"]]
        cursor, pages = page["next"], pages + 1
        if cursor is None:
            break
    assert (versions, pages) == ([1, 2, 3, 4, 5, 6, 7], 3)
    bad = await http.get(path, params={"cursor": "WyJ4Il0="}, headers=token())  # ["x"]
    assert (bad.status_code, bad.json()["code"]) == (400, "malformed")


async def test_a_reason_given_with_a_read_is_recorded_with_it(http, token, database):
    case_id = await open_case(http, token)
    await read(http, token(sub="ulla"), case_id, reason="asiakas soitti")
    rows = sql(
        database, "SELECT route, what, reason FROM access_log WHERE case_id = %s AND actor_id = %s",
        case_id, "ulla",
    )  # fmt: skip
    assert rows == [("getCase", "health", "asiakas soitti")]


@pytest.mark.parametrize("reason", ["", "x" * 2001, "rivi\x00"])
async def test_a_reason_out_of_bounds_is_a_422_naming_it(http, token, reason):
    case_id = await open_case(http, token)
    response = await http.get(
        f"/api/cases/{case_id}", params={"reason": reason}, headers=token("auditor", "*")
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]


async def test_the_case_suggests_a_partner_from_its_work_history_and_says_why(http, token):
    case_id = await open_case(http, token)
    assert (await read(http, token(), case_id))["suggested_partner"] is None
    history = {"years": 9, "last_insured": "public"}
    assert (await run(http, token(), case_id, "record_work_history", history)).status_code == 200
    assert (await read(http, token(area="itainen"), case_id))["suggested_partner"] == {
        "partner": "keva",
        "reason": "9 years of work history, last insured in the public sector: Keva",
    }


async def test_who_sees_health_data_in_a_past_view_is_judged_on_the_case_now(http, token):
    case_id = await open_case(http, token)
    diagnosis = {"icd_chapter": "F", "b_statement_on": "2026-09-01"}
    assert (await run(http, token(), case_id, "record_diagnosis", diagnosis)).status_code == 200
    moved = {"assignee": "ben", "team": "helsinki-sote"}
    assert (await run(http, token(), case_id, "reassign", moved)).status_code == 200
    former_team = await read(http, token(), case_id, version=2)
    assert former_team["group"] == {"withheld": "not_permitted"}
    new_team = await read(http, token(team="helsinki-sote"), case_id, version=2)
    assert (new_team["group"], new_team["team"]) == ("A", "helsinki-it")
