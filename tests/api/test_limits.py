"""Limits at the edge, over HTTP: each request of issue 9 that was accepted or answered 500."""

from __future__ import annotations

import base64
import re

import pytest

from casework.api.auth import Claims
from tests.api.test_cases_api import PROBLEM, open_case, opening, run

EMPLOYER = "00000000-0000-4000-8000-000000000001"


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


def failing_fields(response) -> set[str]:
    return {error["field"] for error in problem_of(response, 422)["errors"]}


async def test_an_assignee_of_650000_characters_is_refused_and_nothing_is_stored(
    http, token, store_rows
):
    before = store_rows()
    response = await http.post("/api/cases", json=opening(assignee="a" * 650_000), headers=token())
    assert failing_fields(response) == {"assignee"}
    assert store_rows() == before


async def test_screening_answers_of_700_kb_are_refused_and_nothing_is_stored(
    http, token, store_rows
):
    case_id = await open_case(http, token)
    before = store_rows()
    answers = {f"q{n}": "x" * 12_000 for n in range(60)}
    response = await run(http, token(), case_id, "record_screening", {"answers": answers,
                                                                      "concern": True})  # fmt: skip
    assert all(field.startswith("answers") for field in failing_fields(response))
    assert store_rows() == before


async def test_a_nul_in_an_assignee_is_refused_naming_it(http, token, store_rows):
    before = store_rows()
    response = await http.post("/api/cases", json=opening(assignee="an\x00na"), headers=token())
    assert failing_fields(response) == {"assignee"}
    assert store_rows() == before


CONTROL, CALENDAR, OFFSET = "control characters", "calendar", "offset"


@pytest.mark.parametrize(
    ("name", "body", "field", "message"),
    [
        ("make_job_referral", {"employer_id": EMPLOYER, "vacancy_id": "v-1\x00"}, "vacancy_id",
         CONTROL),
        ("reassign", {"assignee": "anna", "team": "helsinki-it\x1b"}, "team", CONTROL),
        ("record_screening", {"answers": {"q1": "yes\x00"}, "concern": True}, "answers.q1",
         CONTROL),
        ("record_screening", {"answers": {"q\x001": "yes"}, "concern": True}, "answers", CONTROL),
        ("request_handoff", {"partner": "kela", "consent": {
            "given_on": "2026-11-01", "partners": ["ke\x00la"]}}, "consent.partners[0]", CONTROL),
        ("add_note", {"text": "rang\x07twice"}, "text", CONTROL),
        ("close_case", {"outcome": "other", "reason": "moved\x85away"}, "reason", CONTROL),
        ("record_diagnosis", {"icd_chapter": "M", "b_statement_on": "1989-12-31"},
         "b_statement_on", CALENDAR),
        ("start_employment", {"starts_on": "2101-01-01"}, "starts_on", CALENDAR),
        ("request_handoff", {"partner": "kela", "consent": {
            "given_on": "1900-01-01", "partners": ["kela"]}}, "consent.given_on", CALENDAR),
        ("add_note", {"text": "x", "effective_at": "0001-01-01T00:00:00+00:00"}, "effective_at",
         CALENDAR),
        # Already 2101 in Helsinki, whose calendar counts the deadlines.
        ("add_note", {"text": "x", "effective_at": "2100-12-31T23:30:00+00:00"}, "effective_at",
         CALENDAR),
        ("add_note", {"text": "x", "effective_at": "2026-11-01T09:00:00"}, "effective_at", OFFSET),
    ],
)  # fmt: skip
async def test_a_control_character_or_a_date_beyond_the_calendar_is_refused_naming_the_field(
    http, token, store_rows, name, body, field, message
):
    case_id = await open_case(http, token)
    before = store_rows()
    response = await run(http, token(), case_id, name, body)
    assert failing_fields(response) == {field}
    assert message in response.json()["errors"][0]["message"]
    assert store_rows() == before


async def test_free_text_keeps_its_line_breaks_and_tabs(http, token):
    case_id = await open_case(http, token)
    text = "called twice:\r\n\tno answer\nwill write"
    assert (await run(http, token(), case_id, "add_note", {"text": text})).status_code == 200
    history = await http.get(f"/api/cases/{case_id}/history", headers=token())
    assert history.json()["items"][-1]["data"]["text"] == text


async def test_an_opening_back_dated_to_1989_is_refused_and_starts_no_journey(
    http, token, store_rows
):
    before = store_rows()
    body = opening(effective_at="1989-06-01T09:00:00+03:00")
    response = await http.post("/api/cases", json=body, headers=token())
    assert failing_fields(response) == {"effective_at"}
    assert "1990-01-01" in response.json()["detail"]
    assert store_rows() == before


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    ["abc", "!!!!", _cursor(b"not json"), _cursor(b'["x", "y"]'), _cursor(b"[1, 2]"),
     _cursor(b'["2026-01-01T00:00:00+00:00", "not-a-uuid"]'),
     _cursor(b'["2026-01-01T00:00:00", "00000000-0000-4000-8000-000000000000"]')],
)  # fmt: skip
async def test_an_undecodable_cursor_is_a_400(http, token, cursor):
    response = await http.get("/api/cases", params={"cursor": cursor}, headers=token())
    assert problem_of(response, 400)["code"] == "malformed"


@pytest.mark.parametrize(
    ("path", "param", "role"),
    [("/api/cases", name, "staff") for name in ("q", "area", "team", "stage", "tag", "cursor")]
    + [("/api/queues/stalled", name, "staff") for name in ("area", "team", "step", "partner")]
    + [("/api/employers", "sector", "staff"), ("/api/employers", "area", "staff"),
       ("/api/indicators", "area", "coordinator"), ("/api/indicators", "from", "coordinator"),
       ("/health", "anything", "staff")],
)  # fmt: skip
async def test_a_nul_in_any_query_parameter_is_a_422_naming_it(http, token, path, param, role):
    response = await http.get(path, params={param: "hel\x00sinki"}, headers=token(role, "*"))
    assert failing_fields(response) == {param}


