"""P4 view rebuild, P5 reads at scale and P7 bulk import, each against a baseline in one run."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from bench.event_store import progress
from bench.harness import Report, Row, interleaved_ms, now, p99
from bench.journeys import journeys
from casework.application import CaseworkApp
from casework.db import Database, create_database
from casework.demo import sample_business_id
from casework.domain import commands as c
from casework.domain import employer as emp
from casework.domain.policy import shipped_policy
from casework.domain.reference import reference
from casework.importer import batched, decode_line, import_journeys, replay_journey
from projections import queries
from projections.cases import CaseViews
from projections.figures import compute
from projections.rebuild import Progress, rebuild
from projections.service import Projections

IMPORTER = c.Actor("bench-import", "staff", "*")
COORDINATOR = c.Actor("bench-coordinator", "coordinator", "*")
# A batch eventsourcing's pipelined INSERT takes here without hanging (see the notes).
PUT_BATCH = 10
P4_GOAL, P5_GOAL_P99, P7_GOAL = 0.5, 20.0, 2.0


# P7


def _put(app: CaseworkApp, lines: list[str]) -> None:
    """The baseline: the same journeys replayed in this process (a new client each) and their
    events saved through EventStore.put, `PUT_BATCH` journeys at a time."""
    now = datetime.now(UTC)
    for chunk in batched(lines, PUT_BATCH):
        events = []
        for text in chunk:
            journey, code = decode_line(text)
            client = app.clients.prepare(code)
            case = replay_journey(journey, code, client.client_id, IMPORTER, now)
            app.keyring.remember_case(case.id, client.client_id)
            events += case.collect_events()
        app.events.put(events)


IMPORT_WORKERS = 2
P7_SIDES: dict[str, Callable[[CaseworkApp, list[str]], object]] = {
    "import": lambda app, lines: import_journeys(app, lines, IMPORTER, workers=IMPORT_WORKERS),
    "one process": lambda app, lines: import_journeys(app, lines, IMPORTER, workers=1),
    "put": _put,
}


def bench_import(server: Database, master_key: bytes, cases: int = 6000, rounds: int = 3) -> Report:
    lines = list(journeys(cases, seed=7))
    events = 0
    seconds: dict[str, list[float]] = {side: [] for side in P7_SIDES}
    order = list(P7_SIDES)
    for r in range(rounds):
        progress(f"P7 bulk import: round {r + 1}/{rounds}, {cases} journeys each way")
        for side in order[r % 3 :] + order[: r % 3]:
            app = CaseworkApp(create_database(server, f"bench_p7_{side}_{r}"), master_key)
            try:
                started = now()
                P7_SIDES[side](app, lines)
                seconds[side].append(now() - started)
                events = app.recorder.max_notification_id() or 0
            finally:
                app.close()
    rate = {side: events / statistics.median(s) for side, s in seconds.items()}
    return Report(
        rows=[
            Row(
                "P7 bulk import",
                f"casework import, {IMPORT_WORKERS} preparing processes (COPY per 200 journeys, "
                "written while the next batch is prepared)",
                rate["import"],
                "events/s",
            ),
            Row(
                "P7 bulk import",
                "casework import, prepared in its own process",
                rate["one process"],
                "events/s",
            ),
            Row(
                "P7 bulk import",
                f"the same journeys replayed, EventStore.put per {PUT_BATCH} journeys",
                rate["put"],
                "events/s",
            ),
        ],
        ratios=[
            f"P7 import/put events/s = {rate['import'] / rate['put']:.2f} (goal ≥ {P7_GOAL}); "
            f"in one process {rate['one process'] / rate['put']:.2f}; seconds per round: "
            + "; ".join(
                f"{side} " + ", ".join(f"{x:.1f}" for x in s) for side, s in seconds.items()
            )
        ],
        notes=[
            f"P7: {cases} seeded journeys ({events:,} events, bench/journeys.py) into a fresh "
            "database per side and round (who goes first rotates). Every side decodes each line, "
            "makes a new client key, replays the journey through the aggregate, seals and "
            "hash-chains its events. The import (import_journeys, as `casework import` runs "
            f"it) also looks each batch's identity codes up in one query; {IMPORT_WORKERS} "
            "processes of its own replay, seal and chain, and a writer thread COPYs events, new "
            "clients, case register, chain heads and register reads in one transaction per "
            "batch while the next batch is prepared. 'Prepared in its own process' is the same "
            "with workers=1. The baseline replays in this process and hands the domain events "
            "to EventStore.put, the path Application.save takes (one pipelined INSERT of the "
            "batch), and writes no side records; its batch is 10 journeys (about 200 events): "
            "with 50 or 100, psycopg 3.3.9's pipeline hung in sync() with the server waiting in "
            "ClientRead (one statement with a parameter of about 1 MB).",
        ],
    )


# P4


def raw_read_rate(app: CaseworkApp, decode: bool) -> float:
    """Events/s reading the whole notification log in the rebuild's batches."""
    position, count, started = 0, 0, now()
    while batch := app.recorder.select_notifications(start=position + 1, limit=500):
        if decode:
            for notification in batch:
                app.mapper.to_domain_event(notification)
        position, count = batch[-1].id, count + len(batch)
    return count / (now() - started)


