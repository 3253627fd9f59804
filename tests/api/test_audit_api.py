"""Auditors' routes over HTTP: a case's chain verified after tampering with SQL, its export, and
the report of who read what, after reads by each kind of reader."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.api.test_cases_api import PROBLEM, open_case, run
from tests.store.test_event_store import alter_row, sql
from tests.store.test_integrity import remove_newest
from tests.workflows.helpers import new_code

WHY = "vuosittainen laillisuusvalvonta"


@pytest.fixture(scope="module")
def auditor(token) -> dict[str, str]:
    return token("auditor", "*", sub="audrey.auditor")


async def case_with_notes(http, token, notes: int = 2, **opening) -> str:
    case_id = await open_case(http, token, **opening)
    for n in range(notes):
        note = await run(http, token(), case_id, "add_note", {"text": f"note {n}"})
        assert note.status_code == 200, note.text
    return case_id


async def verified(http, auditor, case_id: str):
    return await http.get(f"/api/audit/cases/{case_id}/verify", headers=auditor)


# Verification


async def test_an_untouched_case_verifies_intact(http, token, auditor):
    case_id = await case_with_notes(http, token)
    response = await verified(http, auditor, case_id)
    assert response.status_code == 200, response.text
    assert "casework-integrity" not in response.headers
    body = response.json()
    assert (body["case_id"], body["intact"], body["events"]) == (case_id, True, 3)
    assert body["first_broken_version"] is None


async def test_an_event_row_altered_with_sql_is_broken_at_that_version(
    http, token, auditor, database
):
    case_id = await case_with_notes(http, token)
    alter_row(database, UUID(case_id), 2)
    response = await verified(http, auditor, case_id)
    assert response.status_code == 200
    assert response.headers["casework-integrity"] == "broken; version=2"
    body = response.json()
    assert (body["intact"], body["first_broken_version"]) == (False, 2)
    assert body["problem"]


async def test_an_event_row_deleted_from_the_middle_is_detected(http, token, auditor, database):
    case_id = await case_with_notes(http, token, notes=3)
    sql(
        database,
        "DELETE FROM casework_events WHERE originator_id = %s AND originator_version = 2",
        UUID(case_id),
    )
    body = (await verified(http, auditor, case_id)).json()
    assert (body["intact"], body["first_broken_version"]) == (False, 2)


async def test_the_newest_row_deleted_with_its_head_rolled_back_is_detected(
    http, token, auditor, app, database
):
    case_id = await case_with_notes(http, token)
    app.integrity.checkpoint()
    remove_newest(database, UUID(case_id))
    body = (await verified(http, auditor, case_id)).json()
    assert (body["intact"], body["first_broken_version"]) == (False, 3)
    assert "version 3 is missing" in body["problem"]


async def test_verifying_an_unknown_case_is_a_404(http, auditor):
    missing = "00000000-0000-4000-8000-00000000dead"
    response = await verified(http, auditor, missing)
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)


# Export


async def test_an_export_holds_the_whole_history_the_state_it_makes_and_its_integrity(
    http, token, auditor
):
    case_id = await case_with_notes(http, token)
    diagnosis = {"icd_chapter": "F", "b_statement_on": "2026-09-01"}
    assert (await run(http, token(), case_id, "record_diagnosis", diagnosis)).status_code == 200
    response = await http.get(
        f"/api/audit/cases/{case_id}/export", params={"reason": WHY}, headers=auditor
    )
    assert response.status_code == 200, response.text
    export = response.json()
    assert [item["type"] for item in export["history"]] == [
        "CaseOpened", "NoteAdded", "NoteAdded", "DiagnosisRecorded",
    ]  # fmt: skip
    assert export["history"][3]["data"]["icd_chapter"] == "F"  # an auditor sees health data
    assert export["history"][1]["data"]["text"] == "note 0"
    assert (export["state"]["version"], export["state"]["diagnosed"]) == (4, True)
    assert (export["stage"], export["group"]) == ("identified", "A")
    assert export["integrity"]["intact"] is True
    assert (export["exported_by"], export["reason"]) == (
        {"id": "audrey.auditor", "role": "auditor"}, WHY,
    )  # fmt: skip


async def test_an_export_without_a_reason_is_a_422_and_records_nothing(
    http, token, auditor, database
):
    case_id = await case_with_notes(http, token, notes=0)
    response = await http.get(f"/api/audit/cases/{case_id}/export", headers=auditor)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    assert sql(database, "SELECT count(*) FROM access_log WHERE case_id = %s", case_id) == [(0,)]


# The access report


async def report(http, auditor, **params) -> list[dict]:
    response = await http.get("/api/audit/access", params=params, headers=auditor)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_access_report_names_who_read_what_through_which_route_and_why(
    http, token, auditor
):
    code = new_code()
    case_id = await case_with_notes(http, token, notes=1, identity_code=code)
    diagnosis = {"icd_chapter": "M", "b_statement_on": "2026-10-01"}
    assert (await run(http, token(), case_id, "record_diagnosis", diagnosis)).status_code == 200
    readers = {
        "team": token(sub="tiina.team"),  # of the case's team: sees health data
        "other-area": token(area="itainen", sub="olli.other"),  # does not, gives a reason
        "coordinator": token("coordinator", sub="kaisa.coordinator"),
        "coordinator-elsewhere": token("coordinator", "lantinen", sub="leena.elsewhere"),
    }
    path = f"/api/cases/{case_id}"
    assert (await http.get(path, headers=readers["team"])).status_code == 200
    other = await http.get(path, params={"reason": "asiakas muutti"}, headers=readers["other-area"])
    assert other.json()["group"] == {"withheld": "not_permitted"}
    history = await http.get(f"{path}/history", headers=readers["coordinator"])
    assert history.status_code == 200
    elsewhere = readers["coordinator-elsewhere"]
    assert (await http.get(path, headers=elsewhere)).status_code == 422  # no reason: no read
    assert (
        await http.get(path, params={"reason": "sijaisuus"}, headers=elsewhere)
    ).status_code == 200
    assert (await http.get(path, params={"reason": WHY}, headers=auditor)).status_code == 200
    export = f"/api/audit/cases/{case_id}/export"
    assert (await http.get(export, params={"reason": WHY}, headers=auditor)).status_code == 200
    lookup = {"identity_code": code, "reason": "asiakas soitti"}
    looked = await http.post("/api/cases/lookup", json=lookup, headers=readers["team"])
    assert looked.status_code == 200, looked.text

    items = await report(http, auditor, case=case_id)
    seen = [(i["actor"]["id"], i["what"], i["route"], i["reason"]) for i in items]
    assert seen == [
        ("tiina.team", "identity_code", "lookupCase", "asiakas soitti"),
        ("audrey.auditor", "health", "exportCase", WHY),
        ("audrey.auditor", "health", "getCase", WHY),
        ("leena.elsewhere", "case", "getCase", "sijaisuus"),
        ("kaisa.coordinator", "health", "getHistory", None),
        ("olli.other", "case", "getCase", "asiakas muutti"),
        ("tiina.team", "health", "getCase", None),
        ("staff-1", "identity_code", "register", None),  # the opening registered the client
    ]  # newest first
    assert {i["case_id"] for i in items} == {case_id}
    assert all(i["actor"]["role"] for i in items)


async def test_the_access_report_pages_past_its_limit_and_next_really_continues(
    http, token, auditor
):
    case_id = await case_with_notes(http, token, notes=0)
    reader = token(sub="pia.pager")
    for _ in range(5):
        assert (await http.get(f"/api/cases/{case_id}", headers=reader)).status_code == 200
    everything = await report(http, auditor, case=case_id)
    pages, cursor = [], None
    while True:
        params = {"case": case_id, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/api/audit/access", params=params, headers=auditor)).json()
        assert len(page["items"]) <= 2
        pages.append(page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert [item for page in pages for item in page] == everything
    assert len(everything) == 6  # five reads, and the opening's registration of the client
    assert len(pages) == 3


async def test_the_access_report_by_reader_and_period(http, token, auditor):
    case_id = await case_with_notes(http, token, notes=0)
    reader = token(sub="rauni.reader")
    assert (await http.get(f"/api/cases/{case_id}", headers=reader)).status_code == 200
    unknown = await http.post(
        "/api/cases/lookup", json={"identity_code": new_code()}, headers=reader
    )
    assert unknown.status_code == 404
    [lookup, read] = await report(http, auditor, actor="rauni.reader")
    assert (lookup["what"], lookup["case_id"], lookup["route"]) == (
        "identity_code", None, "lookupCase",
    )  # fmt: skip
    assert (read["what"], read["case_id"]) == ("health", case_id)
    between = {"actor": "rauni.reader", "from": read["read_at"], "to": lookup["read_at"]}
    assert await report(http, auditor, **between) == [read]  # `to` is exclusive


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "2026-11-01T09:00:00"}, "from"), ({"to": "0001-01-01T00:00:00+00:00"}, "to"),
     ({"case": "not-a-case"}, "case"), ({"actor": "x" * 201}, "actor"), ({"limit": 501}, "limit")],
)  # fmt: skip
async def test_an_access_report_parameter_out_of_bounds_is_a_422_naming_it(
    http, auditor, params, field
):
    response = await http.get("/api/audit/access", params=params, headers=auditor)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_an_access_report_cursor_it_did_not_give_out_is_a_400(http, auditor):
    params = {"cursor": "bm90LWEtY3Vyc29y"}  # base64, but of no position
    response = await http.get("/api/audit/access", params=params, headers=auditor)
    assert (response.status_code, response.json()["code"]) == (400, "malformed")
