"""Run the benchmarks against a fresh embedded PostgreSQL, print a table, append to RESULTS.md.

`python -m bench` runs them all (B1-B3, P1-P5, P7); `python -m bench p1 p2` runs only those
named. P1-P3 also start a Temporal dev server on free ports, stopped at the end. P5 seeds
BENCH_P5_CASES journeys (default 100,000, about 2 million events; some 20 minutes here).
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Callable

from bench import harness, read_side
from bench.event_store import bench_append, bench_as_of
from bench.integrity import bench_integrity
from casework.db import create_database

BENCHES = ("b1", "b2", "b3", "p1", "p2", "p3", "p4", "p5", "p7")


def selected(argv: list[str]) -> set[str]:
    which = {name.lower() for name in argv} or set(BENCHES)
    if unknown := which - set(BENCHES):
        names = ", ".join(sorted(unknown))
        sys.exit(f"unknown benchmark {names}: choose from {', '.join(BENCHES)}")
    return which


def main(argv: list[str]) -> None:
    which = selected(argv)
    started = harness.now()
    master_key = os.urandom(32)
    report = harness.Report()
    failed: list[str] = []

    def run(name: str, bench: Callable[[], harness.Report]) -> None:
        """One benchmark; a failure is reported, and the others' figures are still kept."""
        try:
            report.extend(bench())
        except Exception:
            failed.append(name)
            traceback.print_exc()
            report.notes.append(f"{name} failed: {traceback.format_exc(limit=1).splitlines()[-1]}")

    with harness.embedded_postgres() as server:
        info = harness.machine_info(server)
        if "b1" in which:
            run("B1", lambda: bench_append(create_database(server, "bench_append"), master_key))
        if "b2" in which:
            run("B2", lambda: bench_as_of(create_database(server, "bench_as_of"), master_key))
        if "b3" in which:
            run("B3", lambda: bench_integrity(create_database(server, "bench_b3"), master_key))
        if "p7" in which:
            run("P7", lambda: read_side.bench_import(server, master_key))
        if "p4" in which:
            run("P4", lambda: read_side.bench_rebuild(server, master_key))
        if "p5" in which:
            cases = int(os.environ.get("BENCH_P5_CASES", "100000"))
            run("P5", lambda: read_side.bench_reads_at_scale(server, master_key, cases))
        if which & {"p1", "p2", "p3"}:
            from bench.api import bench_api

            with harness.temporal_dev_server() as temporal:
                info += "; " + harness.temporal_info()
                database = create_database(server, "bench_api")
                run(
                    "/".join(sorted(which & {"p1", "p2", "p3"})).upper(),
                    lambda: asyncio.run(bench_api(database, master_key, temporal, which)),
                )
    seconds = harness.now() - started
    info += f"; load average at end {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    print(f"\n{info}\n\n{harness.table(report.rows)}\n")
    print("\n".join([*report.ratios, "", *report.notes]))
    harness.append_results(report, info, seconds)
    print(f"\nAppended to {harness.RESULTS} ({seconds:.0f} s).")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
