"""The event store on real PostgreSQL: concurrency, idempotency, the past, the chain, privacy."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import psycopg
import pytest

from casework.application import CaseworkApp
from casework.audit import history, verify
from casework.db import Database
from casework.demo import sample_identity_code
from casework.domain import commands as c
from casework.domain.errors import (
    DuplicateClient,
    IdempotencyKeyReused,
    IllegalStep,
    OpenCaseExists,
    StaleVersion,
    ValidationFailed,
)

STAFF = c.Actor("anna.staff", "staff", "helsinki")
_numbers = iter(range(900, 1000))


def new_code() -> str:
    number = next(_numbers)
    return sample_identity_code(date(1970, 1, 1) + timedelta(days=number), number)


def open_case(app: CaseworkApp, code: str | None = None, **fields: object) -> UUID:
    cmd = c.OpenCase(
        identity_code=code or new_code(), area="helsinki", team="helsinki-it", **fields
    )
    return app.open_case(cmd, app.context(STAFF)).case_id


def sql(database: Database, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(database.conninfo, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def alter_row(database: Database, case_id: UUID, version: int) -> None:
    """Change a stored event with SQL: its actor's role, staff, becomes admin."""
    sql(
        database,
        "UPDATE casework_events SET state = "
        "convert_to(replace(convert_from(state, 'UTF8'), 'staff', 'admin'), 'UTF8') "
        "WHERE originator_id = %s AND originator_version = %s",
        case_id, version,
    )  # fmt: skip


def event_count(database: Database) -> int:
    return sql(database, "SELECT count(*) FROM casework_events")[0][0]


def test_concurrent_writers_on_one_version_one_wins_and_no_update_is_lost(app, database):
    case_id = open_case(app)
    version = app.get_case(case_id).version
    writers = [CaseworkApp(database, app.keyring.master_key) for _ in range(6)]
    start = threading.Barrier(len(writers))
    outcomes: list[object] = [None] * len(writers)

    def write(i: int) -> None:
        start.wait()
        try:
            cmd = c.AddNote(text=f"note from writer {i}")
            outcomes[i] = writers[i].execute(case_id, cmd, app.context(STAFF), version)
        except StaleVersion as stale:
            outcomes[i] = stale

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stale = [o for o in outcomes if isinstance(o, StaleVersion)]
    assert len(stale) == len(writers) - 1
    assert all(s.current_version == version + 1 for s in stale)
    assert [item.version for item in history(app, case_id)] == list(range(1, version + 2))
    for writer in writers:
        writer.close()


def test_same_idempotency_key_twice_writes_once_even_after_a_restart(app, database, master_key):
    case_id = open_case(app)
    cmd = c.RecordScreening(answers={"q1": "pain"}, concern=True)
    first = app.execute(case_id, cmd, app.context(STAFF), idempotency_key="retry-1")
    before = event_count(database)

    again = app.execute(case_id, cmd, app.context(STAFF), idempotency_key="retry-1")
    restarted = CaseworkApp(database, master_key)
    after_restart = restarted.execute(case_id, cmd, restarted.context(STAFF), None, "retry-1")

    assert (again.version, again.events, again.replayed) == (first.version, first.events, True)
    assert after_restart.version == first.version
    assert after_restart.replayed
    assert event_count(database) == before
    restarted.close()


def test_same_idempotency_key_with_another_command_is_refused_and_writes_nothing(app, database):
    case_id = open_case(app)
    app.execute(case_id, c.AddNote(text="one"), app.context(STAFF), idempotency_key="k")
    before = event_count(database)
    with pytest.raises(IdempotencyKeyReused):
        app.execute(case_id, c.AddNote(text="two"), app.context(STAFF), idempotency_key="k")
    assert event_count(database) == before


def test_idempotency_keys_are_scoped_to_the_case(app):
    first, second = open_case(app), open_case(app)
    a = app.execute(first, c.AddNote(text="x"), app.context(STAFF), idempotency_key="same")
    b = app.execute(second, c.AddNote(text="x"), app.context(STAFF), idempotency_key="same")
    assert not a.replayed
    assert not b.replayed


def test_stale_expected_version_is_refused_with_the_current_version(app):
    case_id = open_case(app)
    app.execute(case_id, c.AddNote(text="moved on"), app.context(STAFF))
    with pytest.raises(StaleVersion) as refused:
        app.execute(case_id, c.AddNote(text="late"), app.context(STAFF), expected_version=1)
    assert refused.value.current_version == 2


