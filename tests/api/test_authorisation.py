"""The authorisation matrix, generated from the table in `casework.domain.permissions`: every API
operation × every kind of caller → the status the table says, and health fields shown exactly to
those it names. A route that is missing from the table or from `REQUESTS` fails here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from casework.api.asgi import create_app
from casework.api.auth import Authenticator, Claims
from casework.domain.commands import Actor
from casework.domain.permissions import (
    HEALTH_FIELDS,
    ROUTES,
    command_refusal,
    may_see_health,
    missing_reason,
    route_refusal,
)
from casework.partner_tasks import TaskIds
from tests.workflows.helpers import new_code
from tests.workflows.record_histories import MASTER_KEY

AREA, TEAM, ASSIGNEE = "helsinki", "helsinki-it", "anna"
CODE = new_code()
"""The identity code of the case every request is aimed at."""
WHY = {"reason": "laillisuusvalvonta 2026/14"}
HANDOFF_PARTNERS = ["kela"]
WITHHELD = {"withheld": "not_permitted"}

CALLERS: dict[str, dict[str, str] | None] = {
    "no token": None,
    "expired token": None,
    "forged token": None,
    "staff of the case's team": {"role": "staff", "area": AREA, "team": TEAM},
    "the case's assignee": {
        "role": "staff",
        "area": AREA,
        "team": "helsinki-sote",
        "sub": ASSIGNEE,
    },
    "staff of the area, another team": {"role": "staff", "area": AREA, "team": "helsinki-sote"},
    "staff of another area": {"role": "staff", "area": "lantinen", "team": "lantinen-sote"},
    "coordinator of the area": {"role": "coordinator", "area": AREA},
    "coordinator of another area": {"role": "coordinator", "area": "lantinen"},
    "coordinator of all areas": {"role": "coordinator", "area": "*"},
    "kela (the case's handoff)": {"role": "partner", "partner": "kela"},
    "keva": {"role": "partner", "partner": "keva"},
    "ilmarinen": {"role": "partner", "partner": "ilmarinen"},
    "auditor": {"role": "auditor", "area": "*"},
    "admin": {"role": "admin", "area": "*"},
}
UNAUTHENTICATED = ("no token", "expired token", "forged token")


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """One representative call of an operation, and what it answers when allowed."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    command: str | None = None
    """The case command it runs (the table's `COMMANDS` decides too)."""
    partner: str | None = None
    """The partner its path names."""
    allowed: tuple[int, ...] = (200,)
    """The statuses of an allowed call (a domain refusal after authorisation, if that is all a
    representative call can reach)."""
    stream: bool = False
    """An endless answer (server-sent events): only its status is read."""


def opening(code: str | None = None) -> dict[str, Any]:
    return {"identity_code": code or new_code(), "area": AREA, "team": TEAM, "assignee": ASSIGNEE}


def kela_task(case: str, action: str = "") -> str:
    """The path of the case's Kela handoff (its request is the case's fifth event)."""
    task = TaskIds.from_master_key(MASTER_KEY).id_of(case, "handoff-5")
    return f"/api/partners/kela/tasks/{task}" + (f"/{action}" if action else "")


def partner_action(action: str, body: dict[str, Any] | None = None) -> Callable[[str], Request]:
    # Kela's moves depend on which of them ran before: a refused step (409) is still allowed.
    return lambda case: Request(
        method="POST", path=kela_task(case, action), body=body or {}, partner="kela",
        allowed=(200, 409),
    )  # fmt: skip


WEBHOOK = {"url": "http://127.0.0.1:9/casework-hooks"}  # nothing listens: deliveries fail


