"""Chaos: the service as separate processes under a command load, each part killed in turn.

The embedded PostgreSQL and the Temporal dev server, then `casework api`, `casework worker` and
`casework project` (configured with CASEWORK_DATABASE_URL and CASEWORK_TEMPORAL_ADDRESS, as in
production), are run by a Supervisor, which restarts whatever dies — as systemd would. Clients
open cases and run commands, each with an Idempotency-Key, retrying on 503, connection errors
and timeouts. One at a time, each part is killed with SIGKILL (PostgreSQL's postmaster too).

Then the store is read back: every acknowledged command's events are there under its key (the
causation id in their metadata), no key's command was applied twice, every open case has a
running journey, and every view equals a fresh rebuild.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import structlog

from casework import children
from casework.api.auth import Authenticator, Claims
from casework.application import CaseworkApp
from casework.db import ChildPostgres, Database, create_database
from casework.domain.commands import Actor
from casework.domain.policy import shipped_policy
from casework.logs import configure_logging
from casework.supervisor import Supervisor
from projections.rebuild import rebuild
from projections.service import Projections
from tests.test_cli import free_port
from tests.workflows.helpers import new_code
from workflows.client import Journeys, case_id_for
from workflows.devserver import DevServer, answers
from workflows.messages import Caller
from workflows.reconcile import reconcile
from workflows.worker import connect

log = structlog.get_logger("chaos")
PARTS = ("api", "worker", "project")
FAULTS = ("api", "worker", "project", "temporal", "postgres")
RETRYABLE = {404, 502, 503, 504}  # 404: a journey not yet back after Temporal restarted
REQUEST_SECONDS = 15.0
GIVE_UP_SECONDS = 120.0
NOTES_PER_CASE = 3
STOP_SECONDS = 5


class Part:
    """`casework api|worker|project` as a child process; the API serves when /health answers."""

    def __init__(self, name: str, env: dict[str, str], logs: Path, http_port: int) -> None:
        self.name, self.env, self.logs, self.http_port = name, env, logs, http_port

    def prepare(self) -> None:
        pass

    def spawn(self) -> subprocess.Popen:
        argv = [sys.executable, "-m", "casework.cli", self.name]
        log = (self.logs / f"{self.name}.log").open("ab")
        return children.spawn(argv, signal.SIGTERM, log, env=self.env)

    def serving(self, process: subprocess.Popen) -> bool:
        if process.poll() is not None:
            return False
        if self.name != "api":
            return True
        return answers("127.0.0.1", self.http_port)

    def stop(self, process: subprocess.Popen) -> None:
        children.stop(process, signal.SIGTERM, STOP_SECONDS + 5)


@dataclass
class Cluster:
    root: Path
    engines: Supervisor  # PostgreSQL and Temporal
    parts: Supervisor  # api, worker, project
    env: dict[str, str]
    database: Database
    master_key: bytes
    auth: Authenticator
    base: str

    def health(self) -> dict[str, str]:
        return self.engines.health() | self.parts.health()

    def process(self, name: str) -> subprocess.Popen:
        for supervisor in (self.engines, self.parts):
            for child in supervisor.children:
                if child.component.name == name and child.process is not None:
                    return child.process
        raise KeyError(name)


@contextlib.asynccontextmanager
async def cluster() -> AsyncIterator[Cluster]:
    """Everything started and supervised; at the end stopped and removed."""
    # Short: the embedded server's Unix socket path must stay under ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="cw-chaos-"))
    postgres = ChildPostgres(root / "pg")
    temporal = DevServer(root / "temporal", free_port(), free_port())
    engines = Supervisor([postgres, temporal])
    parts = Supervisor([])
    try:
        await engines.start()
        database = create_database(postgres.database, "casework")
        master_key, secret, http_port = os.urandom(32), secrets.token_urlsafe(48), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")} | {
            "CASEWORK_DATA_DIR": str(root / "data"),
            "CASEWORK_DATABASE_URL": f"postgresql://postgres@/{database.dbname}?host={database.host}",
            "CASEWORK_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal.port}",
            "CASEWORK_MASTER_KEY": base64.b64encode(master_key).decode(),
            "CASEWORK_AUTH_SECRET": secret,
            "CASEWORK_HTTP_PORT": str(http_port),
            "CASEWORK_STOP_SECONDS": str(STOP_SECONDS),
        }
        parts = Supervisor([Part(name, env, root, http_port) for name in PARTS])
        await parts.start()
        auth = Authenticator(secret, "casework", "casework")
        yield Cluster(
            root, engines, parts, env, database, master_key, auth, f"http://127.0.0.1:{http_port}"
        )
    finally:
        parts.stop()
        engines.stop()
        postgres.release()
        shutil.rmtree(root, ignore_errors=True)


# The load: clients that open cases and run commands, each with a key, retrying what failed.


@dataclass
class Sent:
    """One command as a client sent it (perhaps many times), under one Idempotency-Key."""

    key: str
    name: str
    case_id: UUID
    answer: dict[str, Any] | None = None  # the 2xx answer
    refused: str | None = None  # the final answer that was no 2xx, or why the client gave up
    attempts: int = 0


@dataclass
class Ledger:
    sent: list[Sent] = field(default_factory=list)
    retried_on: Counter[str] = field(default_factory=Counter)  # why each retry was needed

    @property
    def acknowledged(self) -> list[Sent]:
        return [s for s in self.sent if s.answer is not None]

    @property
    def retried(self) -> int:
        return sum(s.attempts - 1 for s in self.sent)


class Client:
    """A staff member of their own: opens a case, adds notes, closes every second case."""

    def __init__(self, number: int, cluster: Cluster, ledger: Ledger) -> None:
        self.user = f"chaos-{number}"
        self.cluster, self.ledger = cluster, ledger
        token = cluster.auth.mint(Claims(sub=self.user, role="staff", area="helsinki"))
        self.headers = {"Authorization": f"Bearer {token}"}
        self.caller = Caller(Actor(self.user, "staff", "helsinki"), correlation_id="")

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            base_url=self.cluster.base, headers=self.headers, timeout=REQUEST_SECONDS
        ) as http:
            journeys = 0
            while not stop.is_set():
                await self.journey(http, stop, closes=journeys % 2 == 1)
                journeys += 1

    async def journey(self, http: httpx.AsyncClient, stop: asyncio.Event, closes: bool) -> None:
        key = uuid.uuid4().hex
        case_id = case_id_for(self.caller, key)  # the case a retried opening names
        body = {"identity_code": new_code(), "area": "helsinki", "team": "helsinki-it"}
        if not await self.send(http, Sent(key, "open_case", case_id), "/api/cases", body):
            return
        commands = [("add_note", {"text": f"note {n}"}) for n in range(NOTES_PER_CASE)]
        if closes:
            commands.append(("close_case", {"outcome": "other", "reason": "chaos"}))
        for name, command in commands:
            if stop.is_set():
                return
            path = f"/api/cases/{case_id}/commands/{name}"
            if not await self.send(http, Sent(uuid.uuid4().hex, name, case_id), path, command):
                return

    async def send(
        self, http: httpx.AsyncClient, sent: Sent, path: str, body: dict[str, Any]
    ) -> bool:
        self.ledger.sent.append(sent)
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while True:
            sent.attempts += 1
            try:
                response = await http.post(path, json=body, headers={"Idempotency-Key": sent.key})
            except httpx.TransportError as error:  # refused, reset, timed out
                why = type(error).__name__
            else:
                if response.is_success:
                    sent.answer = response.json()
                    return True
                why = f"{response.status_code} {response.json().get('code')}"
                if response.status_code not in RETRYABLE:
                    sent.refused = why
                    return False
            if time.monotonic() > deadline:
                sent.refused = f"gave up after {sent.attempts} attempts, last: {why}"
                return False
            self.ledger.retried_on[why] += 1
            await asyncio.sleep(min(0.2 * sent.attempts, 2.0))


# Afterwards: what the store, Temporal and the views say.


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    missing_journeys: list[UUID] = field(default_factory=list)
    orphaned_journeys: list[str] = field(default_factory=list)
    differing_views: list[str] = field(default_factory=list)
    open_cases: int = 0


def check_store(app: CaseworkApp, ledger: Ledger, verdict: Verdict) -> None:
    """Every acknowledged command's events are stored under its key, at the versions its
    answer named (lost if not); no key's events hold a type twice (its command applied twice:
    each command of the load records one event)."""
    by_case: dict[UUID, list[Sent]] = {}
    for sent in ledger.sent:
        by_case.setdefault(sent.case_id, []).append(sent)
    for case_id, sent_to_case in by_case.items():
        under: dict[str | None, list[tuple[int, str]]] = {}
        for stored in app.stored_events(case_id):
            event = app.mapper.to_domain_event(stored)
            under.setdefault(event.meta.causation_id, []).append(
                (stored.originator_version, type(event).__name__)
            )
        for sent in sent_to_case:
            stored_events = under.get(sent.key, [])
            twice = [t for t, n in Counter(t for _, t in stored_events).items() if n > 1]
            if twice:
                verdict.duplicated.append(
                    f"{sent.name} {sent.key} on case {case_id}: {stored_events}"
                    f" ({sent.attempts} attempts, answer {sent.answer or sent.refused})"
                )
            if sent.answer is not None:
                version, names = sent.answer["version"], sent.answer["events"]
                expected = list(
                    zip(range(version - len(names) + 1, version + 1), names, strict=True)
                )
                if not set(expected) <= set(stored_events):
                    verdict.lost.append(
                        f"{sent.name} {sent.key} on case {case_id}: answered {expected},"
                        f" stored {stored_events} ({sent.attempts} attempts)"
                    )


async def check_journeys(cluster: Cluster, app: CaseworkApp, verdict: Verdict) -> None:
    """`casework workflows reconcile --dry-run` has nothing to do. Temporal's list of running
    workflows lags a moment behind a journey that just ended: ask until the answer holds."""
    client = await connect(cluster.env["CASEWORK_TEMPORAL_ADDRESS"], "default", cluster.master_key)
    journeys = Journeys(client, "casework", shipped_policy())
    deadline = time.monotonic() + 30
    while True:
        report = await reconcile(app, client, journeys, restart=False)
        if (not report.missing and not report.orphaned) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    verdict.open_cases = report.open_cases
    verdict.missing_journeys, verdict.orphaned_journeys = report.missing, report.orphaned


def view_rows(projections: Projections, name: str) -> dict[str, list[str]]:
    """Every row of the view's tables (not its tracking table: a rebuild tracks per batch)."""
    view = projections.view(name)
    out = {}
    with view.datastore.transaction(commit=False) as curs:
        for table in view.tables()[:-1]:
            curs.execute(f"SELECT * FROM {table}")
            rows = [repr(tuple(row.values())) for row in curs.fetchall()]
            out[table.removeprefix(view.table)] = sorted(rows)
    return out