def rebuild_rate(app: CaseworkApp, projections: Projections, name: str) -> float:
    """Events/s of a full rebuild while it builds (its progress rate at the end, so the wait
    for readers to move before the old tables are dropped is not counted)."""
    reported: list[Progress] = []
    rebuild(app, projections, name, reported.append)
    return reported[-1].rate


def register_employers(app: CaseworkApp, count: int) -> None:
    """Employers for the employers view: each registered and tagged, every other with a vacancy."""
    ctx = app.context(COORDINATOR)
    areas, sectors = list(reference().areas), list(reference().sectors)
    employers = []
    for n in range(count):
        cmd = emp.RegisterEmployer(
            business_id=sample_business_id(2_000_000 + n * 7), name=f"Employer {n}",
            sector=sectors[n % len(sectors)], area=areas[n % len(areas)],
        )  # fmt: skip
        employer = emp.Employer.register(uuid4(), cmd, ctx)
        employer.execute(emp.AddInterestTag(), ctx)
        if n % 2:
            employer.execute(emp.OpenVacancy(title="Varastotyöntekijä", sector=cmd.sector), ctx)
        employers.append(employer)
    for chunk in batched(employers, 100):
        app.save(*chunk)


def bench_rebuild(
    server: Database, master_key: bytes, cases: int = 5000, employers: int = 1000, rounds: int = 3
) -> Report:
    app = CaseworkApp(create_database(server, "bench_p4"), master_key)
    try:
        progress(f"P4 rebuild: importing {cases} journeys, registering {employers} employers")
        import_journeys(app, journeys(cases, seed=4), IMPORTER)
        register_employers(app, employers)
        events = app.recorder.max_notification_id() or 0
        projections = Projections(app, shipped_policy())
        rates: dict[str, list[float]] = {"raw": [], "raw+decode": []}
        for r in range(rounds):
            progress(f"P4 rebuild: round {r + 1}/{rounds}")
            rates["raw"].append(raw_read_rate(app, decode=False))
            rates["raw+decode"].append(raw_read_rate(app, decode=True))
            for name in projections.factories:
                rates.setdefault(name, []).append(rebuild_rate(app, projections, name))
    finally:
        app.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    rows = [
        Row("P4 rebuild", "raw read of the notification log (500 per select)", median["raw"],
            "events/s"),
        Row("P4 rebuild", "raw read + decode to domain events", median["raw+decode"], "events/s"),
    ]  # fmt: skip
    views = [name for name in rates if name not in ("raw", "raw+decode")]
    rows += [
        Row("P4 rebuild", f"rebuild view '{name}'", median[name], "events/s") for name in views
    ]
    return Report(
        rows=rows,
        ratios=[
            f"P4 rebuild '{name}'/raw read = {median[name] / median['raw']:.2f} (goal ≥ {P4_GOAL});"
            f" against raw read + decode {median[name] / median['raw+decode']:.2f}"
            for name in views
        ],
        notes=[
            f"P4: {cases} seeded journeys imported and {employers} employers registered (each "
            f"tagged, every other with a vacancy), {events:,} events in all; then {rounds} "
            "rounds of: raw read, raw read + decode of every event, a full rebuild of each view "
            "(batches of 500 events, one transaction and tracking record each). A view decodes "
            "only the topics it applies: the case list every case event, the indicators those "
            "that count, the employers only employers' events.",
        ],
    )


