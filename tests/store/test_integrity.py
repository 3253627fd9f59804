"""Tamper evidence on real PostgreSQL: what someone who can write to the database, but holds no
key, does to a case's stored events, and what verification, checkpoints and writes notice."""

from __future__ import annotations

import hashlib
import json
import os
from uuid import UUID

import pytest

from casework.application import CaseworkApp
from casework.audit import verify
from casework.db import Database
from casework.domain import commands as c
from casework.domain.errors import IllegalStep, IntegrityBroken
from casework.store import GENESIS
from tests.store.test_event_store import STAFF, alter_row, event_count, open_case, sql

ADMIN = c.Actor("root.admin", "admin")


def case_with_notes(app: CaseworkApp, notes: int) -> UUID:
    case_id = open_case(app)
    for i in range(notes):
        app.execute(case_id, c.AddNote(text=f"note {i}"), app.context(STAFF))
    return case_id


def add_note(app: CaseworkApp, case_id: UUID) -> None:
    app.execute(case_id, c.AddNote(text="one more"), app.context(STAFF))


def stored(database: Database, case_id: UUID) -> list[tuple[int, str, bytes]]:
    rows = sql(
        database,
        "SELECT originator_version, topic, state FROM casework_events "
        "WHERE originator_id = %s ORDER BY originator_version",
        case_id,
    )
    return [(version, topic, bytes(state)) for version, topic, state in rows]


def unkeyed_hash(case_id: UUID, version: int, topic: str, state: bytes) -> str:
    """The chain's hash as anyone can compute it without the key (what releases before keyed
    chains recorded)."""
    parts = (str(case_id).encode(), version.to_bytes(8, "big"), topic.encode(), b"\x00", state)
    return hashlib.sha256(b"".join(parts)).hexdigest()


def rechain_without_the_key(database: Database, case_id: UUID, after: int) -> None:
    """Recompute every link after version `after`, and the head, as someone without the key can."""
    previous = GENESIS
    for version, topic, state in stored(database, case_id):
        if version > after:
            doc = json.loads(state)
            doc["prev_hash"] = previous
            state = json.dumps(doc, separators=(",", ":")).encode()
            sql(
                database,
                "UPDATE casework_events SET state = %s "
                "WHERE originator_id = %s AND originator_version = %s",
                state, case_id, version,
            )  # fmt: skip
        previous = unkeyed_hash(case_id, version, topic, state)
    sql(database, "UPDATE chain_heads SET hash = %s WHERE originator_id = %s", previous, case_id)


def remove_newest(database: Database, case_id: UUID) -> None:
    """Delete the newest event and roll the head back onto the one before: its hash is written in
    the deleted row, for anyone to read."""
    version, _, state = stored(database, case_id)[-1]
    sql(
        database,
        "DELETE FROM casework_events WHERE originator_id = %s AND originator_version = %s",
        case_id, version,
    )  # fmt: skip
    sql(
        database,
        "UPDATE chain_heads SET version = %s, hash = %s WHERE originator_id = %s",
        version - 1, json.loads(state)["prev_hash"], case_id,
    )  # fmt: skip


def test_a_case_rewritten_and_rechained_without_the_key_is_detected(app, database):
    case_id = case_with_notes(app, 3)
    alter_row(database, case_id, 2)
    rechain_without_the_key(database, case_id, after=2)

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 2)
    assert "unkeyed SHA-256" in result.problem


def test_a_write_to_a_case_rechained_without_the_key_is_refused_and_writes_nothing(app, database):
    case_id = case_with_notes(app, 2)
    rechain_without_the_key(database, case_id, after=1)
    before = event_count(database)

    with pytest.raises(IntegrityBroken) as refused:
        add_note(app, case_id)
    assert refused.value.code == "integrity_broken"
    assert event_count(database) == before


def test_a_chain_does_not_verify_under_another_master_key(app, database):
    case_id = case_with_notes(app, 2)
    elsewhere = CaseworkApp(database, os.urandom(32))
    assert not verify(elsewhere, case_id).intact
    elsewhere.close()


def test_the_newest_event_removed_with_its_head_is_found_by_the_checkpoint_that_covered_it(
    app, database
):
    case_id = case_with_notes(app, 2)
    assert app.integrity.checkpoint() is not None
    remove_newest(database, case_id)

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 3)
    assert "version 3 is missing, though checkpoint #" in result.problem


def test_the_next_write_after_the_newest_event_was_removed_is_refused_not_stored_in_its_place(
    app, database
):
    case_id = case_with_notes(app, 2)
    app.integrity.checkpoint()
    remove_newest(database, case_id)
    before = event_count(database)

    with pytest.raises(IntegrityBroken) as refused:
        add_note(app, case_id)
    assert refused.value.first_broken_version == 3
    assert event_count(database) == before


def test_a_version_reused_after_the_newest_event_was_removed_is_found_by_the_checkpoint(
    app, database, master_key
):
    case_id = case_with_notes(app, 2)
    app.integrity.checkpoint()
    remove_newest(database, case_id)
    # A writer that skips the check (a process of an older release, a script) fills the gap.
    unchecked = CaseworkApp(database, master_key)
    case = unchecked.get_case(case_id)
    case.execute(c.AddNote(text="in its place"), unchecked.context(STAFF))
    unchecked.save(case)
    unchecked.close()
    assert [version for version, _, _ in stored(database, case_id)] == [1, 2, 3]

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 3)
    assert "version 3 is not the one checkpoint #" in result.problem


