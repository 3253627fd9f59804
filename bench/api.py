"""P1 sequential and P2 concurrent staff commands over HTTP, against the bare Temporal floor.

One asyncio loop holds everything, as `casework up` does: the journey worker, the floor worker,
the API served by uvicorn on a loopback port, and the httpx client that drives it. A command is
`POST /api/cases/{id}/commands/add_note` → Temporal update on the journey → local activity →
`app.execute` → PostgreSQL. The floor is bench/floor.py: an update whose handler runs one local
activity that appends one event through the same app. Both are measured in alternating rounds.
P2 also runs the same HTTP clients from a process of their own (bench/http_client.py), so that
the service's process and its GIL carry only the service.

Where the time goes is measured on every run: stage durations timed from bench code (subclasses
of the app and of Journeys; nothing in src/ is changed) and CPU per command by process and by
kind of thread, from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import msgspec
import structlog
from anyio import to_thread
from temporalio.client import Client

from bench import http_client
from bench.event_store import NOTE, STAFF, progress
from bench.floor import FloorWorkflow, build_floor_worker, floor_id
from bench.harness import (
    DevServer,
    Report,
    Row,
    cpu_seconds,
    free_port,
    now,
    own_threads_cpu,
    p99,
    postgres_pids,
)
from casework.api.auth import Authenticator, Claims
from casework.application import CaseworkApp, CommandResult
from casework.db import Database
from casework.demo import sample_identity_code
from casework.domain import commands as c
from casework.domain.case import ClientCase
from casework.domain.policy import shipped_policy
from casework.domain.state import CaseState
from casework.logs import configure_logging
from casework.service import Engines, api_server, hand_the_gil_over_quickly
from casework.settings import Settings
from projections.service import Projections
from workflows.client import Journeys
from workflows.messages import CommandOutcome
from workflows.worker import build_worker, connect

JOURNEY_QUEUE = "bench-journeys"
FLOOR_QUEUE = "bench-floor"
P1_GOAL_RATIO, P1_GOAL_P99, P2_GOAL_RATIO = 1.3, 60.0, 0.5
P1_SIDES = {"api": "API", "floor": "floor"}
P2_SIDES = {"api": "API", "api-client-process": "API, client process", "floor": "floor"}

Command = Callable[[UUID], Awaitable[None]]


class CommandFailed(Exception):
    pass


def identity_code(i: int) -> str:
    """A distinct valid identity code per `i` (below 40,000): one birth date each."""
    return sample_identity_code(date(1960, 1, 1) + timedelta(days=i), 950)


class Stages:
    """Per-command stage durations (ms) by name; timed from the bench, nothing in src/ changed.

    Activities run on the worker's threads; list.append is atomic, and the benches that read
    these run one command at a time.
    """

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, name: str, began: float) -> None:
        self.samples.setdefault(name, []).append((now() - began) * 1000)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = now()
        try:
            yield
        finally:
            self.add(name, began)

    def take(self) -> dict[str, list[float]]:
        taken, self.samples = self.samples, {}
        return taken


STAGES = Stages()


class TimedApp(CaseworkApp):
    """The app with its write and any read timed: what the local activity spends in them.

    get_case is timed only when called from outside execute (which loads the case itself).
    """

    inside = threading.local()

    def execute_with_state(
        self, *args: object, **kwargs: object
    ) -> tuple[CommandResult, CaseState]:
        self.inside.execute = True
        try:
            with STAGES.timed("app.execute"):
                return super().execute_with_state(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            self.inside.execute = False

    def get_case(self, case_id: UUID, version: int | None = None) -> ClientCase:
        if getattr(self.inside, "execute", False):
            return super().get_case(case_id, version)
        with STAGES.timed("app.get_case"):
            return super().get_case(case_id, version)


class TimedJourneys(Journeys):
    """The API's Temporal client side, timed: the update round trip as the API sees it."""

    async def run(self, *args: object, **kwargs: object) -> CommandOutcome:
        with STAGES.timed("update (journey)"):
            return await super().run(*args, **kwargs)  # type: ignore[arg-type]


SERVER, POSTGRES = "Temporal server", "PostgreSQL"
PYTHON = ("main thread (event loop)", "other threads")


