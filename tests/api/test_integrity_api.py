"""A case whose stored history fails verification, over HTTP: reads say so, writes wait for an
admin's acknowledgement."""

from __future__ import annotations

from uuid import UUID

from tests.api.test_cases_api import PROBLEM, open_case, run
from tests.store.test_integrity import remove_newest

REASON = {"reason": "version 3 deleted by a faulty clean-up script; the note is re-entered"}


async def broken_case(http, token, app, database) -> str:
    """A case of three events whose newest was deleted, with its head, after a checkpoint."""
    case_id = await open_case(http, token)
    for text in ("called", "emailed"):
        assert (await run(http, token(), case_id, "add_note", {"text": text})).status_code == 200
    app.integrity.checkpoint()
    remove_newest(database, UUID(case_id))
    return case_id


async def test_an_intact_case_is_read_without_an_alarm(http, token):
    case_id = await open_case(http, token)
    response = await http.get(f"/api/cases/{case_id}", headers=token())
    assert response.status_code == 200
    assert "casework-integrity" not in response.headers
    assert response.json()["integrity"] == {"intact": True}


async def test_a_broken_case_is_read_with_an_integrity_header_and_field(http, token, app, database):
    case_id = await broken_case(http, token, app, database)
    response = await http.get(f"/api/cases/{case_id}", headers=token())
    assert response.status_code == 200
    assert response.headers["casework-integrity"] == "broken; version=3"
    integrity = response.json()["integrity"]
    assert (integrity["intact"], integrity["first_broken_version"]) == (False, 3)
    assert "version 3 is missing, though checkpoint #" in integrity["problem"]


async def test_a_write_to_a_broken_case_is_a_409_integrity_broken(http, token, app, database):
    case_id = await broken_case(http, token, app, database)
    response = await run(http, token(), case_id, "add_note", {"text": "again"})
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert (problem["code"], problem["first_broken_version"]) == ("integrity_broken", 3)
    assert "until an admin acknowledges it" in problem["detail"]


async def test_after_an_admin_acknowledges_the_break_writes_go_through_again(
    http, token, app, database
):
    case_id = await broken_case(http, token, app, database)
    admin = token("admin", "*", sub="root.admin")
    acknowledged = await http.post(
        f"/api/admin/cases/{case_id}/integrity/acknowledge", json=REASON, headers=admin
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["integrity"]["intact"] is True

    written = await run(http, token(), case_id, "add_note", {"text": "re-entered"})
    assert written.status_code == 200, written.text
    assert written.json()["version"] == 3
    read = await http.get(f"/api/cases/{case_id}", headers=token())
    assert read.headers["casework-integrity"] == "acknowledged; version=3"
    on_record = read.json()["integrity"]["acknowledged"]
    assert (on_record["actor_id"], on_record["reason"]) == ("root.admin", REASON["reason"])


async def test_only_an_admin_may_acknowledge_a_break_and_only_with_a_reason(
    http, token, app, database
):
    case_id = await broken_case(http, token, app, database)
    path = f"/api/admin/cases/{case_id}/integrity/acknowledge"
    by_staff = await http.post(path, json=REASON, headers=token())
    no_reason = await http.post(path, json={}, headers=token("admin", "*"))
    nul_reason = await http.post(path, json={"reason": "a\x00b"}, headers=token("admin", "*"))
    assert (by_staff.status_code, by_staff.json()["code"]) == (403, "not_permitted")
    assert (no_reason.status_code, no_reason.json()["errors"][0]["field"]) == (422, "reason")
    assert (nul_reason.status_code, nul_reason.json()["errors"][0]["field"]) == (422, "reason")
    still = await run(http, token(), case_id, "add_note", {"text": "again"})
    assert still.status_code == 409


async def test_acknowledging_an_intact_case_is_a_409(http, token):
    case_id = await open_case(http, token)
    response = await http.post(
        f"/api/admin/cases/{case_id}/integrity/acknowledge", json=REASON,
        headers=token("admin", "*"),
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (409, "illegal_step")
