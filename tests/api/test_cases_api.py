"""Staff command API over HTTP, against a real worker, Temporal dev server and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from casework.domain.calendar import local_date
from tests.workflows.helpers import new_code

PROBLEM = "application/problem+json"


def opening(**fields):
    return {"identity_code": new_code(), "area": "helsinki", "team": "helsinki-it"} | fields


async def open_case(http, token, **fields) -> str:
    response = await http.post("/api/cases", json=opening(**fields), headers=token())
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def run(http, headers, case_id, name, body, **extra):
    return await http.post(
        f"/api/cases/{case_id}/commands/{name}", json=body, headers=headers | extra
    )


async def test_whole_journey_from_opening_to_handoff_completion_and_employment(http, token):
    staff, keva = token(), token("partner", "*", partner="keva")
    case_id = await open_case(http, token)
    steps = [
        (staff, "record_screening", {"answers": {"q1": "back pain"}, "concern": True}),
        (staff, "record_diagnosis", {"icd_chapter": "M", "b_statement_on": "2026-10-02"}),
        (staff, "add_tasmatyo_tag", {"basis": "b_statement"}),
        (staff, "record_work_history", {"years": 9, "last_insured": "public"}),
        (staff, "request_handoff", {
            "partner": "keva", "summary": "vocational rehabilitation",
            "consent": {"given_on": "2026-11-01", "partners": ["keva"], "shares": ["icd_chapter"]},
            "shares": ["icd_chapter"],
        }),
    ]  # fmt: skip
    for headers, name, body in steps:
        response = await run(http, headers, case_id, name, body)
        assert response.status_code == 200, response.text
    handoff = "handoff-6"
    for name, body in [
        ("acknowledge_handoff", {"handoff_id": handoff}),
        ("request_handoff_info", {"handoff_id": handoff, "question": "Work history?"}),
    ]:
        assert (await run(http, keva, case_id, name, body)).status_code == 200
    body = {"handoff_id": handoff, "answer": "nine years, municipal"}
    assert (await run(http, staff, case_id, "supply_handoff_info", body)).status_code == 200
    for name, body in [
        ("accept_handoff", {"handoff_id": handoff}),
        ("complete_handoff", {"handoff_id": handoff, "outcome": "rehabilitation_granted"}),
    ]:
        assert (await run(http, keva, case_id, name, body)).status_code == 200
    employed = await run(http, staff, case_id, "start_employment", {"starts_on": "2026-12-01"})
    assert employed.json()["events"] == ["EmploymentStarted"]

    case = await http.get(f"/api/cases/{case_id}", headers=staff)
    assert case.status_code == 200
    assert case.headers["etag"] == f'"{employed.json()["version"]}"'
    doc = case.json()
    assert (doc["stage"], doc["group"]) == ("employed", "A")
    assert doc["handoffs"][0]["status"] == "completed"
    assert "close_case" in doc["next_steps"]
    assert "start_employment" not in doc["next_steps"]


async def test_the_same_idempotency_key_twice_writes_once(http, token, app):
    case_id = await open_case(http, token)
    key = {"Idempotency-Key": "note-42"}
    first = await run(http, token(), case_id, "add_note", {"text": "called"}, **key)
    second = await run(http, token(), case_id, "add_note", {"text": "called"}, **key)
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert app.get_case(__import__("uuid").UUID(case_id)).version == 2
    other = await run(http, token(), case_id, "add_note", {"text": "different"}, **key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_two_clients_on_one_version_one_wins_one_gets_409(http, token):
    case_id = await open_case(http, token)
    read = await http.get(f"/api/cases/{case_id}", headers=token())
    etag = read.headers["etag"]
    a, b = await asyncio.gather(
        run(http, token(), case_id, "add_note", {"text": "a"}, **{"If-Match": etag}),
        run(http, token(), case_id, "add_note", {"text": "b"}, **{"If-Match": etag}),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    loser = a if a.status_code == 409 else b
    problem = loser.json()
    assert loser.headers["content-type"].startswith(PROBLEM)
    assert problem["code"] == "stale_version"
    assert problem["current_version"] == 2
    assert problem["events_since"] == [{"version": 2, "type": "NoteAdded"}]


async def test_an_illegal_step_is_409_with_the_reason_and_writes_nothing(http, token, app):
    case_id = await open_case(http, token)
    response = await run(http, token(), case_id, "start_coaching", {"coaching_id": "coaching-2"})
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_step"
    assert "coaching-2" in response.json()["detail"]
    history = await http.get(f"/api/cases/{case_id}/history", headers=token())
    assert [item["type"] for item in history.json()["items"]] == ["CaseOpened"]


async def test_a_step_back_dated_before_the_step_it_depends_on_is_409_with_both_dates(
    http, token, store_rows
):
    now = datetime.now(UTC)
    case_id = await open_case(http, token, effective_at=(now - timedelta(days=10)).isoformat())
    staff = token()
    for name, body in [
        ("record_screening", {"answers": {"q1": "back pain"}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("refer_to_coaching", {"effective_at": (now - timedelta(days=2)).isoformat()}),
    ]:
        assert (await run(http, staff, case_id, name, body)).status_code == 200
    before = store_rows()
    body = {"coaching_id": "coaching-4", "effective_at": (now - timedelta(days=5)).isoformat()}
    response = await run(http, staff, case_id, "start_coaching", body)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)
    started, referred = (local_date(now - timedelta(days=d)) for d in (5, 2))
    assert response.json() == {
        "type": "/problems/illegal_step", "title": "Conflict", "status": 409,
        "code": "illegal_step",
        "detail": f"coaching-4 cannot start on {started}: it was referred on {referred}",
    }  # fmt: skip
    assert store_rows() == before


async def test_a_job_referral_to_an_unregistered_employer_is_422_naming_it(http, token, store_rows):
    case_id = await open_case(http, token)
    body = {"employer_id": str(uuid.uuid4()), "vacancy_id": "vacancy-2"}
    before = store_rows()
    response = await run(http, token(), case_id, "make_job_referral", body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"] == [
        {"field": "employer_id", "message": "no employer registered with this id"}
    ]
    assert store_rows() == before


async def test_a_partner_acting_on_a_case_without_its_handoff_learns_nothing_of_it(http, token):
    case_id = await open_case(http, token)
    keva = token("partner", "*", partner="keva")
    response = await run(http, keva, case_id, "accept_handoff", {"handoff_id": "handoff-2"})
    assert response.status_code == 404
    assert response.json()["detail"] == f"no case {case_id}"
    unknown = await run(http, keva, uuid.uuid4(), "accept_handoff", {"handoff_id": "handoff-2"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    history = await http.get(f"/api/cases/{case_id}/history", headers=token())
    assert [item["type"] for item in history.json()["items"]] == ["CaseOpened"]


async def test_a_handoff_without_consent_is_409_consent_missing(http, token):
    case_id = await open_case(http, token)
    response = await run(http, token(), case_id, "request_handoff", {"partner": "kela"})
    assert response.status_code == 409
    assert response.json()["code"] == "consent_missing"


@pytest.mark.parametrize(
    ("name", "body", "fields"),
    [
        ("record_self_assessment", {"overall": 11, "mental_wellbeing": -1, "skills": 3},
         {"overall", "mental_wellbeing", "social_participation", "physical_functioning",
          "everyday_coping"}),
        ("record_sickness_allowance", {"days_used": 301}, {"days_used"}),
        ("record_diagnosis", {"icd_chapter": "Ö", "b_statement_on": "yesterday"},
         {"icd_chapter", "b_statement_on"}),
        ("add_note", {"text": "x", "colour": "red"}, {"colour"}),
        ("add_note", {"text": "x", "effective_at": "2999-01-01T00:00:00+02:00"}, {"effective_at"}),
        ("propose_match", {"employer_id": "00000000-0000-0000-0000-000000000001",
                           "sector": "mining"}, {"sector"}),
    ],
)  # fmt: skip
async def test_a_body_failing_validation_is_422_naming_every_failing_field(
    http, token, name, body, fields
):
    case_id = await open_case(http, token)
    response = await run(http, token(), case_id, name, body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert {e["field"] for e in problem["errors"]} == fields


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"area": "tampere"}, "area"),
        ({"team": "itainen-sote"}, "team"),
        ({"identity_code": "131052-308X"}, "identity_code"),
    ],
)
async def test_opening_with_bad_vocabulary_or_identity_code_is_422(http, token, body, field):
    response = await http.post("/api/cases", json=opening(**body), headers=token())
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_malformed_body_is_400(http, token):
    case_id = await open_case(http, token)
    response = await http.post(
        f"/api/cases/{case_id}/commands/add_note", content=b"{not json", headers=token()
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"


async def test_a_body_over_one_mebibyte_is_413(http, token):
    case_id = await open_case(http, token)
    huge = b'{"text": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await http.post(
        f"/api/cases/{case_id}/commands/add_note", content=huge, headers=token()
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_an_unknown_case_is_404(http, token):
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await http.get(f"/api/cases/{missing}", headers=token())).status_code == 404
    response = await run(http, token(), missing, "add_note", {"text": "x"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_no_token_is_401_and_a_bad_token_is_401(http, token):
    assert (await http.post("/api/cases", json=opening())).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    response = await http.post("/api/cases", json=opening(), headers=bad)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_a_case_as_it_stood_at_a_version(http, token):
    case_id = await open_case(http, token)
    await run(http, token(), case_id, "record_screening", {"answers": {"q": "a"}, "concern": True})
    then = await http.get(f"/api/cases/{case_id}?version=1", headers=token())
    now = await http.get(f"/api/cases/{case_id}", headers=token())
    assert (then.json()["stage"], now.json()["stage"]) == ("opened", "screened")


async def test_health_data_is_withheld_from_staff_of_another_area_and_reads_are_recorded(
    http, token, database
):
    from tests.store.test_event_store import sql

    case_id = await open_case(http, token)
    body = {"icd_chapter": "F", "b_statement_on": date(2026, 9, 1).isoformat()}
    await run(http, token(), case_id, "record_diagnosis", body)
    other_area = await http.get(f"/api/cases/{case_id}", headers=token(area="itainen"))
    assert other_area.json()["group"] == {"withheld": "not_permitted"}
    history = await http.get(f"/api/cases/{case_id}/history", headers=token(area="itainen"))
    assert history.json()["items"][1]["data"]["icd_chapter"] == {"withheld": "not_permitted"}

    own = await http.get(f"/api/cases/{case_id}/history", headers=token(sub="own-staff"))
    assert own.json()["items"][1]["data"]["icd_chapter"] == "F"
    reads = sql(database, "SELECT actor_id, route FROM access_log WHERE case_id = %s", case_id)
    assert ("own-staff", "getHistory") in reads
    assert not [r for r in reads if r[0] == "staff-1" and r[1] == "getHistory"]


async def test_the_api_docs_work_offline(http):
    page = await http.get("/schema/swagger")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "http://" not in page.text
    asset = await http.get("/schema/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    spec = await http.get("/schema/openapi.json")
    assert "/api/cases/{case_id}/commands/record_screening" in spec.json()["paths"]