class CpuMeter:
    """CPU seconds per command by part of the system, over the windows measured for each side."""

    def __init__(self, temporal_pid: int, database: Database) -> None:
        self.temporal_pid, self.database = temporal_pid, database
        self.spent: dict[str, Counter[str]] = {}
        self.commands: Counter[str] = Counter()

    def _read(self, pg_pids: list[int]) -> Counter[str]:
        parts = Counter(own_threads_cpu())
        parts[SERVER] = cpu_seconds(Path(f"/proc/{self.temporal_pid}/stat"))
        parts[POSTGRES] = sum(cpu_seconds(Path(f"/proc/{pid}/stat")) for pid in pg_pids)
        return parts

    @contextlib.contextmanager
    def window(self, side: str) -> Iterator[Callable[..., None]]:
        """Measure a window; the caller says how many commands it completed (and may add the
        CPU seconds of parts measured elsewhere, such as a client process)."""
        pg_pids = postgres_pids(self.database)
        before = self._read(pg_pids)
        done, extra = 0, Counter[str]()

        def completed(commands: int, **parts: float) -> None:
            nonlocal done
            done = commands
            extra.update(parts)

        yield completed
        spent = self._read(pg_pids)
        spent.subtract(before)
        spent.update(extra)
        self.spent.setdefault(side, Counter()).update(spent)
        self.commands[side] += done

    def per_command_ms(self, side: str) -> dict[str, float]:
        n = max(1, self.commands[side])
        return {part: secs * 1000 / n for part, secs in self.spent.get(side, Counter()).items()}

    def take(self) -> dict[str, dict[str, float]]:
        """CPU ms per command by part, for each side measured; then start afresh."""
        taken = {side: self.per_command_ms(side) for side in self.spent}
        self.spent, self.commands = {}, Counter()
        return taken


def cpu_split(cpu: dict[str, dict[str, float]], sides: dict[str, str]) -> str:
    """'part a / b / c' for each part, in the order of `sides` (side → label)."""
    parts = list(dict.fromkeys(part for side in sides for part in cpu.get(side, {})))

    def values(of: Callable[[dict[str, float]], float]) -> str:
        return " / ".join(f"{of(cpu.get(side, {})):.1f}" for side in sides)

    listed = ", ".join(f"{part} {values(lambda c, p=part: c.get(p, 0.0))}" for part in parts)
    return f"{' / '.join(sides.values())}: {listed}; total {values(lambda c: sum(c.values()))}"


def cpu_rows(bench: str, cpu: dict[str, dict[str, float]], sides: dict[str, str]) -> list[Row]:
    return [
        Row(bench, f"{label}: CPU of all processes per command", sum(cpu[side].values()),
            "CPU ms")
        for side, label in sides.items()
        if side in cpu
    ]  # fmt: skip


@dataclass
class Stack:
    app: CaseworkApp
    client: Client
    http: httpx.AsyncClient
    log_path: Path
    cpu: CpuMeter
    token: str
    projections: Projections

    async def api_command(self, case_id: UUID) -> None:
        with STAGES.timed("HTTP (API)"):
            response = await self.http.post(
                f"/api/cases/{case_id}/commands/add_note", json={"text": NOTE}
            )
        if response.status_code != 200:
            raise CommandFailed(f"{response.status_code} {response.text[:200]}")

    async def floor_command(self, case_id: UUID) -> None:
        with STAGES.timed("update (floor)"):
            handle = self.client.get_workflow_handle(floor_id(case_id))
            await handle.execute_update(FloorWorkflow.append, case_id)

    async def open_api_cases(self, count: int, first: int) -> list[UUID]:
        async def one(i: int) -> UUID:
            body = {"identity_code": identity_code(first + i), "area": "helsinki",
                    "team": "helsinki-services"}  # fmt: skip
            response = await self.http.post("/api/cases", json=body)
            if response.status_code != 201:
                raise CommandFailed(f"opening: {response.status_code} {response.text[:200]}")
            return UUID(response.json()["id"])

        return await gather_limited([lambda i=i: one(i) for i in range(count)], 16)

    async def open_floor_cases(self, count: int, first: int) -> list[UUID]:
        def open_case(i: int) -> UUID:
            cmd = c.OpenCase(
                identity_code=identity_code(first + i), area="helsinki", team="helsinki-services"
            )
            return self.app.open_case(cmd, self.app.context(STAFF)).case_id

        async def one(i: int) -> UUID:
            case_id = await to_thread.run_sync(open_case, i)
            await self.client.start_workflow(
                FloorWorkflow.run, id=floor_id(case_id), task_queue=FLOOR_QUEUE
            )
            return case_id

        return await gather_limited([lambda i=i: one(i) for i in range(count)], 8)


