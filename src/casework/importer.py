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
notification order. Lines are read in batches of 200: the register is asked about the batch's
identity codes in one query, and the batch's events and side records (new clients, case register,
chain heads, register reads) are written with COPY in one transaction, by a writer thread while
the next batch is prepared. A line that fails is reported with its number and nothing of it is
written; a batch that clashes with stored rows is written line by line to name the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from uuid import UUID, uuid4

import msgspec
from eventsourcing.persistence import IntegrityError

from casework.app import CaseworkApp
from casework.domain import commands as c
from casework.domain.case import ClientCase
from casework.domain.errors import CaseworkError, ValidationFailed
from casework.register import NewClient, normalise_identity_code

BATCH = 200


class ImportedStep(msgspec.Struct, forbid_unknown_fields=True):
    command: str
    at: datetime
    body: dict[str, Any] = {}
    actor: c.Actor | None = None


class ImportedJourney(msgspec.Struct, forbid_unknown_fields=True):
    identity_code: str
    area: str
    team: str
    opened_at: datetime
    channel: c.Channel = "import"
    assignee: str | None = None
    steps: list[ImportedStep] = []


class LineError(msgspec.Struct, frozen=True):
    line: int
    error: str


class ImportReport(msgspec.Struct):
    lines: int = 0
    cases: int = 0
    events: int = 0
    open_cases: list[UUID] = []
    errors: list[LineError] = []


class _Pending(msgspec.Struct):
    line: int
    case_id: UUID
    client_id: UUID
    new_client: NewClient | None
    events: list[Any]
    closed: bool


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


def _replay(
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
    journey = msgspec.json.decode(text, type=ImportedJourney)
    return journey, normalise_identity_code(journey.identity_code)


def prepare_journey(
    app: CaseworkApp, journey: ImportedJourney, code: str, actor: c.Actor, number: int, seen: Seen
) -> _Pending:
    client_id = seen.clients.get(code)
    new_client = app.clients.prepare(code) if client_id is None else None
    if new_client is not None:
        client_id = new_client.client_id
    assert client_id is not None
    case = _replay(journey, code, client_id, actor, datetime.now(UTC))
    if not case.state.closed and client_id in seen.open_clients:
        raise ValidationFailed.field("identity_code", "the client already has an open case")
    seen.clients[code] = client_id
    if not case.state.closed:
        seen.open_clients.add(client_id)
    events = case.collect_events()
    return _Pending(number, case.id, client_id, new_client, list(events), case.state.closed)


LineFailure = (CaseworkError, msgspec.DecodeError, msgspec.ValidationError)


def import_journeys(
    app: CaseworkApp,
    lines: Iterable[str],
    actor: c.Actor,
    report: Callable[[ImportReport], None] = lambda _: None,
) -> ImportReport:
    """Import every good line; report the others by number.

    A batch is written by a thread of its own while the next one is prepared, so the database's
    work overlaps the replay; batches are written one at a time, in order."""
    result, seen = ImportReport(), Seen()
    lines_read = ((n, text) for n, text in enumerate(lines, 1) if text.strip())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
        writing: Future[Written] | None = None
        for chunk in batched(lines_read, BATCH):
            result.lines += len(chunk)
            batch = _prepare_chunk(app, chunk, actor, seen, result)
            if writing is not None:
                _count(result, writing.result())
                report(result)
            writing = writer.submit(_flush, app, batch, actor)
        if writing is not None:
            _count(result, writing.result())
        report(result)
    return result


def _prepare_chunk(
    app: CaseworkApp, chunk: list[tuple[int, str]], actor: c.Actor, seen: Seen, result: ImportReport
) -> list[_Pending]:
    decoded = []
    for number, text in chunk:
        try:
            decoded.append((number, *decode_line(text)))
        except LineFailure as error:
            result.errors.append(LineError(number, _detail(error)))
    seen.learn(app, {code for _, _, code in decoded})
    batch = []
    for number, journey, code in decoded:
        try:
            batch.append(prepare_journey(app, journey, code, actor, number, seen))
        except LineFailure as error:
            result.errors.append(LineError(number, _detail(error)))
    return batch


def batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _detail(error: Exception) -> str:
    return error.detail if isinstance(error, CaseworkError) else str(error)


class Written(msgspec.Struct):
    lines: list[_Pending]
    clashes: list[LineError]


def _flush(app: CaseworkApp, batch: list[_Pending], actor: c.Actor) -> Written:
    try:
        write_batch(app, batch, actor)
        return Written(batch, [])
    except IntegrityError:
        # One line clashed with what is already stored: save line by line to name it.
        written = Written([], [])
        for pending in batch:
            try:
                write_batch(app, [pending], actor)
                written.lines.append(pending)
            except IntegrityError:
                written.clashes.append(LineError(pending.line, "clashes with stored data"))
        return written


def _count(result: ImportReport, written: Written) -> None:
    for pending in written.lines:
        result.cases += 1
        result.events += len(pending.events)
        if not pending.closed:
            result.open_cases.append(pending.case_id)
    result.errors = sorted([*result.errors, *written.clashes], key=lambda error: error.line)


def write_batch(app: CaseworkApp, batch: list[_Pending], actor: c.Actor) -> None:
    if not batch:
        return
    for pending in batch:
        app.keyring.remember_case(pending.case_id, pending.client_id)
    app.events.put_new(
        [event for pending in batch for event in pending.events],
        new_clients=[p.new_client for p in batch if p.new_client],
        cases=[(p.case_id, p.client_id, not p.closed) for p in batch],
        # Each line looked its client up in the register: record it, as every read is.
        register_reads=[(actor.id, actor.role, p.client_id, "import") for p in batch],
    )