# P5


def case_row(views: CaseViews, case_id: UUID) -> Any:
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(views.sql("SELECT * FROM {table} WHERE case_id = %s"), (case_id,))
        return curs.fetchone()


def database_size(app: CaseworkApp) -> str:
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute("SELECT pg_size_pretty(pg_database_size(current_database())) AS size")
        return curs.fetchone()["size"]  # type: ignore[index]


def bench_reads_at_scale(server: Database, master_key: bytes, cases: int = 100_000) -> Report:
    database = create_database(server, "bench_p5")
    app = CaseworkApp(database, master_key)
    try:
        started = now()
        last = [0.0]

        def report(r: Any) -> None:
            if now() - last[0] > 15:
                last[0] = now()
                progress(f"P5: imported {r.lines:,}/{cases:,} journeys, {r.events:,} events")

        result = import_journeys(
            app, journeys(cases, seed=5), IMPORTER, report, workers=IMPORT_WORKERS
        )
        import_seconds = now() - started
        projections = Projections(app, shipped_policy())
        build: dict[str, float] = {}
        for name in projections.factories:
            progress(f"P5: building view '{name}' from {result.events:,} events")
            build[name] = rebuild_rate(app, projections, name)
        area = "helsinki"
        at = datetime.now(UTC)
        views = projections.cases
        indicators = projections.indicators
        probe = result.open_cases[len(result.open_cases) // 2]
        reads = {
            "stalled queue, one area (first page of 50)": lambda: queries.stalled_queue(
                views, at, area=area
            ),
            "stalled queue, one area, at risk within 5 working days": lambda: queries.stalled_queue(
                views, at, area=area, at_risk_days=5
            ),
            "partner inbox (first page of 50)": lambda: queries.partner_inbox(views, "kela"),
            "indicators, one area, 12 months (2025)": lambda: compute(
                indicators, date(2025, 1, 1), date(2025, 12, 1), area
            ),
            "baseline: one case-list row by id": lambda: case_row(views, probe),
        }
        for fn in reads.values():
            fn()  # warm
        samples = interleaved_ms(reads, 200)
        size = database_size(app)
    finally:
        app.close()
    rows = [
        Row("P5 reads at scale", name, statistics.median(s), "ms", p99(s))
        for name, s in samples.items()
    ]
    base = statistics.median(samples["baseline: one case-list row by id"])
    return Report(
        rows=rows,
        ratios=[
            f"P5 '{name}' median/baseline = {statistics.median(s) / base:.1f}×; p99 "
            f"{p99(s):.1f} ms (goal ≤ {P5_GOAL_P99:.0f} ms)"
            for name, s in samples.items()
            if not name.startswith("baseline")
        ],
        notes=[
            f"P5: {cases:,} seeded journeys, {result.events:,} events, "
            f"{len(result.open_cases):,} open cases, imported by {IMPORT_WORKERS} preparing "
            f"processes in {import_seconds:.0f} s "
            f"({result.events / import_seconds:,.0f} events/s); views built by rebuild at "
            + ", ".join(f"{name} {rate:,.0f} events/s" for name, rate in build.items())
            + f". Database {size}. Reads call the query functions the API routes call "
            "(projections.queries, projections.figures.compute), 200 interleaved passes; "
            f"area '{area}' is about a quarter of the cases.",
        ],
    )