def test_a_head_rolled_back_is_detected_and_refuses_writes(app, database):
    case_id = case_with_notes(app, 2)
    (_, _, newest) = stored(database, case_id)[-1]
    sql(
        database, "UPDATE chain_heads SET version = 2, hash = %s WHERE originator_id = %s",
        json.loads(newest)["prev_hash"], case_id,
    )  # fmt: skip

    with pytest.raises(IntegrityBroken):
        add_note(app, case_id)
    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 3)


def test_an_altered_checkpoint_entry_is_detected_by_its_signature(app, database):
    case_id = case_with_notes(app, 2)
    app.integrity.checkpoint()
    (_, _, newest) = stored(database, case_id)[-1]
    # Make the checkpoint say version 2 was the newest, ready for version 3 to vanish.
    sql(
        database,
        "UPDATE chain_checkpoint_heads SET version = 2, hash = %s WHERE originator_id = %s",
        json.loads(newest)["prev_hash"], case_id,
    )  # fmt: skip

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 2)
    assert "was altered: its entry is not signed by this service" in result.problem
    assert any(
        "is not as this service signed it" in p for _, p in app.integrity.altered_checkpoints()
    )


def test_an_entry_removed_from_a_checkpoint_is_named_by_the_check_of_every_checkpoint(
    app, database
):
    case_id = case_with_notes(app, 1)
    taken = app.integrity.checkpoint()
    assert taken is not None
    sql(database, "DELETE FROM chain_checkpoint_heads WHERE originator_id = %s", case_id)

    assert taken.id in [number for number, _ in app.integrity.altered_checkpoints()]


def test_a_checkpoint_records_only_what_moved_since_the_one_before(app):
    app.integrity.checkpoint()
    assert app.integrity.checkpoint() is None
    case_id = case_with_notes(app, 1)
    taken = app.integrity.checkpoint()
    assert taken is not None
    assert taken.heads == 1
    assert verify(app, case_id).intact


def test_an_acknowledged_break_lets_writes_through_and_stays_on_record(app, database):
    case_id = case_with_notes(app, 2)
    app.integrity.checkpoint()
    remove_newest(database, case_id)
    with pytest.raises(IntegrityBroken):
        add_note(app, case_id)

    app.integrity.acknowledge(case_id, ADMIN, "row deleted by a faulty migration; restored")
    add_note(app, case_id)
    app.integrity.checkpoint()

    result = verify(app, case_id)
    assert (result.intact, result.events) == (True, 3)
    assert result.acknowledged is not None
    assert (result.acknowledged.actor_id, result.acknowledged.first_broken_version) == (
        "root.admin", 3,
    )  # fmt: skip
    assert result.acknowledged.reason == "row deleted by a faulty migration; restored"


def test_a_row_changed_after_the_acknowledgement_is_a_new_break(app, database):
    case_id = case_with_notes(app, 3)
    rechain_without_the_key(database, case_id, after=2)
    app.integrity.acknowledge(case_id, ADMIN, "seen")
    assert verify(app, case_id).intact
    alter_row(database, case_id, 1)

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 1)
    assert "changed after the break was acknowledged" in result.problem


def test_an_acknowledgement_not_signed_by_the_service_silences_nothing(app, database):
    case_id = case_with_notes(app, 2)
    app.integrity.checkpoint()
    # Every hash is readable in the rows: an intruder can write an acknowledgement that would
    # accept the rows left and supersede the checkpoint, but cannot sign it.
    rows = stored(database, case_id)
    accepted = [{"version": v, "hash": json.loads(rows[v][2])["prev_hash"]} for v in (1, 2)]
    remove_newest(database, case_id)
    sql(
        database,
        "INSERT INTO chain_acknowledgements (originator_id, acknowledged_at, actor_id, actor_role,"
        " reason, first_broken_version, problem, checkpoint_id, accepted, signature) "
        "VALUES (%s, now(), 'intruder', 'admin', 'nothing to see', 3, '', 1000000, %s, %s)",
        case_id, json.dumps(accepted).encode(), b"forged",
    )  # fmt: skip

    with pytest.raises(IntegrityBroken):
        add_note(app, case_id)
    result = verify(app, case_id)
    assert not result.intact
    assert result.problem == "the acknowledgement of this case is not signed by this service"


def test_rows_chained_by_releases_before_keyed_chains_fail_with_a_message_saying_so(app, database):
    case_id = case_with_notes(app, 1)
    rechain_without_the_key(database, case_id, after=0)

    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 1)
    assert "unkeyed SHA-256 that releases before keyed chains wrote" in result.problem


def test_acknowledging_a_case_whose_history_verifies_is_refused(app):
    case_id = case_with_notes(app, 1)
    with pytest.raises(IllegalStep, match="nothing to acknowledge"):
        app.integrity.acknowledge(case_id, ADMIN, "just in case")
