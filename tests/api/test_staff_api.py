"""Staff conveniences over HTTP: a client's cases found by identity code (exactly, and recorded),
and the reference data with its ETag."""

from __future__ import annotations

from datetime import date

import pytest

from casework.demo import sample_identity_code
from tests.api.test_cases_api import PROBLEM, open_case, run
from tests.store.test_event_store import sql
from tests.workflows.helpers import new_code


async def lookup(http, headers, **body):
    return await http.post("/api/cases/lookup", json=body, headers=headers)


async def test_a_lookup_finds_the_clients_cases_open_one_first_and_is_recorded(
    http, token, database
):
    code = new_code()
    first = await open_case(http, token, identity_code=code)
    closing = {"outcome": "other", "reason": "muutti pois"}
    assert (await run(http, token(), first, "close_case", closing)).status_code == 200
    second = await open_case(http, token, identity_code=code, team="helsinki-sote")

    response = await lookup(http, token(sub="sari"), identity_code=code, reason="asiakas soitti")
    assert response.status_code == 200, response.text
    found = response.json()
    assert [(c["id"], c["open"], c["team"]) for c in found["items"]] == [
        (second, True, "helsinki-sote"), (first, False, "helsinki-it"),
    ]  # fmt: skip
    assert found["next"] is None
    assert code not in response.text
    reads = sql(database, "SELECT purpose, reason FROM register_reads WHERE actor_id = %s", "sari")
    assert reads == [("lookupCase", "asiakas soitti")]


async def test_a_lookup_matches_the_code_exactly_in_its_standard_form(http, token):
    code, neighbour = (sample_identity_code(date(1961, 5, 5), n) for n in (931, 932))
    case_id = await open_case(http, token, identity_code=code)
    lowered = await lookup(http, token(), identity_code=f" {code.lower()} ")
    assert [c["id"] for c in lowered.json()["items"]] == [case_id]
    assert (await lookup(http, token(), identity_code=neighbour)).status_code == 404


async def test_an_unknown_code_is_a_404_saying_only_that(http, token, database):
    response = await lookup(http, token(sub="uuno"), identity_code=new_code())
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)
    assert response.json()["detail"] == "no case is held for this personal identity code"
    reads = sql(
        database, "SELECT client_id, purpose FROM register_reads WHERE actor_id = %s", "uuno"
    )
    assert reads == [(None, "lookupCase")]  # the attempt is recorded too


@pytest.mark.parametrize(
    ("body", "field"),
    [({"identity_code": "131052-308X"}, "identity_code"),
     ({"identity_code": "x" * 21}, "identity_code"), ({}, "identity_code"),
     ({"identity_code": "131052-308T", "reason": "a\x00"}, "reason"),
     ({"identity_code": "131052-308T", "q": "13%"}, "q")],
)  # fmt: skip
async def test_an_invalid_lookup_is_a_422_naming_the_field(http, token, body, field):
    response = await http.post("/api/cases/lookup", json=body, headers=token())
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert "131052" not in response.json()["detail"]


async def test_the_reference_data_names_every_vocabulary_a_client_offers(http, token):
    response = await http.get("/api/reference", headers=token("partner", "*", partner="kela"))
    assert response.status_code == 200, response.text
    ref = response.json()
    assert list(ref["areas"]) == ["helsinki", "lantinen", "keskinen", "itainen"]
    assert ref["teams"]["keskinen-it"] == {"area": "keskinen", "sector": "it"}
    assert set(ref["partners"]) == {"kela", "keva", "ilmarinen"}
    assert ref["steps"]["handoff_ack"]["waiting_on"] == "partner"
    assert ref["icd_chapters"]["F"] == "Mental and behavioural disorders"
    assert ref["vocabularies"]["stage"] == [
        "opened",
        "screened",
        "identified",
        "employed",
        "closed",
    ]
    assert ref["commands"]["close_case"]["outcome"] == [
        "employed", "municipal_pilot", "other", "pension", "rehabilitation",
    ]  # fmt: skip
    assert ref["commands"]["record_follow_up"] == {"month": [3, 6]}


async def test_the_reference_data_is_not_sent_again_to_a_client_that_holds_it(http, token):
    first = await http.get("/api/reference", headers=token())
    etag = first.headers["etag"]
    again = await http.get("/api/reference", headers=token() | {"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    weak = await http.get("/api/reference", headers=token() | {"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    stale = await http.get("/api/reference", headers=token() | {"If-None-Match": '"old"'})
    assert (stale.status_code, stale.json()) == (200, first.json())