async def check_views(app: CaseworkApp, verdict: Verdict) -> None:
    """Once `casework project` has caught up, each view equals a fresh rebuild, row for row."""
    projections = Projections(app, shipped_policy())
    deadline = time.monotonic() + 60
    while any(s.lag_events for s in projections.status()) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    for name in projections.factories:
        live = view_rows(projections, name)
        await asyncio.to_thread(rebuild, app, projections, name)
        if view_rows(projections, name) != live:
            verdict.differing_views.append(name)


async def verify(cluster: Cluster, ledger: Ledger) -> Verdict:
    verdict = Verdict()
    app = CaseworkApp(cluster.database, cluster.master_key)
    try:
        check_store(app, ledger, verdict)
        await check_journeys(cluster, app, verdict)
        await check_views(app, verdict)
    finally:
        app.close()
    return verdict


# The run.


@dataclass
class Figures:
    clients: int
    faults: list[str]
    sent: int
    acknowledged: int
    retried: int
    retried_on: Counter[str]
    refused: list[str]
    seconds: float
    verdict: Verdict

    def markdown(self) -> str:
        v = self.verdict
        refused = Counter(self.refused)
        return "\n".join(
            [
                f"## Chaos {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                "",
                f"`make chaos`: {self.clients} concurrent clients (open a case, add notes, close"
                " every second case; each command with an Idempotency-Key, retried on 503, 404,"
                f" connection errors and timeouts) through {len(self.faults) // len(FAULTS)}"
                f" rounds of SIGKILL, one at a time, of {', '.join(FAULTS)}"
                f" ({len(self.faults)} kills),"
                f" each restarted by the harness's supervisor. nproc {os.cpu_count()}.",
                "",
                "| sent | acknowledged | retried | not acknowledged | lost | duplicated | s |",
                "|--:|--:|--:|--:|--:|--:|--:|",
                f"| {self.sent:,} | {self.acknowledged:,} | {self.retried:,} |"
                f" {self.sent - self.acknowledged:,} | {len(v.lost)} | {len(v.duplicated)} |"
                f" {self.seconds:,.0f} |",
                "",
                f"Retried on: {dict(self.retried_on.most_common()) or 'nothing'}."
                f" Not acknowledged: {dict(refused) or 'none'}."
                f" Journeys: {v.open_cases} open cases, {len(v.missing_journeys)} without a"
                f" running journey, {len(v.orphaned_journeys)}"
                " journeys without an open case. Views differing from a fresh rebuild:"
                f" {', '.join(v.differing_views) or 'none'}.",
                "",
            ]
        )


