"""Callers at the same moment: one Idempotency-Key, two bodies; many commands on one case."""

from __future__ import annotations

import asyncio

from tests.api.test_cases_api import open_case, run


def history_types(app, case_id: str) -> list[str]:
    from uuid import UUID

    return [type(app.mapper.to_domain_event(s)).__name__ for s in app.stored_events(UUID(case_id))]


async def test_one_key_with_two_bodies_at_once_gives_one_answer_and_one_422(http, token, app):
    case_id = await open_case(http, token)
    key = {"Idempotency-Key": "race-1"}
    first, second = await asyncio.gather(
        run(http, token(), case_id, "add_note", {"text": "called the client"}, **key),
        run(http, token(), case_id, "add_note", {"text": "met the employer"}, **key),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 422]
    refused = first if first.status_code == 422 else second
    assert refused.json()["code"] == "idempotency_key_reused"
    assert history_types(app, case_id).count("NoteAdded") == 1


async def test_one_key_with_one_body_at_once_gives_both_the_same_answer_and_one_event(
    http, token, app
):
    case_id = await open_case(http, token)
    key = {"Idempotency-Key": "race-2"}
    answers = await asyncio.gather(
        *[run(http, token(), case_id, "add_note", {"text": "same"}, **key) for _ in range(4)]
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["version"] for a in answers}) == 1
    assert history_types(app, case_id).count("NoteAdded") == 1


async def test_ten_commands_without_if_match_at_once_all_land(http, token, app):
    case_id = await open_case(http, token)
    answers = await asyncio.gather(
        *[run(http, token(), case_id, "add_note", {"text": f"note {i}"}) for i in range(10)]
    )
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 12))
    assert history_types(app, case_id).count("NoteAdded") == 10


async def test_a_refused_command_leaves_its_key_free_for_the_next_command(http, token):
    case_id = await open_case(http, token)
    key = {"Idempotency-Key": "refused-then-fine"}
    refused = await run(
        http, token(), case_id, "start_coaching", {"coaching_id": "coaching-9"}, **key
    )
    assert refused.status_code == 409
    fine = await run(http, token(), case_id, "add_note", {"text": "then this"}, **key)
    assert fine.status_code == 200, fine.text


async def test_two_openings_with_one_key_and_two_bodies_at_once_open_one_case(http, token, app):
    from tests.api.test_cases_api import opening

    key = {"Idempotency-Key": "open-race"}
    first, second = await asyncio.gather(
        http.post("/api/cases", json=opening(), headers=token() | key),
        http.post("/api/cases", json=opening(), headers=token() | key),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 422]
