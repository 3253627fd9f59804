"""Bulk import of historical journeys from the legacy system (`casework import FILE`).

One JSON object per line:

    {"identity_code": "131052-308T", "area": "helsinki", "team": "helsinki-it",
     "opened_at": "2025-03-04T09:00:00+02:00", "channel": "import", "assignee": "anna",
     "steps": [{"command": "record_screening", "at": "2025-03-10T10:00:00+02:00",
                "body": {"answers": {"q1": "..."}, "concern": true}},
               {"command": "acknowledge_handoff", "at": "...", "body": {"handoff_id": "handoff-4"},
                "actor": {"id": "kela-import", "role": "partner", "partner": "kela"}}]}

Each step is a case command (the README's table) with the time it took effect; `actor` defaults
to the importing user. Every line is replayed through the aggregate, so the journey rules hold and
the stored events are the ordinary ones: sealed with the client's key, hash-chained, in
notification order. Lines are read in batches of 200. The register is asked about the batch's
identity codes in one query, and each client's key is handed with its lines to the preparing
processes (`workers`), which replay, seal and hash-chain the journeys without a database. The
batch's events and side records (new clients, case register, chain heads, register reads) are
then written with COPY in one transaction, by a writer thread while the next batch is prepared.
A line that fails is reported with its number and nothing of it is written; a batch that clashes
with stored rows is written line by line to name the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from multiprocessing import get_context
from typing import Annotated, Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError

from casework.application import CaseworkApp
from casework.domain import commands as c
from casework.domain import limits
from casework.domain.case import ClientCase
from casework.domain.errors import CaseworkError, ValidationFailed
from casework.domain.identity import normalise_identity_code
from casework.register import NewClient
from casework.store import (
    CaseworkMapper,
    ChainedEventStore,
    EventRow,
    casework_transcoder,
    event_row,
)

BATCH = 200
MAX_STEPS = 1000
MAX_FIELDS = 20  # more than any command has


class ImportedStep(msgspec.Struct, forbid_unknown_fields=True):
    command: c.Slug
    at: datetime
    body: Annotated[dict[str, Any], msgspec.Meta(max_length=MAX_FIELDS)] = {}
    actor: c.Actor | None = None


class ImportedJourney(msgspec.Struct, forbid_unknown_fields=True):
    # The limits of the commands this line becomes: the same values are refused as over the API.
    identity_code: c.IdentityCode
    area: c.Slug
    team: c.Slug
    opened_at: datetime
    channel: c.Channel = "import"
    assignee: c.ShortText | None = None
    steps: Annotated[list[ImportedStep], msgspec.Meta(max_length=MAX_STEPS)] = []


class LineError(msgspec.Struct, frozen=True):
    line: int
    error: str


class ImportReport(msgspec.Struct):
    lines: int = 0
    cases: int = 0
    events: int = 0
    open_cases: list[UUID] = []
    errors: list[LineError] = []


class _Job(msgspec.Struct, frozen=True):
    """One line to replay, with its client's id and key and the chain's key: preparing it reads
    no database."""

    line: int
    journey: ImportedJourney
    code: str
    client_id: UUID
    key: bytes
    chain_key: bytes
    actor: c.Actor
    now: datetime


class _Prepared(msgspec.Struct):
    """A line's journey as stored events, sealed and hash-chained, ready to be written."""

    line: int
    case_id: UUID
    client_id: UUID
    closed: bool
    rows: list[EventRow]  # rows, not StoredEvents: they cross between processes faster
    heads: dict[UUID, tuple[int, str]]
    new_client: NewClient | None = None


class Seen(msgspec.Struct):
    """What this import knows of clients: ids by code, and those with an open case."""

    clients: dict[str, UUID] = {}
    open_clients: set[UUID] = set()

    def learn(self, app: CaseworkApp, codes: set[str]) -> None:
        """Look the codes this import has not met up in the register, all in one query."""
        found = app.clients.find_by_codes(codes - self.clients.keys())
        self.clients |= found
        self.open_clients |= app.clients_with_open_cases(found.values())


def _context(actor: c.Actor, now: datetime) -> c.Context:
    return c.Context(actor=actor, recorded_at=now, correlation_id="import")