async def wait_healthy(cluster: Cluster, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while set(cluster.health().values()) != {"up"}:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not back after {timeout}s: {cluster.health()}")
        await asyncio.sleep(0.2)


async def kill(cluster: Cluster, name: str) -> None:
    """SIGKILL `name`, and wait until the supervisor has it running again."""
    process = cluster.process(name)
    process.kill()
    log.info("killed", part=name, pid=process.pid)
    deadline = time.monotonic() + 120
    while cluster.process(name) is process:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} was not restarted")
        await asyncio.sleep(0.2)
    await wait_healthy(cluster)


async def run(rounds: int = 1, clients: int = 3, phase_seconds: float = 3.0) -> Figures:
    """Start everything, load it, kill each part `rounds` times, stop the load, verify."""
    started = time.monotonic()
    ledger, stop, faults = Ledger(), asyncio.Event(), []
    async with cluster() as c:
        watching = [asyncio.create_task(s.run()) for s in (c.engines, c.parts)]
        load = [asyncio.create_task(Client(n, c, ledger).run(stop)) for n in range(clients)]
        try:
            await asyncio.sleep(phase_seconds)
            for _ in range(rounds):
                for name in FAULTS:
                    await kill(c, name)
                    faults.append(name)
                    await asyncio.sleep(phase_seconds)
            stop.set()
            await asyncio.gather(*load)
            await wait_healthy(c)
            verdict = await verify(c, ledger)
        finally:
            stop.set()
            for task in [*watching, *load]:
                task.cancel()
            await asyncio.gather(*watching, *load, return_exceptions=True)
    return Figures(
        clients, faults, len(ledger.sent), len(ledger.acknowledged), ledger.retried,
        ledger.retried_on, [s.refused for s in ledger.sent if s.refused],
        time.monotonic() - started, verdict,
    )  # fmt: skip


@contextlib.contextmanager
def quiet_logs(path: Path) -> Iterator[None]:
    """The harness's own lines (kills, restarts) to a file, not among the test's output."""
    with path.open("a") as sink, contextlib.redirect_stderr(sink):
        configure_logging("info")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is too many
        yield
        structlog.reset_defaults()
