"""/ready: its status for anyone; its checks and lags only for staff, coordinators, admins and
auditors; and never a fragment of stored data in them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from casework.api.deps import Services
from casework.domain.policy import shipped_policy
from casework.settings import Settings
from projections.cases import CaseViews
from projections.runner import ViewRunner
from projections.service import Projections
from tests.api.test_unavailable import serve
from tests.workflows.helpers import STAFF, command, eventually, open_case_command
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


async def test_a_view_failure_makes_ready_degraded_naming_the_event_and_no_stored_data(
    app, auth, token, client, task_queue
):
    journeys = Journeys(client, task_queue, shipped_policy())
    opened = await journeys.open_case(open_case_command(), STAFF)
    note = await journeys.run(opened.case_id, command("add_note", {"text": SECRET_NOTE}), STAFF)
    projections = Projections(app, shipped_policy()).start()
    quoting = Quoting(app.recorder.datastore, shipped_policy(), suffix="_quoting")
    projections.runners["cases"].stop()
    runner = projections.runners["cases"] = ViewRunner(app, quoting).start()
    await eventually(lambda: runner.error)
    server, task, base = await serve(Services(Settings(), app, journeys, auth, projections))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            anonymous = await http.get("/ready")
            auditor = await http.get("/ready", headers=token("auditor"))
    finally:
        server.should_exit = True
        await task
        projections.stop()
    # The API still serves: one bad event must not take every API process out of rotation.
    assert anonymous.status_code == 200, auditor.text
    assert anonymous.json() == {"status": "degraded"}
    assert auditor.status_code == 200
    assert (
        f"NoteAdded v{note.version} of {opened.case_id}" in auditor.json()["checks"]["view:cases"]
    )
    assert SECRET_NOTE not in anonymous.text
    assert SECRET_NOTE not in auditor.text