async def gather_limited(calls: list[Callable[[], Awaitable[UUID]]], limit: int) -> list[UUID]:
    gate = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[UUID]]) -> UUID:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(run(call) for call in calls)))


@contextlib.contextmanager
def service_logs(path: Path) -> Iterator[None]:
    """The service's own logging set-up (configure_logging, level info), written to a file.

    As under `casework up`, every request logs one structlog line; here to `path` rather than the
    terminal.
    """
    with path.open("a") as sink:
        with contextlib.redirect_stderr(sink):
            configure_logging("info")
        try:
            yield
        finally:
            structlog.reset_defaults()


@contextlib.asynccontextmanager
async def service_stack(
    database: Database, master_key: bytes, temporal: DevServer
) -> AsyncIterator[Stack]:
    """App, both workers, the API on uvicorn and an httpx client with a staff token, one loop.

    The API server is built by casework.service.api_server, as `casework up` builds it. The
    projections are constructed (the API needs them); only P3 starts them.
    """
    log_dir = Path(tempfile.mkdtemp(prefix="cwb-logs-"))
    log_path = log_dir / "service.log"
    hand_the_gil_over_quickly()  # as engines() does for every service process
    app = TimedApp(database, master_key)
    try:
        with service_logs(log_path):
            client = await connect(temporal.address, "default", master_key)
            policy = shipped_policy()
            journeys = TimedJourneys(client, JOURNEY_QUEUE, policy)
            projections = Projections(app, policy)
            engines = Engines(app, client, journeys, projections)
            settings = Settings(
                auth_secret=secrets.token_urlsafe(48), http_host="127.0.0.1", http_port=free_port()
            )
            server = api_server(settings, engines)
            auth = Authenticator(settings.auth_secret or "", settings.auth_issuer,
                                 settings.auth_audience)  # fmt: skip
            token = auth.mint(Claims(sub=STAFF.id, role="staff", area="helsinki"))
            async with (
                build_worker(client, app, JOURNEY_QUEUE),
                build_floor_worker(client, app, FLOOR_QUEUE),
            ):
                serving = asyncio.create_task(server.serve())
                try:
                    while not server.started:
                        if serving.done():
                            serving.result()
                            raise RuntimeError("uvicorn stopped before it started")
                        await asyncio.sleep(0.02)
                    async with httpx.AsyncClient(
                        base_url=f"http://{settings.http_host}:{settings.http_port}",
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=30,
                    ) as http:
                        cpu = CpuMeter(temporal.pid, database)
                        yield Stack(app, client, http, log_path, cpu, token, projections)
                finally:
                    server.should_exit = True
                    await serving
    finally:
        app.close()
        shutil.rmtree(log_dir, ignore_errors=True)


# P1


async def sequential_ms(command: Command, case_ids: list[UUID], commands: int) -> list[float]:
    latencies = []
    for i in range(commands):
        began = now()
        await command(case_ids[i % len(case_ids)])
        latencies.append((now() - began) * 1000)
    return latencies


def median_ms(samples: dict[str, list[float]], name: str) -> float:
    return statistics.median(samples[name]) if samples.get(name) else float("nan")


