"""The partners' API over HTTP: the inbox, one task with the values its consent covers, the
partner's moves, and what overseers see — against the real app, worker, Temporal and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.workflows.helpers import eventually, new_code

pytest_plugins = ["tests.api.conftest"]

VALUES = [
    ("record_diagnosis", {"icd_chapter": "F", "b_statement_on": "2026-09-14"}),
    ("record_sickness_allowance", {"days_used": 212}),
    ("record_work_history", {"years": 7, "last_insured": "public"}),
    ("record_self_assessment", {
        "overall": 4, "mental_wellbeing": 3, "social_participation": 5,
        "physical_functioning": 6, "skills": 7, "everyday_coping": 5,
    }),
]  # fmt: skip
EVERY_SHARE = [
    "icd_chapter", "b_statement", "sickness_allowance", "work_history", "self_assessment",
    "identity_code",
]  # fmt: skip


class Handoff:
    def __init__(self, case_id: str, handoff_id: str, code: str, task: str) -> None:
        self.case_id, self.handoff_id, self.code, self.task = case_id, handoff_id, code, task


async def command(http, headers, case_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"/api/cases/{case_id}/commands/{name}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def hand_over(
    http, token, app, partner: str = "keva", shares: list[str] | None = None,
    consented: list[str] | None = None, expires_on: date | None = None, values: bool = True,
) -> Handoff:  # fmt: skip
    """A case of helsinki-it with health data recorded, handed over to `partner`."""
    staff, code = token(), new_code()
    opened = await http.post(
        "/api/cases", json={"identity_code": code, "area": "helsinki", "team": "helsinki-it"},
        headers=staff,
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    for name, body in VALUES if values else []:
        await command(http, staff, case_id, name, body)
    shares = EVERY_SHARE if shares is None else shares
    consent: dict[str, Any] = {
        "given_on": "2026-11-01", "partners": consented or [partner], "shares": shares
    }  # fmt: skip
    if expires_on is not None:
        consent["expires_on"] = expires_on.isoformat()
    answer = await command(http, staff, case_id, "request_handoff", {
        "partner": partner, "summary": "työkyvyn arvio", "consent": consent, "shares": shares,
    })  # fmt: skip
    handoff_id = f"handoff-{answer['version'] - len(answer['events']) + 1}"
    return Handoff(case_id, handoff_id, code, app.tasks.id_of(case_id, handoff_id))


def task_path(partner: str, handoff: Handoff, action: str = "") -> str:
    return f"/api/partners/{partner}/tasks/{handoff.task}" + (f"/{action}" if action else "")


async def inbox(http, headers, partner: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of the partner's inbox, followed through its cursors."""
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(f"/api/partners/{partner}/tasks", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= params.get("limit", 50)
        items += page["items"]
        if not (cursor := page["next"]):
            return items


async def listed(http, headers, partner: str, handoff: Handoff, **params: Any) -> Any:
    items = await inbox(http, headers, partner, limit=500, **params)
    return next((i for i in items if i["task"] == handoff.task), None)


def access_rows(database, case_id: str) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        return conn.execute(
            "SELECT actor_role, what, route, reason FROM access_log WHERE case_id = %s ORDER BY id",
            (case_id,),
        ).fetchall()


def register_reads(database, actor_id: str) -> int:
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM register_reads WHERE actor_id = %s AND purpose = 'partner_task'",
            (actor_id,),
        ).fetchone()[0]


