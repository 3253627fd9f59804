"""Run every benchmark against a fresh embedded PostgreSQL, print a table, append to RESULTS.md."""

from __future__ import annotations

import os

from bench import harness
from bench.event_store import bench_append, bench_as_of
from casework.db import create_database


def main() -> None:
    started = harness.now()
    master_key = os.urandom(32)
    report = harness.Report()
    with harness.embedded_postgres() as server:
        info = harness.machine_info(server)
        report.extend(bench_append(create_database(server, "bench_append"), master_key))
        report.extend(bench_as_of(create_database(server, "bench_as_of"), master_key))
    seconds = harness.now() - started
    print(f"\n{info}\n\n{harness.table(report.rows)}\n")
    print("\n".join([*report.ratios, "", *report.notes]))
    harness.append_results(report, info, seconds)
    print(f"\nAppended to {harness.RESULTS} ({seconds:.0f} s).")


if __name__ == "__main__":
    main()
