"""The chaos run, bounded: a small load while each part of the service is killed once."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from casework.domain import commands as c
from tests.chaos.harness import Ledger, Sent, Verdict, check_store, quiet_logs, run
from tests.workflows.helpers import new_code


def test_killing_each_part_in_turn_loses_no_acknowledged_command_and_applies_none_twice():
    with quiet_logs(Path(tempfile.gettempdir()) / "casework-chaos-test.log"):
        figures = asyncio.run(run(rounds=1, clients=3, phase_seconds=3))
    verdict = figures.verdict
    assert figures.faults == ["api", "worker", "project", "temporal", "postgres"]
    assert figures.acknowledged > 0
    assert verdict.lost == []
    assert verdict.duplicated == []
    assert verdict.missing_journeys == []
    assert verdict.orphaned_journeys == []
    assert verdict.differing_views == []


def test_the_store_check_finds_a_command_applied_twice_and_one_lost(app):
    staff = c.Actor("chaos-check", "staff", "helsinki")
    cmd = c.OpenCase(identity_code=new_code(), area="helsinki", team="helsinki-it")
    opened = app.open_case(cmd, app.context(staff, causation_id="open-key"), "open-key")
    twice = app.context(staff, causation_id="note-key")
    for _ in range(2):  # as a retry that slipped past its key would
        app.execute(opened.case_id, c.AddNote(text="once"), twice)
    ledger = Ledger([
        Sent("open-key", "open_case", opened.case_id, {"version": 1, "events": ["CaseOpened"]}),
        Sent("note-key", "add_note", opened.case_id, {"version": 2, "events": ["NoteAdded"]}),
        Sent("lost-key", "add_note", opened.case_id, {"version": 4, "events": ["NoteAdded"]}),
    ])  # fmt: skip
    verdict = Verdict()

    check_store(app, ledger, verdict)

    assert [line.split()[1] for line in verdict.duplicated] == ["note-key"]
    assert [line.split()[1] for line in verdict.lost] == ["lost-key"]
