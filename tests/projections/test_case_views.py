"""The case views over HTTP: case list, stalled queue, partner inbox; and how views run."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from casework.application import CaseworkApp
from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from projections.cases import CaseViews
from projections.runner import ViewRunner
from tests.workflows.helpers import eventually, new_code, opening

pytest_plugins = ["tests.api.conftest"]


async def open_case(http, token, **fields: Any) -> str:
    response = await http.post("/api/cases", json=opening(**fields), headers=token())
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def listed(http, token, case_id: str, **params: Any) -> dict[str, Any] | None:
    response = await http.get("/api/cases", params={"limit": 500, **params}, headers=token())
    return next((i for i in response.json()["items"] if i["id"] == case_id), None)


async def wait_listed(http, token, case_id: str, version: int) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        item = await listed(http, token, case_id)
        return item if item and item["version"] >= version else None

    deadline = asyncio.get_running_loop().time() + 15
    while (item := await probe()) is None:
        assert asyncio.get_running_loop().time() < deadline, "the case list did not catch up"
        await asyncio.sleep(0.05)
    return item


async def test_an_opened_case_appears_in_the_case_list_with_its_stage(http, token):
    case_id = await open_case(http, token)
    body = {"answers": {"q": "a"}, "concern": True}
    await http.post(f"/api/cases/{case_id}/commands/record_screening", json=body, headers=token())
    item = await wait_listed(http, token, case_id, 2)
    assert (item["area"], item["team"], item["stage"]) == ("helsinki", "helsinki-it", "screened")
    assert await listed(http, token, case_id, stage="screened")
    assert not await listed(http, token, case_id, stage="opened")
    assert not await listed(http, token, case_id, area="itainen")
    assert await listed(http, token, case_id, q=case_id[:8])


async def test_case_list_pages_with_a_cursor(http, token):
    for _ in range(3):
        await open_case(http, token)
    first = (await http.get("/api/cases", params={"limit": 2}, headers=token())).json()
    assert len(first["items"]) == 2
    assert first["next"]
    second = await http.get(
        "/api/cases", params={"limit": 2, "cursor": first["next"]}, headers=token()
    )
    ids = {i["id"] for i in first["items"]}
    assert not ids & {i["id"] for i in second.json()["items"]}


async def test_a_back_dated_case_is_in_the_stalled_queue_oldest_first_with_its_reason(
    http, token, app
):
    old = datetime.now(UTC) - timedelta(days=60)
    older = await open_case(http, token, effective_at=old.isoformat())
    newer = await open_case(http, token, effective_at=(old + timedelta(days=5)).isoformat())
    await eventually(lambda: app.get_case(UUID(newer)).state.stalls)

    async def queue() -> list[dict[str, Any]]:
        params = {"area": "helsinki", "step": "screening", "limit": 500}
        response = await http.get("/api/queues/stalled", params=params, headers=token())
        return [i for i in response.json()["items"] if i["case_id"] in (older, newer)]

    deadline = asyncio.get_running_loop().time() + 15
    while len(items := await queue()) < 2 or not all(i["stalled"] for i in items):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert [i["case_id"] for i in items] == [older, newer]
    assert items[0]["waiting_on"] == "staff"
    assert items[0]["days_late"] > 30
    assert "screening" in items[0]["reason"]


async def test_a_step_due_soon_is_at_risk_but_not_yet_in_the_plain_queue(http, token):
    almost = datetime.now(UTC) - timedelta(days=12)
    case_id = await open_case(http, token, effective_at=almost.isoformat())
    await wait_listed(http, token, case_id, 1)

    async def in_queue(**params: Any) -> bool:
        params = {"step": "inactivity", "limit": 500, **params}
        response = await http.get("/api/queues/stalled", params=params, headers=token())
        return any(i["case_id"] == case_id for i in response.json()["items"])

    assert not await in_queue()
    assert await in_queue(at_risk_days=25)


async def test_a_partner_sees_its_new_handoff_in_its_inbox_with_the_deadline(http, token, app):
    staff = token()
    case_id = await open_case(http, token)
    for name, body in [
        ("record_screening", {"answers": {"q": "a"}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("request_handoff", {
            "partner": "ilmarinen", "summary": "needs a work trial",
            "consent": {"given_on": "2026-11-01", "partners": ["ilmarinen"],
                        "shares": ["work_history"]},
            "shares": ["work_history"],
        }),
    ]:  # fmt: skip
        response = await http.post(
            f"/api/cases/{case_id}/commands/{name}", json=body, headers=staff
        )
        assert response.status_code == 200, response.text
    ilmarinen = token("partner", "*", partner="ilmarinen")
    task_id = app.tasks.id_of(case_id, "handoff-4")

    async def task() -> dict[str, Any] | None:
        response = await http.get("/api/partners/ilmarinen/tasks", headers=ilmarinen)
        return next((t for t in response.json()["items"] if t["task"] == task_id), None)

    found = await eventually(task)
    assert (found["state"], found["status"], found["shares"]) == (
        "open",
        "requested",
        ["work_history"],
    )
    assert found["deadline"]["step"] == "handoff_ack"
    assert found["deadline"]["late"] is False
    assert "case_id" not in found  # a partner knows its task, not the office's case
    kela = token("partner", "*", partner="kela")
    assert (await http.get("/api/partners/ilmarinen/tasks", headers=kela)).status_code == 404


async def test_ready_and_metrics_report_each_views_lag(http, token):
    ready = await http.get("/ready", headers=token("admin"))
    assert ready.status_code == 200
    assert "cases" in ready.json()["lag"]
    metrics = await http.get("/metrics")
    assert 'casework_view_lag_events{view="cases"}' in metrics.text


class Brittle(CaseViews):
    """A view that cannot handle notes while `broken`: stands in for a bug met in production."""

    name = "brittle"
    broken = True

    def apply_batch(self, curs: Any, events: list[Any]) -> None:
        if self.broken and any(type(event).__name__ == "NoteAdded" for event in events):
            raise ValueError("cannot handle notes")
        super().apply_batch(curs, events)


def _open_with_note(app: CaseworkApp) -> tuple[Any, Any]:
    staff = c.Actor("anna", "staff", "helsinki")
    cmd = c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it")
    case_id = app.open_case(cmd, app.context(staff)).case_id
    return case_id, app.execute(case_id, c.AddNote(text="x"), app.context(staff))


def _row_version(view: CaseViews, case_id: Any) -> int | None:
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(view.sql("SELECT version FROM {table} WHERE case_id = %s"), (case_id,))
        row = curs.fetchone()
    return row["version"] if row else None


def test_a_view_that_fails_on_an_event_names_it_keeps_serving_and_tries_again(app: CaseworkApp):
    case_id, note = _open_with_note(app)
    view = Brittle(app.recorder.datastore, shipped_policy(), suffix="_names")
    runner = ViewRunner(app, view).start()
    try:
        status = asyncio.run(eventually(lambda: runner.status() if runner.failures > 1 else None))
        assert runner._thread is not None
        assert runner._thread.is_alive()
    finally:
        runner.stop()
    assert not status.running
    assert f"NoteAdded v{note.version} of {case_id}" in status.error
    assert "ValueError" in status.error
    assert status.lag_events > 0  # the failing event and what follows are not skipped
    assert _row_version(view, case_id) == note.version - 1  # the last good state is served


def test_a_failing_view_resumes_by_itself_once_the_fault_is_fixed(app: CaseworkApp):
    view = Brittle(app.recorder.datastore, shipped_policy(), suffix="_fixed")
    view.create_table()
    view.broken = False
    runner = ViewRunner(app, view).start()
    try:
        head = app.recorder.max_notification_id() or 0
        asyncio.run(eventually(lambda: runner.position >= head))
        view.broken = True
        # Alone in its batch: the runner once died here without a word.
        case_id, note = _open_with_note(app)
        asyncio.run(eventually(lambda: runner.error))
        assert runner._thread is not None
        assert runner._thread.is_alive()
        view.broken = False  # the fix is deployed
        asyncio.run(eventually(lambda: runner.error is None and _row_version(view, case_id)))
        assert runner.status().running
    finally:
        runner.stop()
    assert _row_version(view, case_id) == note.version


def test_concurrent_writers_while_projecting_skip_nothing_and_apply_nothing_twice(
    app: CaseworkApp,
):
    staff = c.Actor("anna", "staff", "helsinki")
    cases = [
        app.open_case(
            c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it"),
            app.context(staff),
        ).case_id
        for _ in range(4)
    ]
    view = CaseViews(app.recorder.datastore, shipped_policy(), suffix="_concurrency")
    runner = ViewRunner(app, view).start()

    def write(case_id) -> None:
        for i in range(40):
            app.execute(case_id, c.AddNote(text=f"note {i}"), app.context(staff))

    threads = [threading.Thread(target=write, args=(case_id,)) for case_id in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        head = app.recorder.max_notification_id()
        asyncio.run(eventually(lambda: runner.position >= head))
    finally:
        runner.stop()
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(view.sql("SELECT case_id, version, applied FROM {table}"))
        rows = {row["case_id"]: (row["version"], row["applied"]) for row in curs.fetchall()}
    for case_id in cases:
        # Every event applied exactly once: as many applications as the case has events.
        assert rows[case_id] == (41, 41)
        assert app.get_case(case_id).version == 41


def test_a_nul_stored_before_the_edge_refused_it_does_not_stop_the_case_view(app: CaseworkApp):
    staff = c.Actor("anna", "staff", "helsinki")
    cmd = c.OpenCase(
        identity_code=new_code(), area="helsinki", team="helsinki-it", assignee="nul-test"
    )
    case_id = app.open_case(cmd, app.context(staff)).case_id
    (stored,) = app.stored_events(case_id)
    state = stored.state.replace(b'"nul-test"', b'"nul\\u0000test"')
    with app.recorder.datastore.transaction(commit=True) as curs:
        curs.execute(
            "UPDATE casework_events SET state = %s WHERE originator_id = %s", (state, case_id)
        )
    view = CaseViews(app.recorder.datastore, shipped_policy(), suffix="_nul")
    view.create_table()
    runner = ViewRunner(app, view).start()
    try:
        head = app.recorder.max_notification_id() or 0
        asyncio.run(eventually(lambda: runner.error or runner.position >= head))
    finally:
        runner.stop()
    assert runner.error is None
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(view.sql("SELECT assignee FROM {table} WHERE case_id = %s"), (case_id,))
        assert curs.fetchone()["assignee"] == "nul\ufffdtest"
