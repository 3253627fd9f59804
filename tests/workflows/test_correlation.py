"""One correlation id from the request to the events, and the command that caused each event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework.audit import history
from casework.domain.policy import shipped_policy
from tests.workflows.helpers import STAFF, command, eventually, open_case_command
from workflows.client import Journeys
from workflows.messages import Caller, journey_id


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


def caller(correlation_id: str) -> Caller:
    return Caller(STAFF.actor, correlation_id=correlation_id)


def metas_from(app, case_id, version: int) -> list:
    return [e.meta for e in app.events.get(case_id) if e.originator_version > version]


async def test_a_commands_events_carry_its_correlation_id_and_idempotency_key(journeys, app):
    opened = await journeys.open_case(open_case_command(), STAFF)
    body = {"answers": {"q": "a"}, "concern": True}
    outcome = await journeys.run(
        opened.case_id,
        command("record_screening", body),
        caller("req-123"),
        idempotency_key="key-123",
    )
    metas = metas_from(app, opened.case_id, opened.version)
    assert len(metas) == len(outcome.events) >= 1
    assert {(m.correlation_id, m.causation_id) for m in metas} == {("req-123", "key-123")}
    assert {m.actor_id for m in metas} == {STAFF.actor.id}


async def test_the_audit_history_shows_the_actor_of_a_correlated_command(journeys, app):
    opened = await journeys.open_case(
        open_case_command(), caller("req-open"), idempotency_key="open-key"
    )
    await journeys.run(
        opened.case_id,
        command("add_note", {"text": "x"}),
        caller("req-note"),
        idempotency_key="note-key",
    )
    items = history(app, opened.case_id)
    assert [(i.version, i.type) for i in items][-1] == (2, "NoteAdded")
    assert items[-1].actor.id == STAFF.actor.id
    first, last = app.events.get(opened.case_id)
    assert (first.meta.correlation_id, first.meta.causation_id) == ("req-open", "open-key")
    assert (last.meta.correlation_id, last.meta.causation_id) == ("req-note", "note-key")


async def test_without_an_idempotency_key_the_update_id_is_the_causation(journeys, app):
    opened = await journeys.open_case(open_case_command(), caller("req-456"))
    await journeys.run(opened.case_id, command("add_note", {"text": "x"}), caller("req-789"))
    first, last = app.events.get(opened.case_id)
    assert first.meta.correlation_id == "req-456"
    assert last.meta.correlation_id == "req-789"
    assert last.meta.causation_id.startswith("update:")
    assert len(last.meta.causation_id) > len("update:")


async def test_the_journeys_own_writes_are_correlated_to_the_journey(journeys, app):
    # Back-dated past its screening limit: the journey flags the stall at once.
    opened_at = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    opened = await journeys.open_case(open_case_command(effective_at=opened_at), caller("req-old"))
    flagged = await eventually(
        lambda: [e for e in app.events.get(opened.case_id) if type(e).__name__ == "StepStalled"]
    )
    meta = flagged[0].meta
    assert meta.correlation_id == journey_id(opened.case_id)
    assert meta.causation_id == f"system:flag_stall:{flagged[0].originator_version - 1}"
    assert meta.actor_id == "casework"