def replay_journey(
    journey: ImportedJourney, code: str, client_id: UUID, actor: c.Actor, now: datetime
) -> ClientCase:
    """The journey through the aggregate: the rules hold for imported facts too."""
    opening = c.OpenCase(
        identity_code=code, area=journey.area, team=journey.team, channel=journey.channel,
        assignee=journey.assignee, effective_at=journey.opened_at,
    )  # fmt: skip
    case = ClientCase.open(uuid4(), str(client_id), opening, _context(actor, now))
    for number, step in enumerate(journey.steps, start=1):
        cls = c.CASE_COMMANDS.get(step.command)
        if cls is None:
            raise ValidationFailed.field(f"steps[{number}].command", "no such command")
        try:
            body = step.body | {"effective_at": step.at.isoformat()}
            cmd = msgspec.convert(body, cls, strict=False)
        except msgspec.ValidationError as error:
            raise ValidationFailed.field(f"steps[{number}].body", str(error)) from None
        try:
            case.execute(cmd, _context(step.actor or actor, now))
        except CaseworkError as error:
            raise CaseworkError(f"step {number} ({step.command}): {error.detail}") from None
    return case


def decode_line(text: str) -> tuple[ImportedJourney, str]:
    if limits.nests_deeper(text.encode()):
        raise ValidationFailed.field("line", f"nests deeper than {limits.MAX_DEPTH} levels")
    journey = msgspec.json.decode(text, type=ImportedJourney)
    return journey, normalise_identity_code(journey.identity_code)


LineFailure = (CaseworkError, msgspec.DecodeError, msgspec.ValidationError)


class _ClientKey:
    """The keys a preparing mapper sees: those of the one client whose journey it seals."""

    def __init__(self, client_id: UUID, key: bytes) -> None:
        self.client_id, self._key = client_id, key

    def remember_case(self, case_id: UUID, client_id: UUID) -> None:
        pass

    def client_of(self, case_id: UUID) -> UUID:
        return self.client_id

    def key(self, client_id: UUID) -> bytes:
        return self._key


@cache
def _sealing_store(chain_key: bytes) -> ChainedEventStore:
    """Maps and chains events without a database: every imported case starts a new chain."""
    mapper = CaseworkMapper(transcoder=casework_transcoder())
    return ChainedEventStore(mapper, recorder=None, chain_key=chain_key)


def prepare_jobs(jobs: list[_Job]) -> list[_Prepared | LineError]:
    """Replay, seal and chain each line's journey: in a preparing process, or in this one."""
    done: list[_Prepared | LineError] = []
    for job in jobs:
        store = _sealing_store(job.chain_key)
        try:
            case = replay_journey(job.journey, job.code, job.client_id, job.actor, job.now)
        except LineFailure as error:
            done.append(LineError(job.line, _detail(error)))
            continue
        store.mapper.keyring = _ClientKey(job.client_id, job.key)  # type: ignore[attr-defined]
        stored, heads = store.chained(case.collect_events())
        rows = [event_row(s) for s in stored]
        done.append(_Prepared(job.line, case.id, job.client_id, case.state.closed, rows, heads))
    return done