async def bench_sequential(
    stack: Stack, rounds: int = 6, commands: int = 50, cases: int = 10, warmup: int = 30
) -> Report:
    api_cases = await stack.open_api_cases(cases, first=1000)
    floor_cases = await stack.open_floor_cases(cases, first=2000)
    sides = {
        "api": lambda: sequential_ms(stack.api_command, api_cases, commands),
        "floor": lambda: sequential_ms(stack.floor_command, floor_cases, commands),
    }
    await sequential_ms(stack.api_command, api_cases, warmup)
    await sequential_ms(stack.floor_command, floor_cases, warmup)
    STAGES.take()
    stack.cpu.take()
    samples: dict[str, list[float]] = {"api": [], "floor": []}
    stages: dict[str, dict[str, list[float]]] = {"api": {}, "floor": {}}
    for r in range(rounds):  # alternate, and swap who goes first, so drift hits both alike
        progress(f"P1 sequential: round {r + 1}/{rounds}")
        for side in ("api", "floor") if r % 2 == 0 else ("floor", "api"):
            with stack.cpu.window(side) as completed:
                samples[side] += await sides[side]()
                completed(commands)
            for name, ms in STAGES.take().items():
                stages[side].setdefault(name, []).extend(ms)
    api, floor = samples["api"], samples["floor"]
    api_p50, floor_p50, api_p99 = statistics.median(api), statistics.median(floor), p99(api)
    ratio = api_p50 / floor_p50
    each = f"{rounds * commands} sequential, {rounds} alternating rounds"
    s_api, s_floor = stages["api"], stages["floor"]
    gets = len(s_api.get("app.get_case", [])) / max(1, len(s_api.get("app.execute", [])))
    med = {name: median_ms(s_api, name) for name in s_api}
    floor_med = {name: median_ms(s_floor, name) for name in s_floor}
    cpu = stack.cpu.take()
    outside_http = med["HTTP (API)"] - med["update (journey)"]
    outside_app = med["update (journey)"] - med["app.execute"] - gets * med.get("app.get_case", 0.0)
    floor_outside = floor_med["update (floor)"] - floor_med["app.execute"]
    rows = [
        Row("P1 sequential", f"API POST add_note ({each})", api_p50, "ms", api_p99),
        Row("P1 sequential", f"floor update + local activity ({each})", floor_p50, "ms",
            p99(floor)),
        stage_row("P1 stage (API)", "Journeys.run (Temporal update), in the API",
                  s_api["update (journey)"]),
        stage_row("P1 stage (API)", "app.execute in the activity", s_api["app.execute"]),
        *([stage_row("P1 stage (API)", f"app.get_case for the outcome (×{gets:.1f} per command)",
                     s_api["app.get_case"])] if gets else []),
        stage_row("P1 stage (floor)", "app.execute in the activity", s_floor["app.execute"]),
        *cpu_rows("P1 CPU", cpu, P1_SIDES),
    ]  # fmt: skip
    return Report(
        rows=rows,
        ratios=[
            f"P1 API/floor p50 = {ratio:.2f} (goal ≤ {P1_GOAL_RATIO}: "
            f"{'met' if ratio <= P1_GOAL_RATIO else 'MISSED'}); API p99 = {api_p99:.1f} ms "
            f"(goal ≤ {P1_GOAL_P99:.0f} ms: {'met' if api_p99 <= P1_GOAL_P99 else 'MISSED'}); "
            f"floor p99 = {p99(floor):.1f} ms",
            f"P1 where the API's median goes (medians of stages, so only roughly additive): "
            f"HTTP, Litestar and the client outside the update ≈ {outside_http:.1f} ms; the "
            f"Temporal update outside app.execute/get_case ≈ {outside_app:.1f} ms (floor: "
            f"{floor_outside:.1f} ms); app.execute {med['app.execute']:.1f} ms (floor "
            f"{floor_med['app.execute']:.1f} ms)",
            f"P1 CPU ms per command, {cpu_split(cpu, P1_SIDES)}",
        ],
        notes=[
            f"P1: {cases} cases per side opened first (API cases through POST /api/cases, so "
            f"each has its journey; floor cases with app.open_case and a FloorWorkflow each); "
            f"{warmup} warm-up commands per side; then {rounds} rounds of {commands} sequential "
            "add_note commands per side, round-robin over the cases, API and floor alternating "
            "(who goes first swaps each round). Latency is from the client's call to its answer."
        ],
    )


def stage_row(bench: str, variant: str, samples: list[float]) -> Row:
    return Row(bench, variant, statistics.median(samples), "ms", p99(samples))


# P2


@dataclass
class Throughput:
    done: int
    errors: int
    seconds: float
    latencies: list[float]
    first_errors: list[str]

    @property
    def rate(self) -> float:
        return self.done / self.seconds


