"""A view: tables of its own plus a tracking record, written in the same transaction.

Each event's rows and the notification id that produced them commit together, so a view that
stops (or is stopped) resumes exactly where it was: no event skipped, none applied twice.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import Mapper, Notification, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from projections.changes import Change, announce

CREATED_TABLE = re.compile(r"TABLE IF NOT EXISTS \{table\}(\w*)")


class View(PostgresTrackingRecorder):
    """Subclasses name their tables `{table}` in `ddl` and handle events in `apply`."""

    name: ClassVar[str]
    # Bump when the tables or what goes into them change: the new version is built from the log.
    version: ClassVar[int] = 1
    ddl: ClassVar[tuple[str, ...]] = ()
    # The stored topics of the events the view applies (None: every event). The others are
    # not even decoded: decoding costs two to three times what reading the log does.
    topics: ClassVar[frozenset[str] | None] = None

    def __init__(self, datastore: PostgresDatastore, suffix: str = "") -> None:
        self.suffix = suffix
        self.table = f"view_{self.name}_v{self.version}{suffix}"
        super().__init__(datastore, tracking_table_name=f"{self.table}_tracking")
        for statement in self.ddl:
            self.sql_create_statements.append(SQL(statement.format(table=self.table)))  # type: ignore[arg-type]

    def decode(self, mapper: Mapper[Any], notifications: Sequence[Notification]) -> list[Any]:
        """The domain events among `notifications` that this view applies."""
        topics = self.topics
        return [
            mapper.to_domain_event(n) for n in notifications if topics is None or n.topic in topics
        ]

    def project_batch(
        self, events: list[Any], tracking: Tracking, settle: bool = True, announced: bool = False
    ) -> None:
        """Apply a batch of events and record the last one's position, in one transaction;
        `announced`, tell live streams what changed (`changes.py`), as the transaction commits.

        Views write a batch with a few executemany calls (each pipelined by psycopg) rather than
        in one explicit pipeline: with reads and writes interleaved on one cursor in a pipeline,
        psycopg 3.3.9 handed a read the result of an earlier INSERT on the third rebuild of the
        indicators from 2,000 imported journeys (a wrong result could as well pass unnoticed)."""
        with self.datastore.transaction(commit=True) as curs:
            # A view is derived: a crash may lose its last commits, never half of one (rows and
            # tracking commit together), so it need not wait for the disk.
            curs.execute("SET LOCAL synchronous_commit = off")
            changes = self.apply_batch(curs, events) if events else None
            if announced and changes:
                announce(curs, tracking.notification_id, changes)
            if settle:
                self.settle(curs)
            self._insert_tracking(curs, tracking)

    @abstractmethod
    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        """Write what `event` changes in this view's tables (inside the caller's transaction)."""

    def apply_batch(self, curs: Cursor[DictRow], events: list[Any]) -> list[Change] | None:
        """Apply events in log order; a view may fold them in memory and write less, and say
        what changed for live streams."""
        for event in events:
            self.apply(curs, event)
        return None

    def settle(self, curs: Cursor[DictRow]) -> None:
        """Bring figures derived from many events up to date. Batches skip it while a view
        catches up (`settle=False`): it runs once the view has reached the log's head."""

    def settle_now(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self.settle(curs)

    def sql(self, statement: str) -> str:
        return statement.format(table=self.table)

    def tables(self) -> list[str]:
        """Every table of this view, its tracking table included."""
        endings = [
            m for ddl in self.ddl for m in re.findall(r"TABLE IF NOT EXISTS \{table\}(\w*)", ddl)
        ]
        return [self.table + ending for ending in endings] + [self.tracking_table_name]

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in self.tables():
                curs.execute(SQL("DROP TABLE IF EXISTS {} CASCADE").format(Identifier(table)))


def topics_of(*classes: type) -> frozenset[str]:
    """The stored topics of these event classes and of all their subclasses."""
    found, pending = set(), list(classes)
    while pending:
        cls = pending.pop()
        found.add(get_topic(cls))
        pending += cls.__subclasses__()
    return frozenset(found)