def test_case_as_it_stood_at_a_version_and_at_a_time(app):
    case_id = open_case(app)
    app.execute(case_id, c.RecordScreening(answers={"q": "a"}, concern=True), app.context(STAFF))
    between = datetime.now(UTC)
    app.execute(case_id, c.AddTasmatyoTag(basis="screening"), app.context(STAFF))

    assert app.get_case(case_id, version=2).state.stage == "screened"
    state, version = app.case_at(case_id, known_at=between)
    assert (state.stage, version) == ("screened", 2)
    assert app.get_case(case_id).state.stage == "identified"


def test_snapshots_are_taken_and_past_versions_read_through_them_equal_a_full_replay(
    app, database, master_key
):
    case_id = open_case(app)
    for i in range(120):
        app.execute(case_id, c.AddNote(text=f"note {i}"), app.context(STAFF))
    snapshots = sql(
        database, "SELECT originator_version FROM casework_snapshots WHERE originator_id = %s",
        case_id,
    )  # fmt: skip
    assert sorted(v for (v,) in snapshots) == [50, 100]

    unsnapshotted = CaseworkApp(database, master_key, IS_SNAPSHOTTING_ENABLED="n")
    for version in (49, 50, 75, 121):
        with_snapshots = app.get_case(case_id, version=version).state
        assert with_snapshots == unsnapshotted.get_case(case_id, version=version).state
    unsnapshotted.close()


def test_hash_chain_verifies_an_untouched_case(app):
    case_id = open_case(app)
    app.execute(case_id, c.AddNote(text="a"), app.context(STAFF))
    result = verify(app, case_id)
    assert (result.intact, result.events, result.first_broken_version) == (True, 2, None)


def test_hash_chain_names_a_row_altered_with_sql(app, database):
    case_id = open_case(app)
    for text in ("a", "b", "c"):
        app.execute(case_id, c.AddNote(text=text), app.context(STAFF))
    alter_row(database, case_id, 2)
    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 2)


def test_hash_chain_names_a_row_deleted_with_sql(app, database):
    case_id = open_case(app)
    for text in ("a", "b", "c"):
        app.execute(case_id, c.AddNote(text=text), app.context(STAFF))
    sql(
        database,
        "DELETE FROM casework_events WHERE originator_id = %s AND originator_version = 3",
        case_id,
    )
    assert verify(app, case_id).first_broken_version == 3


def test_hash_chain_notices_the_newest_rows_removed(app, database):
    case_id = open_case(app)
    for text in ("a", "b"):
        app.execute(case_id, c.AddNote(text=text), app.context(STAFF))
    sql(
        database,
        "DELETE FROM casework_events WHERE originator_id = %s AND originator_version = 3",
        case_id,
    )
    result = verify(app, case_id)
    assert (result.intact, result.first_broken_version) == (False, 3)


def test_a_version_1_case_opened_row_is_upcast_to_the_staff_channel(app, database, master_key):
    case_id = open_case(app, channel="digital")
    (state,) = sql(
        database,
        "SELECT state FROM casework_events WHERE originator_id = %s AND originator_version = 1",
        case_id,
    )[0]
    v1 = json.loads(bytes(state))
    del v1["channel"], v1["class_version"]
    sql(
        database,
        "UPDATE casework_events SET state = %s "
        "WHERE originator_id = %s AND originator_version = 1",
        json.dumps(v1, separators=(",", ":")).encode(), case_id,
    )  # fmt: skip
    fresh = CaseworkApp(database, master_key)
    assert fresh.get_case(case_id).state.channel == "staff"
    fresh.close()


def test_no_identity_code_or_health_data_in_plaintext_anywhere_in_the_store(app, database):
    code = new_code()
    case_id = open_case(app, code=code)
    for cmd in (
        c.RecordScreening(answers={"q1": "chronic migraine"}, concern=True),
        c.RecordDiagnosis(icd_chapter="G", b_statement_on=date(2026, 10, 1)),
        c.RecordSicknessAllowance(days_used=287),
        c.AddNote(text="talked about her migraine"),
    ):
        app.execute(case_id, cmd, app.context(STAFF))
    for _ in range(50):
        app.execute(case_id, c.RecordSelfAssessment(
            overall=3, mental_wellbeing=4, social_participation=5, physical_functioning=6,
            skills=7, everyday_coping=8,
        ), app.context(STAFF))  # fmt: skip

    dump = b"".join(
        bytes(row[0])
        for table in ("casework_events", "casework_snapshots")
        for row in sql(database, f"SELECT state FROM {table} WHERE originator_id = %s", case_id)
    )
    register = b"".join(
        bytes(cell) for row in sql(database, "SELECT * FROM clients") for cell in row
        if isinstance(cell, bytes | memoryview)
    )  # fmt: skip
    secrets = (
        code, "migraine", '"icd_chapter":"G"', '"days_used":287', '_days_used":287',
        "2026-10-01", "physical_functioning",
    )  # fmt: skip
    for secret in secrets:
        assert secret.encode() not in dump
    assert code.encode() not in register
    assert app.get_case(case_id).state.sickness_days_used == 287


