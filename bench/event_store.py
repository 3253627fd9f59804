"""B1 append throughput against raw psycopg (and against eventsourcing's pipelined insert, which
casework's recorder replaced), and B2 as-of reads with and without snapshots."""

from __future__ import annotations

import inspect
import os
import statistics
import sys
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from importlib.metadata import version
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Repository
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic

from bench.harness import Report, Row, interleaved_ms, now, p99
from casework.application import SNAPSHOT_INTERVAL, CaseworkApp
from casework.db import Database
from casework.demo import sample_identity_code
from casework.domain import commands as c
from casework.domain.case import ClientCase
from casework.domain.events import NoteAdded
from casework.store import CaseworkRecorder

STAFF = c.Actor("bench", "staff", "helsinki")
NOTE = "Phoned the client about the coaching plan; next meeting agreed for Tuesday at the office."

RAW_TABLE = """
CREATE TABLE IF NOT EXISTS raw_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
)
"""
RAW_INSERT = (
    "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
    "VALUES (%s, %s, %s, %s)"
)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def identity_code(i: int) -> str:
    """A distinct valid identity code per `i`: the birth date varies as well as the number."""
    return sample_identity_code(date(1950, 1, 1) + timedelta(days=131 * i), 900 + i % 100)


def open_cases(app: CaseworkApp, count: int, first: int = 0) -> list[UUID]:
    def open_case(i: int) -> UUID:
        code = identity_code(first + i)
        cmd = c.OpenCase(identity_code=code, area="helsinki", team="helsinki-services")
        return app.open_case(cmd, app.context(STAFF)).case_id

    return [open_case(i) for i in range(count)]


def add_note(app: CaseworkApp, case_id: UUID) -> int:
    """One command, one transaction; the number of events it recorded."""
    return len(app.execute(case_id, c.AddNote(text=NOTE), app.context(STAFF)).events)


def app_round(app: CaseworkApp, case_ids: list[UUID], commands: int) -> tuple[float, list[float]]:
    """Events/s over one round of commands spread over the cases; each command's latency in ms."""
    events, latencies = 0, []
    start = now()
    for i in range(commands):
        began = now()
        events += add_note(app, case_ids[i % len(case_ids)])
        latencies.append((now() - began) * 1000)
    return events / (now() - start), latencies


class RawAppender:
    """The baseline: one autocommitted INSERT per event, round-robin over a few streams."""

    def __init__(self, conn: psycopg.Connection, payload_size: int, streams: int) -> None:
        self.conn = conn
        self.payload_size = payload_size
        self.topic = get_topic(NoteAdded)
        self.versions = {uuid4(): 0 for _ in range(streams)}
        conn.execute(RAW_TABLE)

    def round(self, commands: int) -> float:
        streams = list(self.versions)
        start = now()
        for i in range(commands):
            oid = streams[i % len(streams)]
            self.versions[oid] += 1
            payload = os.urandom(self.payload_size)
            self.conn.execute(RAW_INSERT, (oid, self.versions[oid], self.topic, payload))
        return commands / (now() - start)


class PipelinedRecorder(CaseworkRecorder):
    """casework's recorder with eventsourcing's own insert, which pipelines its statements
    (and hangs on a parameter of a megabyte or so): the write path before the change."""

    insert_events = PostgresApplicationRecorder.insert_events


def average_state_size(database: Database) -> int:
    with psycopg.connect(database.conninfo) as conn:
        row = conn.execute("SELECT avg(octet_length(state))::int FROM casework_events").fetchone()
    assert row is not None
    return int(row[0])


