"""P3: from a staff command to its effect in the case list, under the P2 command load.

A probe client sends add_note to a case of its own while 16 clients keep the API busy (as in
P2); a thread on its own connection polls the case-list row every millisecond from the moment
the command is sent, and notes when the new version is there. The views run as under
`casework up`: in the service's process, following the log.
"""

from __future__ import annotations

import asyncio
import threading
import time
from statistics import median
from uuid import UUID

import psycopg

from bench.api import Stack, concurrent_round
from bench.event_store import progress
from bench.harness import Report, Row, now, p99

P3_GOAL_P99 = 100.0


class Poller:
    """Watches one case's row in the case list from a thread, on a connection of its own."""

    def __init__(self, stack: Stack) -> None:
        self.conninfo = stack.cpu.database.conninfo
        self.views = stack.projections

    def seen_at(self, case_id: UUID, version: int, stop: threading.Event) -> float | None:
        """When the row first shows `version` (perf_counter seconds), polling every 1 ms."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not stop.is_set():
                query = self.views.cases.sql("SELECT version FROM {table} WHERE case_id = %s")
                row = conn.execute(query, (case_id,)).fetchone()  # type: ignore[arg-type]
                if row and row[0] >= version:
                    return now()
                time.sleep(0.001)
        return None


async def probe(stack: Stack, poller: Poller, case_id: UUID, version: int) -> tuple[float, float]:
    """(command sent → visible, answer received → visible) in ms; the second is 0 when the row
    was there before the answer."""
    stop = threading.Event()
    watching = asyncio.create_task(asyncio.to_thread(poller.seen_at, case_id, version, stop))
    sent = now()
    try:
        await stack.api_command(case_id)
        answered = now()
        seen = await asyncio.wait_for(watching, timeout=30)
    finally:
        stop.set()
    assert seen is not None
    return (seen - sent) * 1000, max(0.0, seen - answered) * 1000


async def bench_visibility(
    stack: Stack, clients: int = 16, cases_each: int = 4, seconds: float = 60.0
) -> Report:
    load_cases = await stack.open_api_cases(clients * cases_each, first=5000)
    groups = [load_cases[i::clients] for i in range(clients)]
    (probe_case,) = await stack.open_api_cases(1, first=5900)
    stack.projections.start()
    poller = Poller(stack)
    try:
        while any(status.lag_events for status in stack.projections.status()):
            await asyncio.sleep(0.2)  # the views catch up with what came before
        version = await asyncio.to_thread(current_version, stack, probe_case)
        progress(f"P3 write → visible: {seconds:.0f} s of probes under {clients} clients' load")
        load = asyncio.create_task(concurrent_round(stack.api_command, groups, seconds))
        sent_ms: list[float] = []
        answered_ms: list[float] = []
        await asyncio.sleep(1.0)  # let the load reach full concurrency
        while not load.done():
            version += 1
            to_visible, after_answer = await probe(stack, poller, probe_case, version)
            sent_ms.append(to_visible)
            answered_ms.append(after_answer)
        throughput = await load
        lag = max(status.lag_events for status in stack.projections.status())
    finally:
        stack.projections.stop()
    return Report(
        rows=[
            Row(
                "P3 write → visible",
                "command sent → in the case list",
                median(sent_ms),
                "ms",
                p99(sent_ms),
            ),
            Row(
                "P3 write → visible",
                "answer received → in the case list",
                median(answered_ms),
                "ms",
                p99(answered_ms),
            ),
            Row(
                "P3 write → visible",
                "load: API commands/s meanwhile",
                throughput.rate,
                "commands/s",
            ),
        ],
        ratios=[
            f"P3 answer → visible p99 = {p99(answered_ms):.1f} ms (goal ≤ {P3_GOAL_P99:.0f} ms); "
            f"{sum(1 for ms in answered_ms if ms == 0)} of {len(answered_ms)} probes were "
            "visible before their answer arrived"
        ],
        notes=[
            f"P3: {len(sent_ms)} sequential probes (add_note on one case) during {seconds:.0f} s "
            f"of P2's load ({clients} clients × {cases_each} cases, {throughput.done} commands, "
            f"{throughput.errors} errors); all three views run in the service's process, each "
            f"applying what has arrived in one transaction; largest view lag at the end {lag} "
            "events. The poll reads "
            "the row the case list is served from, every 1 ms, on its own connection.",
        ],
    )


def current_version(stack: Stack, case_id: UUID) -> int:
    return stack.app.get_case(case_id).version