def test_destroying_a_client_key_erases_health_fields_and_the_chain_still_verifies(
    app, database, master_key
):
    case_id = open_case(app)
    app.execute(
        case_id, c.RecordDiagnosis(icd_chapter="F", b_statement_on=date(2026, 9, 1)),
        app.context(STAFF),
    )  # fmt: skip
    client_id = app.get_case(case_id).state.client_id
    sql(database, "UPDATE client_keys SET wrapped = NULL WHERE client_id = %s", UUID(client_id))

    fresh = CaseworkApp(database, master_key)
    diagnosis = history(fresh, case_id)[1]
    assert diagnosis.data["icd_chapter"] == {"withheld": "erased"}
    assert verify(fresh, case_id).intact
    fresh.close()


def test_a_second_open_case_for_a_client_is_refused_pointing_to_the_first(app):
    code = new_code()
    first = open_case(app, code=code)
    with pytest.raises(OpenCaseExists) as refused:
        open_case(app, code=code)
    assert refused.value.existing_case_id == first


def test_a_closed_case_lets_the_client_open_a_new_one(app):
    code = new_code()
    first = open_case(app, code=code)
    app.execute(first, c.CloseCase(outcome="other", reason="moved"), app.context(STAFF))
    second = open_case(app, code=code)
    assert second != first
    assert app.get_case(first).state.client_id == app.get_case(second).state.client_id


@pytest.mark.parametrize("code", ["131052-308X", "311352-308T", "not a code", "131052308T"])
def test_an_invalid_identity_code_is_refused_naming_the_field_and_writes_nothing(
    app, database, code
):
    before = event_count(database)
    clients = sql(database, "SELECT count(*) FROM clients")[0][0]
    with pytest.raises(ValidationFailed) as refused:
        open_case(app, code=code)
    assert [e.field for e in refused.value.errors] == ["identity_code"]
    assert event_count(database) == before
    assert sql(database, "SELECT count(*) FROM clients")[0][0] == clients


def test_a_registered_identity_code_cannot_be_registered_again(app):
    code = new_code()
    app.clients.register(code, STAFF)
    with pytest.raises(DuplicateClient):
        app.clients.register(code, STAFF)


def test_register_reads_are_recorded_with_who_and_why(app, database):
    code = new_code()
    client_id = app.clients.register(code, STAFF)
    assert app.clients.identity_code(client_id, STAFF, "export") == code
    reads = sql(
        database, "SELECT actor_id, purpose FROM register_reads WHERE client_id = %s", client_id
    )
    assert ("anna.staff", "export") in reads


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"area": "tampere"}, "area"), ({"team": "itainen-sote"}, "team")],
)
def test_unknown_area_or_team_is_refused_and_writes_nothing(app, database, fields, field):
    before = event_count(database)
    cmd = c.OpenCase(
        identity_code=new_code(), **({"area": "helsinki", "team": "helsinki-it"} | fields)
    )
    with pytest.raises(ValidationFailed) as refused:
        app.open_case(cmd, app.context(STAFF))
    assert refused.value.errors[0].field == field
    assert event_count(database) == before


def test_an_illegal_step_is_refused_and_writes_nothing(app, database):
    case_id = open_case(app)
    before = event_count(database)
    with pytest.raises(IllegalStep, match="needs an identified client"):
        app.execute(case_id, c.ReferToCoaching(), app.context(STAFF))
    assert event_count(database) == before


def test_a_fact_dated_in_the_future_is_refused(app, database):
    case_id = open_case(app)
    later = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(ValidationFailed) as refused:
        app.execute(case_id, c.AddNote(text="x", effective_at=later), app.context(STAFF))
    assert refused.value.errors[0].field == "effective_at"


def test_an_employer_command_with_a_reason_is_stored_and_read_back(app):
    from uuid import uuid4

    from casework.domain.employer import (
        AddInterestTag,
        Employer,
        RegisterEmployer,
        RemoveInterestTag,
    )

    coordinator = app.context(c.Actor("kaisa", "coordinator", "*"))
    employer = Employer.register(
        uuid4(),
        RegisterEmployer(business_id="0112038-9", name="Oy Esimerkki Ab", sector="it",
                         area="helsinki"),
        coordinator,
    )  # fmt: skip
    employer.execute(AddInterestTag(), coordinator)
    employer.execute(RemoveInterestTag(reason="no longer recruiting"), coordinator)
    app.save(employer)

    stored = app.repository.get(employer.id)
    assert stored.interested is False
    assert [e.reason for e in app.events.get(employer.id)][-1] == "no longer recruiting"