def bench_append(
    database: Database, master_key: bytes, rounds: int = 5, commands: int = 400, cases: int = 20
) -> Report:
    app = CaseworkApp(database, master_key)
    pipelined = CaseworkApp(
        database, master_key, APPLICATION_RECORDER_TOPIC=get_topic(PipelinedRecorder)
    )
    try:
        case_ids = open_cases(app, cases)
        app_round(app, case_ids, commands // 4)  # warm-up: cache every case, prepare statements
        app_round(pipelined, case_ids, commands // 4)
        size = average_state_size(database)
        app_rates, pipe_rates, raw_rates, latencies = [], [], [], []
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            raw = RawAppender(conn, size, cases)
            raw.round(commands // 4)
            for r in range(rounds):  # alternate, so drift on the machine hits all alike
                progress(f"B1 append: round {r + 1}/{rounds}")
                rate, lat = app_round(app, case_ids, commands)
                app_rates.append(rate)
                latencies += lat
                pipe_rates.append(app_round(pipelined, case_ids, commands)[0])
                raw_rates.append(raw.round(commands))
    finally:
        app.close()
        pipelined.close()
    app_rate, raw_rate = statistics.median(app_rates), statistics.median(raw_rates)
    pipe_rate = statistics.median(pipe_rates)
    each = f"median of {rounds} rounds × {commands} commands"
    return Report(
        rows=[
            Row("B1 append", f"app.execute(AddNote) ({each})", app_rate, "events/s"),
            Row(
                "B1 append",
                f"same, eventsourcing's pipelined insert ({each})",
                pipe_rate,
                "events/s",
            ),
            Row("B1 append", f"raw psycopg INSERT, {size} B ({each})", raw_rate, "events/s"),
            Row(
                "B1 append",
                "app.execute latency per command",
                statistics.median(latencies),
                "ms",
                p99(latencies),
            ),
        ],
        ratios=[
            f"B1 app/raw events/s = {app_rate / raw_rate:.2f} "
            f"(app rounds {', '.join(f'{x:.0f}' for x in app_rates)}; "
            f"raw rounds {', '.join(f'{x:.0f}' for x in raw_rates)})",
            f"B1 app/pipelined events/s = {app_rate / pipe_rate:.2f} "
            f"(pipelined rounds {', '.join(f'{x:.0f}' for x in pipe_rates)})",
        ],
        notes=[
            f"B1: {cases} open cases, AddNote commands round-robin, staff actor; raw payload = "
            f"average stored state of casework_events ({size} B, sealed note + meta + prev_hash)."
            " The pipelined arm is the write path before it stopped using psycopg's pipeline."
        ],
    )


def cache_bypassed_for_versions() -> bool:
    """Whether eventsourcing's Repository.get consults its cache only when no version is asked."""
    return "if self.cache and version is None" in inspect.getsource(Repository.get)


def as_of(version: int, label: str) -> str:
    return f"get_case(version={version}), {label}"


def snapshot_count(app: CaseworkApp, case_id: UUID) -> int:
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute(
            "SELECT count(*) AS n FROM casework_snapshots WHERE originator_id = %s", (case_id,)
        )
        return int(curs.fetchone()["n"])


def bench_as_of(
    database: Database, master_key: bytes, events: int = 500, reads: int = 50
) -> Report:
    versions = (events, events - 1)
    app = CaseworkApp(database, master_key)
    plain = None
    try:
        progress(f"B2 as-of read: recording a case of {events} events")
        (case_id,) = open_cases(app, 1, first=100)
        for _ in range(events - 1):
            add_note(app, case_id)
        plain = CaseworkApp(database, master_key, IS_SNAPSHOTTING_ENABLED="n")
        assert app.snapshots is not None
        assert plain.snapshots is None
        variants: dict[str, Callable[[], ClientCase]] = {
            as_of(v, label): partial(application.get_case, case_id, version=v)
            for label, application in (("snapshots", app), ("no snapshots", plain))
            for v in versions
        }
        variants["get_case() latest, cached"] = partial(app.get_case, case_id)
        assert plain.get_case(case_id, version=events - 1).version == events - 1
        assert app.get_case(case_id).version == events
        for read in variants.values():  # warm-up: the client key, prepared statements
            read()
        samples = interleaved_ms(variants, reads)
        snapshots = snapshot_count(app, case_id)
    finally:
        app.close()
        if plain is not None:
            plain.close()
    median = {name: statistics.median(ms) for name, ms in samples.items()}
    bypass = (
        f"checked in eventsourcing {version('eventsourcing')} Repository.get: the aggregate cache "
        "is used only `if self.cache and version is None`, so every version= read reconstructs "
        "from the latest snapshot at or below that version plus the events after it (from all "
        "events without snapshots)"
        if cache_bypassed_for_versions()
        else "WARNING: Repository.get no longer reads `if self.cache and version is None`; "
        "check whether version= reads now hit the aggregate cache"
    )
    return Report(
        rows=[Row("B2 as-of read", n, median[n], "ms", p99(ms)) for n, ms in samples.items()],
        ratios=[
            f"B2 no-snapshots/snapshots median, version={v}: "
            f"{median[as_of(v, 'no snapshots')] / median[as_of(v, 'snapshots')]:.1f}×"
            for v in versions
        ],
        notes=[
            f"B2: one case of {events} events (CaseOpened + AddNote); {reads} passes, each "
            "reading every row once (interleaved), after one warm-up read; p99 of "
            f"{reads} samples is close to the slowest read. {snapshots} snapshots stored (every "
            f"{SNAPSHOT_INTERVAL} events), so version={events} starts from a snapshot with no "
            f"events after it and version={events - 1} from the snapshot at "
            f"{events - SNAPSHOT_INTERVAL} plus {SNAPSHOT_INTERVAL - 1} events.",
            f"B2: {bypass}. The 'latest, cached' row is the cache path for comparison "
            "(cache hit, fast-forward query, deepcopy).",
        ],
    )