async def test_a_partner_moves_its_task_from_acknowledgement_to_completion_over_its_routes(
    http, token, app
):
    keva, staff = token("partner", "*", partner="keva", sub="keva-1"), token()
    handoff = await hand_over(http, token, app)
    moves = [
        ("acknowledge", {}, ["HandoffAcknowledged"]),
        ("request-info", {"question": "Onko B-lausunto voimassa?"}, ["HandoffInfoRequested"]),
    ]
    for action, body, events in moves:
        response = await http.post(task_path("keva", handoff, action), json=body, headers=keva)
        assert response.status_code == 200, response.text
        assert response.json()["events"] == events
        assert response.json()["id"] == handoff.task  # the partner knows the task, not the case
    waiting = await eventually(lambda: listed(http, keva, "keva", handoff, state="waiting"))
    assert waiting["deadline"]["step"] == "handoff_info"
    assert waiting["deadline"]["waiting_on"] == "staff"

    answer = {"handoff_id": handoff.handoff_id, "answer": "on, annettu 14.9.2026"}
    await command(http, staff, handoff.case_id, "supply_handoff_info", answer)
    answered = await eventually(lambda: listed(http, keva, "keva", handoff, state="answered"))
    assert answered["deadline"]["step"] == "handoff_decision"
    doc = (await http.get(task_path("keva", handoff), headers=keva)).json()
    assert [(said["kind"], said["text"]) for said in doc["conversation"]] == [
        ("question", "Onko B-lausunto voimassa?"),
        ("answer", "on, annettu 14.9.2026"),
    ]

    for action, body, events in [
        ("accept", {}, ["HandoffAccepted"]),
        ("complete", {"outcome": "rehabilitation_granted"}, ["HandoffCompleted"]),
    ]:
        response = await http.post(task_path("keva", handoff, action), json=body, headers=keva)
        assert response.json()["events"] == events, response.text
    closed = await eventually(lambda: listed(http, keva, "keva", handoff, state="closed"))
    assert (closed["status"], closed["deadline"]) == ("completed", None)
    assert await listed(http, keva, "keva", handoff) is None  # the work in hand excludes it
    history = (await http.get(task_path("keva", handoff), headers=keva)).json()["history"]
    assert [item["type"] for item in history] == [
        "HandoffRequested", "HandoffAcknowledged", "HandoffInfoRequested", "HandoffInfoSupplied",
        "HandoffAccepted", "HandoffCompleted",
    ]  # fmt: skip
    assert history[-1]["data"] == {"outcome": "rehabilitation_granted"}


async def test_a_partner_rejects_or_redirects_a_task_with_its_reason(http, token, app):
    kela = token("partner", "*", partner="kela")
    rejected = await hand_over(http, token, app, "kela", values=False)
    redirected = await hand_over(http, token, app, "kela", consented=["kela", "ilmarinen"])
    for handoff in (rejected, redirected):
        await http.post(task_path("kela", handoff, "acknowledge"), json={}, headers=kela)
    response = await http.post(
        task_path("kela", rejected, "reject"), json={"reason": "ei kuulu Kelalle"}, headers=kela
    )
    assert response.json()["events"] == ["HandoffRejected"], response.text
    response = await http.post(
        task_path("kela", redirected, "redirect"),
        json={"to_partner": "ilmarinen", "reason": "yksityinen työeläke"}, headers=kela,
    )  # fmt: skip
    assert response.json()["events"] == ["HandoffRedirected"], response.text

    ilmarinen = token("partner", "*", partner="ilmarinen")
    new_id = f"handoff-{response.json()['version']}"
    new_task = app.tasks.id_of(redirected.case_id, new_id)
    moved = Handoff(redirected.case_id, new_id, redirected.code, new_task)
    task = await eventually(lambda: listed(http, ilmarinen, "ilmarinen", moved, state="open"))
    assert task["deadline"]["step"] == "handoff_ack"
    doc = (await http.get(task_path("ilmarinen", moved), headers=ilmarinen)).json()
    assert doc["payload"]["summary"] == "työkyvyn arvio"  # the original request's payload
    assert doc["history"][0]["type"] == "HandoffRedirected"
    for handoff in (rejected, redirected):
        item = await eventually(lambda h=handoff: listed(http, kela, "kela", h, state="closed"))
        assert item["status"] in ("rejected", "redirected")