async def test_a_nul_in_a_partner_inbox_path_is_a_422_naming_it(http, token):
    response = await http.get("/api/partners/ke%00la/tasks", headers=token("coordinator", "*"))
    assert failing_fields(response) == {"partner"}


async def test_a_command_name_longer_than_any_name_is_a_422_naming_it(http, token):
    case_id = await open_case(http, token)
    response = await run(http, token(), case_id, "x" * 65, {"text": "x"})
    assert failing_fields(response) == {"name"}


@pytest.mark.parametrize(
    ("path", "param"),
    [("/api/cases", "area"), ("/api/cases", "q"), ("/api/queues/stalled", "step"),
     ("/api/employers", "sector"), ("/api/indicators", "to")],
)  # fmt: skip
async def test_a_filter_longer_than_its_maximum_is_a_422_naming_it(http, token, path, param):
    response = await http.get(path, params={param: "x" * 501}, headers=token("coordinator", "*"))
    assert failing_fields(response) == {param}


@pytest.mark.parametrize(
    "body",
    [b'{"area": ' + b"[" * 1000 + b"]" * 1000 + b"}", b"[" * 1000 + b"]" * 1000,
     b'{"identity_code": {"a": ' * 40 + b"1" + b"}" * 40 + b"}"],
)  # fmt: skip
async def test_a_body_nested_deeper_than_32_levels_is_a_400_saying_so(http, token, body):
    response = await http.post("/api/cases", content=body, headers=token())
    assert "nests deeper than 32" in problem_of(response, 400)["detail"]


async def test_a_body_nested_within_the_bound_is_judged_by_its_fields(http, token):
    body = opening(assignee=[[["anna"]]])
    response = await http.post("/api/cases", json=body, headers=token())
    assert failing_fields(response) == {"assignee"}


async def test_a_request_id_that_is_not_utf8_is_replaced_by_a_fresh_one(http):
    response = await http.get("/health", headers={"X-Request-ID": b"\xff\xfe-id"})
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    kept = await http.get("/health", headers={"X-Request-ID": "req-42"})
    assert kept.headers["x-request-id"] == "req-42"


async def test_a_control_character_in_the_idempotency_key_is_a_422_naming_it(
    http, token, store_rows
):
    before = store_rows()
    headers = token() | {"Idempotency-Key": "first\ttry"}
    response = await http.post("/api/cases", json=opening(), headers=headers)
    assert failing_fields(response) == {"Idempotency-Key"}
    assert store_rows() == before


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("2026-11-01T09:00:00", "offset"), ("0001-01-01T00:00:00+00:00", "calendar"),
     ("9999-12-31T00:00:00+00:00", "calendar")],
)  # fmt: skip
async def test_an_as_of_without_offset_or_outside_the_calendar_is_a_422_naming_it(
    http, token, as_of, message
):
    case_id = await open_case(http, token)
    response = await http.get(f"/api/cases/{case_id}", params={"as_of": as_of}, headers=token())
    assert failing_fields(response) == {"as_of"}
    assert message in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "0001-01"}, "from"), ({"to": "9999-12"}, "to"), ({"to": "0001-01"}, "to"),
     ({"from": "0000-01"}, "from"),
     ({"from": "1989-12", "to": "1990-02"}, "from")],
)  # fmt: skip
async def test_indicator_months_outside_the_calendar_are_a_422_naming_them(
    http, token, params, field
):
    response = await http.get("/api/indicators", params=params, headers=token("coordinator", "*"))
    assert failing_fields(response) == {field}


async def test_indicators_up_to_the_calendars_third_month_start_at_its_first(http, token):
    response = await http.get(
        "/api/indicators", params={"to": "1990-03"}, headers=token("coordinator", "*")
    )
    assert response.status_code == 200, response.text
    assert response.json()["months"] == ["1990-01", "1990-02", "1990-03"]


async def test_a_version_beyond_the_last_is_404(http, token):
    case_id = await open_case(http, token)
    assert (await http.get(f"/api/cases/{case_id}?version=1", headers=token())).status_code == 200
    beyond = await http.get(f"/api/cases/{case_id}?version=99999", headers=token())
    assert problem_of(beyond, 404)["code"] == "not_found"
    assert "version 99999" in beyond.json()["detail"]


async def test_a_version_beyond_any_case_is_a_422_naming_it(http, token):
    case_id = await open_case(http, token)
    response = await http.get(f"/api/cases/{case_id}?version={10**12}", headers=token())
    assert failing_fields(response) == {"version"}


@pytest.mark.parametrize("sub", ["anna\x00", "a" * 201])
async def test_a_token_naming_an_actor_beyond_the_limits_is_401(http, auth, sub):
    # Else the actor would reach Temporal, whose decoding refuses it: a workflow task failing.
    minted = auth.mint(Claims(sub=sub, role="staff", area="helsinki"))
    response = await http.get("/api/cases", headers={"Authorization": f"Bearer {minted}"})
    assert problem_of(response, 401)["code"] == "not_authenticated"


@pytest.mark.parametrize("etag", ['"-1"', '"0"', '"1000000000000000000000000"', '"three"', '"1e3"'])
async def test_an_if_match_that_is_no_version_is_a_422_naming_it(http, token, etag, store_rows):
    case_id = await open_case(http, token)
    before = store_rows()
    response = await run(http, token(), case_id, "add_note", {"text": "x"}, **{"If-Match": etag})
    assert failing_fields(response) == {"If-Match"}
    assert store_rows() == before
