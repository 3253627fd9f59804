"""B3 what integrity costs: the whole chain verified (each read of a case) against the check
before a write, on cases of 50 and 500 events."""

from __future__ import annotations

import statistics
from functools import partial

from bench.event_store import add_note, open_cases, progress
from bench.harness import Report, Row, interleaved_ms, p99
from casework.application import CaseworkApp
from casework.db import Database

SIZES = (50, 500)


def bench_integrity(database: Database, master_key: bytes, reads: int = 200) -> Report:
    app = CaseworkApp(database, master_key)
    try:
        variants = {}
        for first, events in enumerate(SIZES, start=200):
            progress(f"B3 integrity: recording a case of {events} events")
            (case_id,) = open_cases(app, 1, first=first)
            for _ in range(events - 1):
                add_note(app, case_id)
            variants[f"verify, {events} events"] = partial(app.integrity.verify, case_id)
            variants[f"guard, {events} events"] = partial(app.integrity.guard, case_id)
            variants[f"get_case() latest, cached, {events} events"] = partial(app.get_case, case_id)
        app.integrity.checkpoint(wait=True)
        (written,) = open_cases(app, 1, first=210)
        variants["add_note (guard included)"] = partial(add_note, app, written)
        for check in variants.values():  # warm-up: prepared statements, the client key
            check()
        samples = interleaved_ms(variants, reads)
    finally:
        app.close()
    median = {name: statistics.median(ms) for name, ms in samples.items()}
    return Report(
        rows=[Row("B3 integrity", n, median[n], "ms", p99(ms)) for n, ms in samples.items()],
        ratios=[
            f"B3 verify/guard median, {events} events: "
            f"{median[f'verify, {events} events'] / median[f'guard, {events} events']:.1f}×"
            for events in SIZES
        ],
        notes=[
            f"B3: {reads} interleaved passes after one warm-up, one checkpoint covering both "
            "cases. verify reads every row and HMACs it (what GET /api/cases/{id} adds); guard "
            "is the check before each write (head, newest checkpoint, remembered break). "
            f"add_note runs on a case that grows from 1 to {reads + 2} events during the run.",
        ],
    )