REQUESTS: dict[str, Callable[[str], Request]] = {
    "health": lambda case: Request(method="GET", path="/health"),
    "ready": lambda case: Request(method="GET", path="/ready", allowed=(200, 503)),
    "metrics": lambda case: Request(method="GET", path="/metrics"),
    "openCase": lambda case: Request(
        method="POST", path="/api/cases", body=opening(), command="open_case", allowed=(201,)
    ),
    "listCases": lambda case: Request(method="GET", path="/api/cases"),
    "lookupCase": lambda case: Request(
        method="POST", path="/api/cases/lookup", body={"identity_code": CODE} | WHY
    ),
    # With a reason, which auditors and coordinators of another area must give (tested below).
    "getCase": lambda case: Request(method="GET", path=f"/api/cases/{case}?reason=valvonta"),
    "getHistory": lambda case: Request(
        method="GET", path=f"/api/cases/{case}/history?reason=valvonta"
    ),
    "runCommand": lambda case: Request(
        method="POST",
        path=f"/api/cases/{case}/commands/add_note",
        body={"text": "soitettu asiakkaalle"},
        command="add_note",
    ),
    "stalledQueue": lambda case: Request(method="GET", path="/api/queues/stalled"),
    "indicators": lambda case: Request(method="GET", path="/api/indicators"),
    "employersForMatching": lambda case: Request(method="GET", path="/api/employers"),
    "stallPolicy": lambda case: Request(method="GET", path="/api/coordination/policy"),
    "migratePolicy": lambda case: Request(
        method="POST", path="/api/coordination/policy/migrate", body={"from_version": "none-such"}
    ),
    "partnerTasks": lambda case: Request(
        method="GET", path="/api/partners/kela/tasks", partner="kela"
    ),
    "getPartnerTask": lambda case: Request(method="GET", path=kela_task(case), partner="kela"),
    "acknowledgeTask": partner_action("acknowledge"),
    "requestTaskInfo": partner_action("request-info", {"question": "B-lausunto?"}),
    "acceptTask": partner_action("accept"),
    "rejectTask": partner_action("reject", {"reason": "ei edellytyksiä"}),
    "redirectTask": partner_action("redirect", {"to_partner": "keva", "reason": "julkinen"}),
    "completeTask": partner_action("complete", {"outcome": "advice_given"}),
    "registerWebhook": lambda case: Request(
        method="PUT", path="/api/partners/kela/webhook", body=WEBHOOK, partner="kela"
    ),
    "getWebhook": lambda case: Request(
        method="GET", path="/api/partners/kela/webhook", partner="kela", allowed=(200, 404)
    ),
    "removeWebhook": lambda case: Request(
        method="DELETE", path="/api/partners/kela/webhook", partner="kela", allowed=(204, 404)
    ),
    "verifyCase": lambda case: Request(method="GET", path=f"/api/audit/cases/{case}/verify"),
    "exportCase": lambda case: Request(
        method="GET", path=f"/api/audit/cases/{case}/export?reason=valvonta"
    ),
    "accessReport": lambda case: Request(method="GET", path=f"/api/audit/access?case={case}"),
    "getReference": lambda case: Request(method="GET", path="/api/reference"),
    "acknowledgeIntegrityBreak": lambda case: Request(
        method="POST",
        path=f"/api/admin/cases/{case}/integrity/acknowledge",
        body={"reason": "tarkistettu"},
        allowed=(409,),  # the case's history verifies: nothing to acknowledge
    ),
    # Live updates (server-sent events)
    "caseStream": lambda case: Request(
        method="GET", path=f"/api/cases/{case}/stream?reason=valvonta", stream=True
    ),
    "stalledQueueStream": lambda case: Request(
        method="GET", path="/api/queues/stalled/stream", stream=True
    ),
    "partnerTasksStream": lambda case: Request(
        method="GET", path="/api/partners/kela/tasks/stream", partner="kela", stream=True
    ),
}


def actor(caller: str) -> Actor:
    claims = CALLERS[caller]
    assert claims is not None
    c = dict(claims)
    return Actor(
        c.get("sub", caller), c["role"], c.get("area", "*"), c.get("partner"), c.get("team")
    )


def expected(operation: str, request: Request, caller: str) -> tuple[int, ...]:
    route = ROUTES[operation]
    if route.public:
        return request.allowed
    if caller in UNAUTHENTICATED:
        return (401,)
    who = actor(caller)
    refusal = route_refusal(route, who, request.partner)
    if refusal is None and request.command is not None:
        partners = None if request.command == "open_case" else HANDOFF_PARTNERS
        refusal = command_refusal(who, request.command, AREA, partners)
    return (refusal.status,) if refusal else request.allowed