@contextmanager
def _preparer(workers: int) -> Iterator[Callable[[list[_Job]], list[_Prepared | LineError]]]:
    """Prepare a batch in this process, or split over `workers` processes of their own
    (started fresh, not forked: this process runs threads and holds connections)."""
    if workers <= 1:
        yield prepare_jobs
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        # Start the processes now: they import casework while the first batch is read.
        pool.map(prepare_jobs, [[]] * workers)

        def in_parallel(jobs: list[_Job]) -> list[_Prepared | LineError]:
            size = -(-len(jobs) // workers)
            parts = [jobs[i : i + size] for i in range(0, len(jobs), size)]
            return [outcome for part in pool.map(prepare_jobs, parts) for outcome in part]

        yield in_parallel


def import_journeys(
    app: CaseworkApp,
    lines: Iterable[str],
    actor: c.Actor,
    report: Callable[[ImportReport], None] = lambda _: None,
    workers: int = 1,
) -> ImportReport:
    """Import every good line; report the others by number.

    `workers` processes replay, seal and chain the journeys (this process when 1); they are
    spawned, so a script that calls this with more than one needs the `__main__` guard. A batch is
    written by a thread of its own while the next one is prepared, so the database's work
    overlaps the preparation; batches are written one at a time, in order."""
    result, seen = ImportReport(), Seen()
    lines_read = ((n, text) for n, text in enumerate(lines, 1) if text.strip())
    with (
        _preparer(workers) as prepare,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer,
    ):
        writing: Future[Written] | None = None
        for chunk in batched(lines_read, BATCH):
            result.lines += len(chunk)
            batch = _prepare_chunk(app, chunk, actor, seen, result, prepare)
            if writing is not None:
                _count(result, writing.result())
                report(result)
            writing = writer.submit(_flush, app, batch, actor)
        if writing is not None:
            _count(result, writing.result())
        report(result)
    return result


def _prepare_chunk(
    app: CaseworkApp,
    chunk: list[tuple[int, str]],
    actor: c.Actor,
    seen: Seen,
    result: ImportReport,
    prepare: Callable[[list[_Job]], list[_Prepared | LineError]],
) -> list[_Prepared]:
    decoded = []
    for number, text in chunk:
        try:
            decoded.append((number, *decode_line(text)))
        except LineFailure as error:
            result.errors.append(LineError(number, _detail(error)))
    seen.learn(app, {code for _, _, code in decoded})
    now = datetime.now(UTC)
    keys = app.keyring.keys(seen.clients[code] for _, _, code in decoded if code in seen.clients)
    jobs, new_clients = [], {}
    for number, journey, code in decoded:
        client_id = seen.clients.get(code)
        if client_id is None:
            new = app.clients.prepare(code)
            client_id = seen.clients[code] = new.client_id
            new_clients[client_id] = (code, new)
            keys[client_id] = app.keyring.key(client_id)  # cached by prepare
        key = keys[client_id]
        if key is None:
            result.errors.append(LineError(number, "the client's personal data was erased"))
            continue
        jobs.append(_Job(number, journey, code, client_id, key, app.chain_key, actor, now))
    batch = []
    for outcome in prepare(jobs):  # in line order: the first open case of a client goes in
        if isinstance(outcome, LineError):
            result.errors.append(outcome)
            continue
        if not outcome.closed:
            if outcome.client_id in seen.open_clients:
                error = ValidationFailed.field(
                    "identity_code", "the client already has an open case"
                )
                result.errors.append(LineError(outcome.line, _detail(error)))
                continue
            seen.open_clients.add(outcome.client_id)
        # A new client is written with the first of its lines that goes in.
        outcome.new_client = new_clients.pop(outcome.client_id, (None, None))[1]
        batch.append(outcome)
    for code, _ in new_clients.values():  # no line of theirs went in: not registered
        del seen.clients[code]
    return batch


def batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _detail(error: Exception) -> str:
    return error.detail if isinstance(error, CaseworkError) else str(error)


class Written(msgspec.Struct):
    lines: list[_Prepared]
    clashes: list[LineError]


def _flush(app: CaseworkApp, batch: list[_Prepared], actor: c.Actor) -> Written:
    try:
        write_batch(app, batch, actor)
        return Written(batch, [])
    except IntegrityError:
        # One line clashed with what is already stored: save line by line to name it.
        written = Written([], [])
        for prepared in batch:
            try:
                write_batch(app, [prepared], actor)
                written.lines.append(prepared)
            except IntegrityError:
                written.clashes.append(LineError(prepared.line, "clashes with stored data"))
        return written


def _count(result: ImportReport, written: Written) -> None:
    for prepared in written.lines:
        result.cases += 1
        result.events += len(prepared.rows)
        if not prepared.closed:
            result.open_cases.append(prepared.case_id)
    result.errors = sorted([*result.errors, *written.clashes], key=lambda error: error.line)


def write_batch(app: CaseworkApp, batch: list[_Prepared], actor: c.Actor) -> None:
    if not batch:
        return
    for prepared in batch:
        app.keyring.remember_case(prepared.case_id, prepared.client_id)
    app.events.put_new(
        [row for prepared in batch for row in prepared.rows],
        {case: head for prepared in batch for case, head in prepared.heads.items()},
        new_clients=[p.new_client for p in batch if p.new_client],
        cases=[(p.case_id, p.client_id, not p.closed) for p in batch],
        # Each line looked its client up in the register: record it, as every read is.
        register_reads=[(actor.id, actor.role, p.client_id, "import") for p in batch],
    )
