"""Rebuilding a view beside the live one, then swapping, without downtime."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from casework.application import CaseworkApp
from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from projections.rebuild import Progress, rebuild
from projections.service import Projections
from tests.workflows.helpers import eventually, new_code

STAFF = c.Actor("anna", "staff", "helsinki")
KELA = c.Actor("kela-1", "partner", partner="kela")


def seed(app: CaseworkApp, cases: int) -> None:
    for n in range(cases):
        cmd = c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it")
        case_id = app.open_case(cmd, app.context(STAFF)).case_id
        steps: list[tuple[c.Command, c.Actor]] = [
            (c.RecordScreening(answers={"q": "a"}, concern=True), STAFF),
            (c.AddTasmatyoTag(basis="screening"), STAFF),
        ]
        if n % 2:
            consent = c.Consent(given_on=date(2026, 11, 1), partners=["kela", "keva"])
            steps += [
                (c.RequestHandoff(partner="kela", consent=consent, summary=f"s{n}"), STAFF),
                (c.AcknowledgeHandoff(handoff_id="handoff-4"), KELA),
                (c.RedirectHandoff(handoff_id="handoff-4", to_partner="keva", reason="r"), KELA),
            ]
        for step, actor in steps:
            app.execute(case_id, step, app.context(actor))


def rows(projections: Projections) -> dict[str, list[tuple[Any, ...]]]:
    view = projections.cases
    out = {}
    with view.datastore.transaction(commit=False) as curs:
        for table in view.tables()[:-1]:  # the tracking tables differ: rebuilds track per batch
            curs.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            out[table.removeprefix(view.table)] = [tuple(r.values()) for r in curs.fetchall()]
    return out


@pytest.fixture
def projections(app: CaseworkApp):
    running = Projections(app, shipped_policy()).start()
    yield running
    running.stop()


def caught_up(app: CaseworkApp, projections: Projections) -> None:
    head = app.recorder.max_notification_id()
    asyncio.run(eventually(lambda: projections.runners["cases"].position >= head))


def test_a_rebuilt_view_equals_the_live_built_view_row_for_row(app, projections):
    seed(app, 12)
    caught_up(app, projections)
    live = rows(projections)
    old_table = projections.cases.table
    served: list[str] = []

    def report(progress: Progress) -> None:
        served.append(projections.view("cases").table)  # what readers get mid-rebuild

    applied = rebuild(app, projections, "cases", report)

    assert applied == app.recorder.max_notification_id()
    assert set(served) == {old_table}
    assert projections.cases.table != old_table
    assert rows(projections) == live


def test_after_a_swap_the_live_runner_goes_on_in_the_new_tables(app, projections):
    seed(app, 2)
    caught_up(app, projections)
    rebuild(app, projections, "cases")
    cmd = c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-sote")
    case_id = app.open_case(cmd, app.context(STAFF)).case_id
    caught_up(app, projections)
    view = projections.cases
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(view.sql("SELECT team FROM {table} WHERE case_id = %s"), (case_id,))
        assert curs.fetchone()["team"] == "helsinki-sote"