def operations(services: Any) -> dict[str, str]:
    """Every operation the app serves under /api and beside it, by the table's key."""
    found = {}
    for route in create_app(services).routes:
        for handler in getattr(route, "route_handlers", []):
            if not handler.include_in_schema or route.path.startswith("/schema"):
                continue  # the API's own docs
            key = handler.opt.get("permission") or str(handler.operation_id)
            found[key] = route.path
    return found


def test_every_operation_is_in_the_table_and_has_a_representative_request(services):
    served = operations(services)
    assert sorted(set(served) - set(ROUTES)) == [], "routes the authorisation table lacks"
    assert sorted(set(served) - set(REQUESTS)) == [], "routes this matrix does not call"
    assert sorted(set(ROUTES) - set(served)) == [], "table entries for routes that do not exist"


@pytest.fixture(scope="module")
def headers(auth) -> dict[str, dict[str, str]]:
    forger = Authenticator("another-secret-" + "y" * 32, "casework", "casework")
    out = {"no token": {}}
    expired = auth.mint(Claims(sub="x", role="coordinator", area="*"), lifetime=-60)
    out["expired token"] = {"Authorization": f"Bearer {expired}"}
    forged = forger.mint(Claims(sub="x", role="coordinator", area="*"))
    out["forged token"] = {"Authorization": f"Bearer {forged}"}
    for name, claims in CALLERS.items():
        if claims is not None:
            who = actor(name)
            minted = auth.mint(
                Claims(sub=who.id, role=who.role, area=who.area, team=who.team, partner=who.partner)
            )
            out[name] = {"Authorization": f"Bearer {minted}"}
    return out


@pytest.fixture(scope="module")
async def case_id(http, token) -> str:
    """A case of the helsinki-it team, assigned to anna, with health data and a Kela handoff."""
    staff = token("staff", AREA, team=TEAM)
    opened = await http.post("/api/cases", json=opening(CODE), headers=staff)
    assert opened.status_code == 201, opened.text
    case = opened.json()["id"]
    for name, body in [
        ("record_screening", {"answers": {"q1": "nostaminen vaikeaa"}, "concern": True}),
        ("record_diagnosis", {"icd_chapter": "M", "b_statement_on": "2026-10-01"}),
        ("add_tasmatyo_tag", {"basis": "b_statement"}),
        ("request_handoff", {
            "partner": "kela", "summary": "työkyvyn arviointi",
            "consent": {"given_on": "2026-11-01", "partners": ["kela"]},
        }),
    ]:  # fmt: skip
        response = await http.post(f"/api/cases/{case}/commands/{name}", json=body, headers=staff)
        assert response.status_code == 200, response.text
    return case


@pytest.mark.parametrize("operation", sorted(REQUESTS))
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_caller_gets_what_the_table_says(http, headers, case_id, operation, caller):
    request = REQUESTS[operation](case_id)
    sent = http.stream(request.method, request.path, json=request.body, headers=headers[caller])
    async with sent as response:
        if not request.stream or response.status_code != 200:
            await response.aread()
    assert response.status_code in expected(operation, request, caller), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "caller", [name for name in CALLERS if name not in UNAUTHENTICATED and "partner" not in name]
)
async def test_health_fields_are_shown_exactly_to_those_the_table_names(
    http, headers, case_id, caller
):
    response = await http.get(f"/api/cases/{case_id}", params=WHY, headers=headers[caller])
    if response.status_code != 200:
        assert expected("getCase", REQUESTS["getCase"](case_id), caller) == (response.status_code,)
        return
    doc = response.json()
    sees = may_see_health(actor(caller), AREA, TEAM, ASSIGNEE)
    shown = {field: doc[field] != WITHHELD for field in HEALTH_FIELDS}
    assert shown == dict.fromkeys(HEALTH_FIELDS, sees)
    if sees:
        assert doc["group"] == "A"
    listed = await http.get("/api/cases", params={"team": TEAM}, headers=headers[caller])
    [item] = [i for i in listed.json()["items"] if i["id"] == case_id]
    assert (item["group"] != WITHHELD) is sees


