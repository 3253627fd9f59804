"""/ready: its status for anyone; its checks and lags only for staff, coordinators, admins and
auditors; and never a fragment of stored data in them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from casework.api.deps import Services
from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from casework.settings import Settings
from projections.cases import CaseViews
from projections.runner import ViewRunner
from projections.service import Projections
from tests.api.test_unavailable import serve
from tests.workflows.helpers import eventually, new_code
from workflows.client import Journeys

SECRET_NOTE = "the client's neighbour knows"


async def test_ready_without_a_token_says_only_that_it_is_ready(http):
    response = await http.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.parametrize("role", ["staff", "coordinator", "admin", "auditor"])
async def test_ready_shows_its_checks_and_lags_to_the_service_s_own_roles(http, token, role):
    response = await http.get("/ready", headers=token(role))
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["temporal"] == "ok"
    assert "cases" in body["lag"]


async def test_ready_shows_no_checks_to_a_partner_or_a_bad_token(http, token):
    partner = token("partner", "*", partner="kela")
    for headers in (partner, {"Authorization": "Bearer not-a-token"}):
        response = await http.get("/ready", headers=headers)
        assert response.json() == {"status": "ready"}


class Quoting(CaseViews):
    """A view whose failure message quotes the event, as a database error may."""

    def apply_batch(self, curs: Any, events: list[Any]) -> None:
        for event in events:
            if type(event).__name__ == "NoteAdded":
                raise ValueError(f"cannot store {event.text!r}")
        super().apply_batch(curs, events)


async def test_a_view_failure_in_ready_names_no_stored_data(app, auth, token, client, task_queue):
    staff = c.Actor("anna", "staff", "helsinki")
    opened = app.open_case(
        c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it"),
        app.context(staff),
    )
    app.execute(opened.case_id, c.AddNote(text=SECRET_NOTE), app.context(staff))
    projections = Projections(app, shipped_policy())
    quoting = Quoting(app.recorder.datastore, shipped_policy(), suffix="_quoting")
    runner = projections.runners["cases"] = ViewRunner(app, quoting).start()
    await eventually(lambda: runner.error)
    journeys = Journeys(client, task_queue, shipped_policy())
    server, task, base = await serve(Services(Settings(), app, journeys, auth, projections))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            anonymous = await http.get("/ready")
            auditor = await http.get("/ready", headers=token("auditor"))
    finally:
        server.should_exit = True
        await task
        runner.stop()
    assert anonymous.status_code == 503
    assert set(anonymous.json()) == {"type", "title", "status", "detail", "code"}
    assert auditor.status_code == 503
    assert auditor.json()["checks"]["view:cases"].startswith("stopped at the event after")
    assert SECRET_NOTE not in anonymous.text
    assert SECRET_NOTE not in auditor.text
