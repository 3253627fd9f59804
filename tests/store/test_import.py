"""Bulk import of historical journeys: valid stored events, bad lines named and not written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from casework.audit import history, verify
from casework.domain import commands as c
from casework.importer import import_journeys
from tests.store.test_event_store import event_count, new_code, sql

IMPORTER = c.Actor("legacy-import", "staff", "*")
KELA = {"id": "kela-import", "role": "partner", "partner": "kela"}
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(days: int) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def journey(code: str, *steps: tuple[int, str, dict], closed: bool = False) -> str:
    lines = [{"command": name, "at": at(day), "body": body} for day, name, body in steps]
    for step in lines:
        if step["command"] in ("acknowledge_handoff", "accept_handoff"):
            step["actor"] = KELA
    if closed:
        lines.append({"command": "close_case", "at": at(200),
                      "body": {"outcome": "other", "reason": "moved away"}})  # fmt: skip
    return json.dumps({
        "identity_code": code, "area": "keskinen", "team": "keskinen-it", "opened_at": at(0),
        "steps": lines,
    })  # fmt: skip


def test_imported_journeys_are_ordinary_sealed_chained_events(app, database):
    code = new_code()
    good = journey(
        code,
        (3, "record_screening", {"answers": {"q1": "imported-secret"}, "concern": True}),
        (5, "add_tasmatyo_tag", {"basis": "screening"}),
        (9, "request_handoff", {"partner": "kela", "summary": "from the legacy system",
                                "consent": {"given_on": "2025-03-10", "partners": ["kela"]}}),
        (12, "acknowledge_handoff", {"handoff_id": "handoff-4"}),
    )  # fmt: skip
    report = import_journeys(app, [good], IMPORTER)

    assert (report.cases, report.errors) == (1, [])
    (case_id,) = report.open_cases
    items = history(app, case_id)
    assert [i.type for i in items] == [
        "CaseOpened", "ScreeningRecorded", "TasmatyoTagAdded", "HandoffRequested",
        "HandoffAcknowledged",
    ]  # fmt: skip
    assert items[1].effective_at == T0 + timedelta(days=3)
    assert items[4].actor.role == "partner"
    assert verify(app, case_id).intact
    stored = b"".join(bytes(r[0]) for r in sql(
        database, "SELECT state FROM casework_events WHERE originator_id = %s", case_id
    ))  # fmt: skip
    assert b"imported-secret" not in stored
    assert code.encode() not in stored
    client_id = UUID(app.get_case(case_id).state.client_id)
    assert app.clients.identity_code(client_id, IMPORTER, "test") == code


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_line_is_named_and_nothing_of_it_is_written(app, database, workers):
    before = event_count(database)
    clients = sql(database, "SELECT count(*) FROM clients")[0][0]
    lines = [
        journey(new_code(), (3, "add_note", {"text": "fine"})),
        "{not json",
        journey(new_code(), (3, "refer_to_coaching", {})),  # illegal: not identified
        journey("131052-308X"),  # invalid identity code
        journey(new_code(), (3, "record_sickness_allowance", {"days_used": 400})),
        journey(new_code(), closed=True),
        journey(new_code(), (-1, "add_note", {"text": "before the opening"})),
    ]
    report = import_journeys(app, lines, IMPORTER, workers=workers)

    assert [e.line for e in report.errors] == [2, 3, 4, 5, 7]
    assert "needs an identified client" in report.errors[1].error
    assert "identity_code" in report.errors[2].error
    assert "step 1 (add_note)" in report.errors[4].error
    assert "precede the case's opening" in report.errors[4].error
    assert report.cases == 2
    assert len(report.open_cases) == 1
    assert event_count(database) == before + 2 + 2  # opened+note, opened+closed
    assert sql(database, "SELECT count(*) FROM clients")[0][0] == clients + 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_open_case_for_a_client_is_refused_within_one_import(app, database, workers):
    code = new_code()
    clients = sql(database, "SELECT count(*) FROM clients")[0][0]
    report = import_journeys(app, [journey(code), journey(code)], IMPORTER, workers=workers)
    assert [e.line for e in report.errors] == [2]
    assert report.cases == 1
    assert sql(database, "SELECT count(*) FROM clients")[0][0] == clients + 1


@pytest.mark.parametrize("workers", [1, 2])
def test_a_client_whose_first_line_fails_is_registered_with_its_next_good_line(
    app, database, workers
):
    code = new_code()
    lines = [
        journey(code, (3, "refer_to_coaching", {})),  # illegal: not identified
        journey(code, closed=True),
        journey(code),
    ]
    report = import_journeys(app, lines, IMPORTER, workers=workers)
    assert [e.line for e in report.errors] == [1]
    assert (report.cases, len(report.open_cases)) == (2, 1)
    (case_id,) = report.open_cases
    client_id = UUID(app.get_case(case_id).state.client_id)
    assert app.clients.identity_code(client_id, IMPORTER, "test") == code


def test_an_imported_step_dated_before_the_step_it_depends_on_fails_its_line(app, database):
    before = event_count(database)
    acknowledged_early = journey(
        new_code(),
        (3, "record_screening", {"answers": {"q1": "a"}, "concern": True}),
        (5, "add_tasmatyo_tag", {"basis": "screening"}),
        (9, "request_handoff", {"partner": "kela",
                                "consent": {"given_on": "2025-03-10", "partners": ["kela"]}}),
        (8, "acknowledge_handoff", {"handoff_id": "handoff-4"}),
    )  # fmt: skip
    report = import_journeys(app, [acknowledged_early], IMPORTER)
    assert [e.error for e in report.errors] == [
        "step 4 (acknowledge_handoff): the Kela handoff cannot be acknowledged on 2025-03-11:"
        " it was requested on 2025-03-12"
    ]
    assert event_count(database) == before