async def test_a_repeated_move_with_its_idempotency_key_is_replayed(http, token, app):
    ilmarinen = token("partner", "*", partner="ilmarinen")
    handoff = await hand_over(http, token, app, "ilmarinen")
    path = task_path("ilmarinen", handoff, "acknowledge")
    headers = ilmarinen | {"Idempotency-Key": "ack-once"}
    first = await http.post(path, json={}, headers=headers)
    again = await http.post(path, json={}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    events = [type(e).__name__ for e in app.events.get(handoff.case_id)]
    assert events.count("HandoffAcknowledged") == 1
    other = await http.post(path, json={"reason": "toinen"}, headers=headers)
    assert other.status_code == 422


async def test_a_move_on_a_stale_version_is_a_409_with_the_current_version(http, token, app):
    keva = token("partner", "*", partner="keva")
    handoff = await hand_over(http, token, app)
    read = await http.get(task_path("keva", handoff), headers=keva)
    etag = read.headers["etag"]
    await command(http, token(), handoff.case_id, "add_note", {"text": "soitettu"})
    stale = await http.post(
        task_path("keva", handoff, "acknowledge"), json={}, headers=keva | {"If-Match": etag}
    )
    assert stale.status_code == 409
    problem = stale.json()
    assert (problem["code"], problem["current_version"]) == ("stale_version", int(etag[1:-1]) + 1)
    assert "events_since" not in problem  # a partner does not learn what else the case holds
    fresh = await http.get(task_path("keva", handoff), headers=keva)
    current = {"If-Match": fresh.headers["etag"]}
    ok = await http.post(task_path("keva", handoff, "acknowledge"), json={}, headers=keva | current)
    assert ok.status_code == 200, ok.text


async def test_a_move_body_names_every_failing_field(http, token, app):
    keva = token("partner", "*", partner="keva")
    handoff = await hand_over(http, token, app, values=False)
    response = await http.post(
        task_path("keva", handoff, "redirect"), json={"to_partner": "", "x": 1}, headers=keva
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"x", "to_partner", "reason"}
    empty = await http.post(task_path("keva", handoff, "reject"), headers=keva)
    assert (empty.status_code, empty.json()["code"]) == (400, "malformed")


async def test_a_task_shows_exactly_the_values_its_consent_covers_and_the_read_is_recorded(
    http, token, app, database
):
    keva = token("partner", "*", partner="keva", sub="keva-reader")
    shared = await hand_over(http, token, app, shares=["icd_chapter", "identity_code"])
    doc = (await http.get(task_path("keva", shared), headers=keva)).json()
    assert doc["payload"] == {
        "summary": "työkyvyn arvio", "icd_chapter": "F", "identity_code": shared.code
    }  # fmt: skip
    assert doc["consent"]["shares"] == ["icd_chapter", "identity_code"]
    assert "case_id" not in doc
    assert access_rows(database, shared.case_id) == [
        ("partner", "partner_payload", "getPartnerTask", shared.handoff_id)
    ]
    assert register_reads(database, "keva-reader") == 1

    everything = await hand_over(http, token, app)
    payload = (await http.get(task_path("keva", everything), headers=keva)).json()["payload"]
    assert payload == {
        "summary": "työkyvyn arvio", "icd_chapter": "F", "b_statement": {"given_on": "2026-09-14"},
        "sickness_allowance": {"days_used": 212},
        "work_history": {"years": 7, "last_insured": "public"},
        "self_assessment": {
            "scores": VALUES[3][1], "recorded_at": payload["self_assessment"]["recorded_at"]
        },
        "identity_code": everything.code,
    }  # fmt: skip


async def test_a_withdrawn_consent_hides_the_values_and_says_why(http, token, app, database):
    keva = token("partner", "*", partner="keva")
    handoff = await hand_over(http, token, app, shares=["work_history", "identity_code"])
    await http.post(task_path("keva", handoff, "acknowledge"), json={}, headers=keva)
    await http.post(
        task_path("keva", handoff, "request-info"), json={"question": "Työnantaja?"}, headers=keva
    )
    answer = {"handoff_id": handoff.handoff_id, "answer": "kunta"}
    await command(http, token(), handoff.case_id, "supply_handoff_info", answer)
    withdrawal = {"handoff_id": handoff.handoff_id, "reason": "asiakas peruu suostumuksen"}
    answered = await command(http, token(), handoff.case_id, "withdraw_consent", withdrawal)
    assert answered["events"] == ["ConsentWithdrawn"]

    response = await http.get(task_path("keva", handoff), headers=keva)
    doc = response.json()
    assert doc["payload"]["withheld"] == "consent_withdrawn"
    assert doc["payload"]["detail"]
    assert doc["consent"]["withdrawn"] is True
    assert [said["text"] for said in doc["conversation"]] == [{"withheld": "consent_withdrawn"}] * 2
    assert handoff.code not in response.text
    assert "kunta" not in response.text
    assert access_rows(database, handoff.case_id) == []  # nothing protected was read
    assert doc["history"][-1]["type"] == "ConsentWithdrawn"
    again = await http.post(
        f"/api/cases/{handoff.case_id}/commands/withdraw_consent", json=withdrawal, headers=token()
    )
    assert again.status_code == 409


async def test_an_expired_consent_hides_the_values_from_the_day_after_it_ends(http, token, app):
    keva = token("partner", "*", partner="keva")
    today = date.today()
    ended = await hand_over(http, token, app, expires_on=today - timedelta(days=1))
    lasting = await hand_over(http, token, app, expires_on=today + timedelta(days=1))
    ended_doc = (await http.get(task_path("keva", ended), headers=keva)).json()
    assert ended_doc["payload"]["withheld"] == "consent_expired"
    assert (today - timedelta(days=1)).isoformat() in ended_doc["payload"]["detail"]
    lasting_doc = (await http.get(task_path("keva", lasting), headers=keva)).json()
    assert lasting_doc["payload"]["icd_chapter"] == "F"
    assert lasting_doc["consent"]["expires_on"] == (today + timedelta(days=1)).isoformat()


async def test_a_consent_cannot_end_before_it_was_given(http, token, app):
    case = await hand_over(http, token, app, values=False)
    body = {
        "partner": "kela", "consent": {
            "given_on": "2026-11-01", "expires_on": "2026-10-01", "partners": ["kela"]
        },
    }  # fmt: skip
    response = await http.post(
        f"/api/cases/{case.case_id}/commands/request_handoff", json=body, headers=token()
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["consent.expires_on"]


async def test_overseers_read_tasks_and_see_values_as_they_may_see_health_data(
    http, token, app, database
):
    handoff = await hand_over(http, token, app, shares=["icd_chapter"])
    coordinator = token("coordinator", "helsinki")
    doc = (await http.get(task_path("keva", handoff), headers=coordinator)).json()
    assert doc["payload"]["icd_chapter"] == "F"
    assert (doc["case_id"], doc["handoff_id"]) == (handoff.case_id, handoff.handoff_id)
    admin = token("admin", "*")
    withheld = (await http.get(task_path("keva", handoff), headers=admin)).json()["payload"]
    assert withheld["withheld"] == "not_permitted"
    other_area = token("coordinator", "lantinen")
    assert (await http.get(task_path("keva", handoff), headers=other_area)).json()["payload"][
        "withheld"
    ] == "not_permitted"
    assert [row[0] for row in access_rows(database, handoff.case_id)] == ["coordinator"]
    item = await eventually(lambda: listed(http, coordinator, "keva", handoff))
    assert item["case_id"] == handoff.case_id
    assert (await http.get(task_path("keva", handoff), headers=token())).status_code == 403


async def test_the_inbox_pages_past_its_limit_in_each_state(http, token, app):
    kela = token("partner", "*", partner="kela")
    mine = [await hand_over(http, token, app, "kela", values=False) for _ in range(5)]
    for handoff in mine[:2]:
        await http.post(task_path("kela", handoff, "acknowledge"), json={}, headers=kela)
        await http.post(task_path("kela", handoff, "reject"), json={"reason": "ei"}, headers=kela)
    tasks = {h.task for h in mine}

    async def caught_up() -> bool:
        closed = await inbox(http, kela, "kela", state="closed", limit=500)
        return {h.task for h in mine[:2]} <= {i["task"] for i in closed}

    await eventually(caught_up)
    in_hand = await inbox(http, kela, "kela", limit=2)
    assert [i["task"] for i in in_hand if i["task"] in tasks] == [h.task for h in mine[2:]]
    assert len({i["task"] for i in in_hand}) == len(in_hand), "no task twice across pages"
    assert all(i["state"] != "closed" for i in in_hand)
    since = [i["since"] for i in in_hand]
    assert since == sorted(since)
    closed = await inbox(http, kela, "kela", state="closed", limit=1)
    assert [i["task"] for i in closed if i["task"] in tasks] == [mine[1].task, mine[0].task]
    assert all(i["state"] == "closed" for i in closed)
    opened = await inbox(http, kela, "kela", state="open", limit=2)
    assert {h.task for h in mine[2:]} <= {i["task"] for i in opened}
    bad = await http.get("/api/partners/kela/tasks", params={"cursor": "bm9wZQ"}, headers=kela)
    assert bad.status_code == 400


async def test_an_unknown_or_forged_task_id_is_a_404(http, token, app):
    kela = token("partner", "*", partner="kela")
    handoff = await hand_over(http, token, app, "kela", values=False)
    forged = handoff.task[:-2] + ("AA" if not handoff.task.endswith("AA") else "BB")
    for task in (forged, "nope", "A" * 54):
        response = await http.get(f"/api/partners/kela/tasks/{task}", headers=kela)
        assert response.status_code == 404, task
    assert app.tasks.decode(handoff.task) == (UUID(handoff.case_id), handoff.handoff_id)


PARTNERS = ["kela", "keva", "ilmarinen"]


@st.composite
def handovers(draw: st.DrawFn) -> list[tuple[str, list[str], list[str]]]:
    """One case's handoffs: each to a partner (distinct), with the consent's partners and shares."""
    partners = draw(st.lists(st.sampled_from(PARTNERS), min_size=1, max_size=2, unique=True))
    return [
        (
            partner,
            sorted({partner, *draw(st.lists(st.sampled_from(PARTNERS), max_size=2))}),
            draw(st.lists(st.sampled_from(EVERY_SHARE), max_size=3, unique=True)),
        )
        for partner in partners
    ]


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=handovers(), values=st.booleans())
async def test_a_partner_never_sees_another_partners_task_nor_a_value_outside_the_consent(
    http, token, app, case, values
):
    headers = {p: token("partner", "*", partner=p, sub=f"{p}-prop") for p in PARTNERS}
    staff, code = token(), new_code()
    opened = await http.post(
        "/api/cases", json={"identity_code": code, "area": "helsinki", "team": "helsinki-it"},
        headers=staff,
    )  # fmt: skip
    case_id = opened.json()["id"]
    for name, body in VALUES if values else []:
        await command(http, staff, case_id, name, body)
    made: list[tuple[str, Handoff, list[str]]] = []
    for partner, consented, shares in case:
        consent = {"given_on": "2026-11-01", "partners": consented, "shares": shares}
        answer = await command(http, staff, case_id, "request_handoff", {
            "partner": partner, "consent": consent, "shares": shares, "summary": "s",
        })  # fmt: skip
        handoff_id = f"handoff-{answer['version'] - len(answer['events']) + 1}"
        task = app.tasks.id_of(case_id, handoff_id)
        made.append((partner, Handoff(case_id, handoff_id, code, task), shares))

    for partner, handoff, shares in made:
        response = await http.get(task_path(partner, handoff), headers=headers[partner])
        assert set(response.json()["payload"]) == {"summary", *shares}
        assert (code in response.text) == ("identity_code" in shares)
        for other in PARTNERS:
            if other != partner:
                under_its_own = await http.get(task_path(other, handoff), headers=headers[other])
                under_the_owners = await http.get(
                    task_path(partner, handoff), headers=headers[other]
                )
                assert (under_its_own.status_code, under_the_owners.status_code) == (404, 404)
                assert code not in under_its_own.text + under_the_owners.text

    async def inboxes() -> dict[str, set[str]]:
        found = {}
        for p in PARTNERS:
            found[p] = {i["task"] for i in await inbox(http, headers[p], p, limit=500)}
        return found if all(h.task in found[p] for p, h, _ in made) else {}

    found = await eventually(inboxes)
    for partner, handoff, _ in made:
        assert [p for p in PARTNERS if handoff.task in found[p]] == [partner]


async def test_the_openapi_shows_each_moves_body_with_examples(http):
    schema = (await http.get("/schema/openapi.json")).json()
    moves = {
        "acknowledge": set(), "request-info": {"question"}, "accept": set(),
        "reject": {"reason"}, "redirect": {"to_partner", "reason"}, "complete": {"outcome"},
    }  # fmt: skip
    for action, required in moves.items():
        operation = schema["paths"][f"/api/partners/{{partner}}/tasks/{{task}}/{action}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        shape = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        assert set(shape["required"]) == required, action
        assert all(field["examples"] for field in shape["properties"].values()), action