async def concurrent_round(
    command: Command, groups: list[list[UUID]], seconds: float
) -> Throughput:
    """Each client sends commands to its own cases, one at a time, until the time is up."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = now() + seconds

    async def client(cases: list[UUID]) -> None:
        i = 0
        while now() < deadline:
            began = now()
            try:
                await command(cases[i % len(cases)])
                latencies.append((now() - began) * 1000)
            except Exception as error:  # counted and reported, whatever went wrong
                errors.append(f"{type(error).__name__}: {error}"[:200])
            i += 1

    start = now()
    await asyncio.gather(*(client(cases) for cases in groups))
    return Throughput(len(latencies), len(errors), now() - start, latencies, errors[:3])


async def client_process_round(
    stack: Stack, groups: list[list[UUID]], seconds: float
) -> tuple[Throughput, float]:
    """The same clients in a process of their own (bench.http_client); its CPU seconds too."""
    job = http_client.Job(
        base_url=str(stack.http.base_url).rstrip("/"),
        token=stack.token,
        groups=[[str(case_id) for case_id in cases] for cases in groups],
        seconds=seconds,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.http_client",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    out, _ = await process.communicate(msgspec.json.encode(job))
    if process.returncode != 0:
        raise RuntimeError(f"bench.http_client exited with {process.returncode}")
    o = msgspec.json.decode(out, type=http_client.Outcome)
    return Throughput(o.done, o.errors, o.seconds, o.latencies, o.first_errors), o.cpu_seconds


def rounds_text(results: list[Throughput]) -> str:
    return ", ".join(f"{t.rate:.0f}" for t in results)


async def bench_concurrent(
    stack: Stack, clients: int = 16, cases_each: int = 4, rounds: int = 3, seconds: float = 4.0
) -> Report:
    count = clients * cases_each
    api_cases = await stack.open_api_cases(count, first=3000)
    floor_cases = await stack.open_floor_cases(count, first=4000)
    api_groups = [api_cases[i::clients] for i in range(clients)]
    floor_groups = [floor_cases[i::clients] for i in range(clients)]

    async def run(side: str, seconds: float) -> tuple[Throughput, dict[str, float]]:
        if side == "api-client-process":  # warms itself up for 1 s first
            result, client_cpu = await client_process_round(stack, api_groups, seconds)
            return result, {"client process": client_cpu}
        if side == "api":
            return await concurrent_round(stack.api_command, api_groups, seconds), {}
        return await concurrent_round(stack.floor_command, floor_groups, seconds), {}

    for side in ("api", "floor"):  # warm-up at full concurrency
        await run(side, 1.0)
    stack.cpu.take()
    results: dict[str, list[Throughput]] = {side: [] for side in P2_SIDES}
    order = list(P2_SIDES)
    for r in range(rounds):  # rotate who goes first, so drift hits all alike
        progress(f"P2 {clients} concurrent clients: round {r + 1}/{rounds}")
        for side in order[r % len(order) :] + order[: r % len(order)]:
            with stack.cpu.window(side) as completed:
                result, parts = await run(side, seconds)
                completed(result.done, **parts)
            results[side].append(result)
    STAGES.take()
    cpu = stack.cpu.take()
    rate = {side: statistics.median(t.rate for t in rs) for side, rs in results.items()}
    errors = {side: sum(t.errors for t in rs) for side, rs in results.items()}
    done = {side: sum(t.done for t in rs) for side, rs in results.items()}
    latencies = {side: [ms for t in rs for ms in t.latencies] for side, rs in results.items()}
    ratio = rate["api"] / rate["floor"]
    ratio_apart = rate["api-client-process"] / rate["floor"]
    each = f"{clients} clients × {cases_each} cases, median of {rounds} rounds × {seconds:.0f} s"
    failed = [e for rs in results.values() for t in rs for e in t.first_errors]
    rows = [
        Row("P2 concurrent", f"API POST add_note, httpx client in-process ({each})",
            rate["api"], "commands/s"),
        Row("P2 concurrent", f"API POST add_note, httpx client in its own process ({each})",
            rate["api-client-process"], "commands/s"),
        Row("P2 concurrent", f"floor update + local activity ({each})", rate["floor"],
            "commands/s"),
    ]  # fmt: skip
    rows += [
        Row("P2 concurrent", f"{label}: errors (of {done[side] + errors[side]})", errors[side],
            "count")
        for side, label in P2_SIDES.items()
    ]  # fmt: skip
    rows += [
        Row("P2 concurrent", f"{label}: latency under load", statistics.median(latencies[side]),
            "ms", p99(latencies[side]))
        for side, label in P2_SIDES.items()
        if len(latencies[side]) > 1
    ]  # fmt: skip
    rows += cpu_rows("P2 CPU", cpu, P2_SIDES)
    gil = {side: 1000 / sum(cpu[side].get(part, 0) for part in PYTHON) for side in cpu}
    cores = {side: 2000 / sum(cpu[side].values()) for side in cpu}
    met = ratio >= P2_GOAL_RATIO and errors["api"] == 0
    return Report(
        rows=rows,
        ratios=[
            f"P2 API/floor commands/s = {ratio:.2f} at {clients} clients, httpx client in the "
            f"service's process (goal ≥ {P2_GOAL_RATIO:.2f} with 0 errors: "
            f"{'met' if met else 'MISSED'}); absolute {rate['api']:.0f} commands/s over HTTP "
            f"vs {rate['floor']:.0f} floor; with the client in its own process "
            f"{rate['api-client-process']:.0f} commands/s = {ratio_apart:.2f} of the floor "
            f"(rounds: API {rounds_text(results['api'])}; client process "
            f"{rounds_text(results['api-client-process'])}; floor "
            f"{rounds_text(results['floor'])})",
            f"P2 CPU ms per command, {cpu_split(cpu, P2_SIDES)}. Ceilings these imply "
            "(commands/s), the service process's Python threads sharing one GIL: "
            + " / ".join(f"{gil[side]:.0f}" for side in P2_SIDES)
            + "; every process on 2 cores: "
            + " / ".join(f"{cores[side]:.0f}" for side in P2_SIDES),
        ],
        notes=[
            f"P2: {count} cases per side; each of {clients} client tasks sends add_note to its "
            f"own {cases_each} cases round-robin, one command at a time, for {seconds:.0f} s "
            f"per round; a command still in flight at the end is waited for and counted. "
            f"1 s warm-up per side; {rounds} rounds per side, the order rotating each round. "
            "'client process': the same client loop and httpx client run by `python -m "
            "bench.http_client` in a process of its own (its CPU, from time.process_time over "
            "the measured window, is the 'client process' part), against the same API cases: "
            "the service's process then carries only the service, as with real callers.",
            *(f"P2 error sample: {e}" for e in failed),
        ],
    )


def stack_notes(stack: Stack) -> list[str]:
    return [
        "P1/P2: client (httpx), API (Litestar on uvicorn, h11), journey and floor workers "
        "(Temporal Python SDK) and the app share one asyncio loop in one Python process, as "
        "under `casework up`; that process, the Temporal dev server (SQLite) and embedded "
        "PostgreSQL share the machine's 2 cores. The API is built by "
        "casework.service.api_server and logs as under `casework up` (configure_logging at "
        "info: one structlog line per request), into a file "
        f"({stack.log_path.stat().st_size // 1024} KiB this run) rather than the terminal. "
        "The projections are constructed but not started during P1/P2 (`casework up` runs "
        "them in the same process; here they would also follow the floor's events); P3 "
        "starts them.",
        "P1/P2 stages are timed from bench code only: the API's Journeys.run and the app's "
        "execute/get_case wrapped in subclasses (TimedJourneys, TimedApp), the HTTP call and "
        "the floor's update in the client. The floor shares the app, client and data converter "
        "(msgspec + sealing codec) with the API; it has no validator, no idempotency record, no "
        "case state in its result and no timers.",
    ]


async def bench_api(
    database: Database, master_key: bytes, temporal: DevServer, which: set[str]
) -> Report:
    report = Report()
    async with service_stack(database, master_key, temporal) as stack:
        if "p1" in which:
            report.extend(await bench_sequential(stack))
        if "p2" in which:
            report.extend(await bench_concurrent(stack))
        if "p3" in which:
            from bench.visibility import bench_visibility  # it builds on this module

            report.extend(await bench_visibility(stack))
        report.notes += stack_notes(stack)
    return report
