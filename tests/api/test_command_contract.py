"""The command contract over HTTP: answers name what a command created, a refusal reads the same
whichever path raised it, and every failing field of an opening is named at once."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from temporalio.service import RPCError

from casework.domain import commands as c
from casework.domain.errors import CaseworkError
from casework.problems import problem_of
from tests.api.test_cases_api import PROBLEM, open_case, opening, run
from tests.workflows.helpers import new_code
from workflows.client import case_id_for
from workflows.messages import Caller, journey_id

SCREENED = [
    ("record_screening", {"answers": {"q1": "selkä"}, "concern": True}),
    ("add_tasmatyo_tag", {"basis": "screening"}),
]
CONSENT = {"given_on": "2026-11-01", "partners": ["keva", "kela"]}


async def screened_case(http, token) -> str:
    case_id = await open_case(http, token)
    for name, body in SCREENED:
        assert (await run(http, token(), case_id, name, body)).status_code == 200
    return case_id


async def test_a_command_names_the_items_it_created_by_kind(http, token):
    case_id = await screened_case(http, token)
    staff = token()
    coaching = await run(http, staff, case_id, "refer_to_coaching", {})
    assert coaching.json() == {
        "id": case_id, "version": 4, "events": ["CoachingReferred"],
        "created": {"coaching": "coaching-4"},
    }  # fmt: skip
    subsidy = await run(http, staff, case_id, "apply_for_subsidy", {"kind": "pay_subsidy"})
    assert subsidy.json()["created"] == {"subsidy": "subsidy-5"}
    handoff = await run(
        http, staff, case_id, "request_handoff", {"partner": "keva", "consent": CONSENT}
    )
    assert handoff.json()["created"] == {"handoff": "handoff-6"}
    note = await run(http, staff, case_id, "add_note", {"text": "soitettu"})
    assert note.json()["created"] == {}


async def test_a_redirected_handoff_names_the_new_handoff(http, token):
    case_id = await screened_case(http, token)
    body = {"partner": "keva", "consent": CONSENT}
    requested = (await run(http, token(), case_id, "request_handoff", body)).json()
    keva, handoff = token("partner", "*", partner="keva"), requested["created"]["handoff"]
    await run(http, keva, case_id, "acknowledge_handoff", {"handoff_id": handoff})
    redirect = {"handoff_id": handoff, "to_partner": "kela", "reason": "Kelan asiakas"}
    redirected = await run(http, keva, case_id, "redirect_handoff", redirect)
    assert redirected.status_code == 200, redirected.text
    version = redirected.json()["version"]
    assert redirected.json()["created"] == {"handoff": f"handoff-{version}"}


async def test_a_replayed_command_names_the_same_created_items(http, token):
    case_id = await screened_case(http, token)
    key = {"Idempotency-Key": "coach-once"}
    first = await run(http, token(), case_id, "refer_to_coaching", {}, **key)
    again = await run(http, token(), case_id, "refer_to_coaching", {}, **key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.json()["created"] == {"coaching": "coaching-4"}


async def refused_by_the_aggregate(app, case_id: str, command: c.Command) -> dict:
    """The problem the aggregate's own refusal maps to, run on the application directly."""
    ctx = app.context(c.Actor("staff-1", "staff", "helsinki", team="helsinki-it"))
    with pytest.raises(CaseworkError) as refused:
        app.execute(uuid.UUID(case_id), command, ctx)
    return msgspec.to_builtins(problem_of(refused.value))


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("start_coaching", {"coaching_id": "coaching-9"}),  # an illegal step
        ("request_handoff", {"partner": "keva"}),  # no consent
        ("add_note", {"text": "x", "effective_at": "1991-01-01T09:00:00+02:00"}),  # before opening
    ],
)
async def test_a_refusal_reads_the_same_from_the_journeys_validator_and_from_the_aggregate(
    http, token, app, name, body
):
    case_id = await open_case(http, token)
    over_http = await run(http, token(), case_id, name, body)
    assert over_http.headers["content-type"].startswith(PROBLEM)
    command = msgspec.json.decode(msgspec.json.encode(body), type=c.CASE_COMMANDS[name])
    assert over_http.json() == await refused_by_the_aggregate(app, case_id, command)


async def test_a_stale_if_match_refused_by_the_write_has_the_current_version(http, token, app):
    case_id = await open_case(http, token)
    await run(http, token(), case_id, "add_note", {"text": "a"})
    stale = await run(http, token(), case_id, "add_note", {"text": "b"}, **{"If-Match": '"1"'})
    problem = stale.json()
    assert (stale.status_code, problem["code"], problem["current_version"]) == (
        409, "stale_version", 2,
    )  # fmt: skip
    assert problem["events_since"] == [{"version": 2, "type": "NoteAdded"}]


async def test_opening_with_every_field_wrong_names_every_field_and_starts_no_journey(
    http, token, store_rows, client
):
    before = store_rows()
    body = opening(identity_code="131052-308X", area="tampere", team="tampere-it")
    key = {"Idempotency-Key": "all-wrong"}
    response = await http.post("/api/cases", json=body, headers=token() | key)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["identity_code", "area", "team"]
    assert store_rows() == before
    caller = Caller(c.Actor("staff-1", "staff", "helsinki"), correlation_id="")
    with pytest.raises(RPCError):
        await client.get_workflow_handle(journey_id(case_id_for(caller, "all-wrong"))).describe()


async def test_opening_a_second_case_for_a_client_names_the_open_one(http, token):
    code = new_code()
    first = await http.post("/api/cases", json=opening(identity_code=code), headers=token())
    second = await http.post("/api/cases", json=opening(identity_code=code), headers=token())
    assert second.status_code == 409
    assert second.json()["code"] == "open_case_exists"
    assert second.json()["existing_case_id"] == first.json()["id"]


async def test_an_unknown_command_is_a_404_that_names_it(http, token):
    case_id = await open_case(http, token)
    response = await run(http, token(), case_id, "fly_to_the_moon", {})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["detail"] == "there is no command 'fly_to_the_moon'"


async def test_a_body_may_name_its_own_command_but_not_another(http, token):
    case_id = await open_case(http, token)
    named = await run(http, token(), case_id, "add_note", {"command": "add_note", "text": "x"})
    assert named.status_code == 200, named.text
    other = await run(http, token(), case_id, "add_note", {"command": "close_case", "text": "x"})
    assert other.status_code == 422
    assert [e["field"] for e in other.json()["errors"]] == ["command"]