def test_health_data_goes_to_those_who_work_on_the_case_not_to_every_staff_member():
    sees = {name: may_see_health(actor(name), AREA, TEAM, ASSIGNEE) for name in CALLERS
            if name not in UNAUTHENTICATED}  # fmt: skip
    assert {name for name, yes in sees.items() if yes} == {
        "staff of the case's team",
        "the case's assignee",
        "coordinator of the area",
        "coordinator of all areas",
        "auditor",
    }


READS_OF_A_CASE = ("getCase", "getHistory", "exportCase")


@pytest.mark.parametrize("operation", READS_OF_A_CASE)
@pytest.mark.parametrize("caller", [name for name in CALLERS if name not in UNAUTHENTICATED])
async def test_a_read_of_a_case_without_the_reason_the_table_requires_is_a_422_naming_it(
    http, headers, case_id, operation, caller
):
    request = REQUESTS[operation](case_id)
    path = request.path.split("?")[0]
    response = await http.get(path, headers=headers[caller])
    allowed = expected(operation, request, caller)
    if allowed != request.allowed:
        assert response.status_code in allowed  # refused before any reason is asked for
    elif missing_reason(actor(caller), AREA, None):
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    else:
        assert response.status_code == 200, response.text


def test_auditors_and_coordinators_outside_the_area_say_why_they_read_a_case():
    asked = {name for name in CALLERS if name not in UNAUTHENTICATED
             if missing_reason(actor(name), AREA, None)}  # fmt: skip
    assert asked == {"auditor", "coordinator of another area"}
    assert missing_reason(actor("auditor"), AREA, "valvonta") is None


# A few cells written out, so the table itself is held to DOMAIN.md, not only its enforcement.
SPELLED_OUT = {
    ("getCase", "kela (the case's handoff)"): 404,  # partners work through their own routes
    ("getCase", "keva"): 404,
    ("runCommand", "keva"): 404,  # a partner without a handoff on the case learns nothing of it
    ("runCommand", "kela (the case's handoff)"): 403,  # it knows the case, but may not add notes
    ("runCommand", "staff of another area"): 403,
    ("runCommand", "coordinator of another area"): 403,
    ("runCommand", "auditor"): 403,
    ("openCase", "coordinator of another area"): 403,
    ("listCases", "kela (the case's handoff)"): 403,
    ("partnerTasks", "keva"): 404,  # another partner's inbox does not exist for it
    ("partnerTasks", "staff of the case's team"): 403,
    ("getPartnerTask", "keva"): 404,  # nor does any task of another partner
    ("getPartnerTask", "staff of the case's team"): 403,
    ("getPartnerTask", "auditor"): 200,
    ("acceptTask", "keva"): 404,
    ("acceptTask", "coordinator of the area"): 403,  # overseers read tasks; partners act on them
    ("registerWebhook", "ilmarinen"): 404,
    ("indicators", "staff of the case's team"): 403,
    ("acknowledgeIntegrityBreak", "coordinator of all areas"): 403,
    ("migratePolicy", "coordinator of the area"): 403,  # it moves every area's journeys
    ("migratePolicy", "coordinator of all areas"): 200,
    ("exportCase", "admin"): 403,  # an export holds health data, which admins do not see
    ("exportCase", "kela (the case's handoff)"): 404,
    ("verifyCase", "admin"): 200,
    ("accessReport", "coordinator of all areas"): 403,
    ("lookupCase", "auditor"): 403,
    ("lookupCase", "kela (the case's handoff)"): 403,
    ("getReference", "ilmarinen"): 200,
}


@pytest.mark.parametrize(("operation", "caller"), sorted(SPELLED_OUT))
def test_the_table_refuses_what_the_data_protection_rules_say(operation, caller):
    request = REQUESTS[operation]("00000000-0000-0000-0000-000000000000")
    assert expected(operation, request, caller) == (SPELLED_OUT[operation, caller],)
