"""What a view's batch changed, announced to live streams with PostgreSQL NOTIFY.

The case views name each case a batch touched: its new version, where it is filed, which of its
stalled steps changed and which partners' tasks. `pg_notify` runs inside the batch's own
transaction, so listeners hear of a change exactly when (and only if) the rows they will refetch
have committed. Ids, names and versions only: a notification is readable by any connection that
listens, so it carries no personal or health data.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow

CHANNEL = "casework_changes"
# PostgreSQL refuses a payload of 8000 bytes or more: a batch's changes go in several.
MAX_PAYLOAD = 7000


class Stalled(msgspec.Struct, frozen=True, array_like=True):
    """A stalled step of a case that appeared, cleared or changed (acknowledged, escalated)."""

    step: str
    partner: str | None


class Task(msgspec.Struct, frozen=True, array_like=True):
    """A handoff whose task changed for its partner."""

    partner: str
    handoff_id: str


class Change(msgspec.Struct, frozen=True, array_like=True):
    case_id: str
    version: int
    area: str
    team: str
    stalled: list[Stalled] = []
    tasks: list[Task] = []


class Announcement(msgspec.Struct, frozen=True, array_like=True):
    """The changes of one batch, at the log position the view reached with it."""

    position: int
    changes: list[Change]


def announce(curs: Cursor[DictRow], position: int, changes: list[Change]) -> None:
    for payload in payloads(position, changes):
        curs.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


def payloads(position: int, changes: list[Change]) -> Iterator[str]:
    """The announcement in pieces under PostgreSQL's limit on one payload."""
    piece: list[Change] = []
    size = 0
    for change in changes:
        length = len(msgspec.json.encode(change))
        if piece and size + length > MAX_PAYLOAD:
            yield msgspec.json.encode(Announcement(position, piece)).decode()
            piece, size = [], 0
        piece.append(change)
        size += length + 1
    if piece:
        yield msgspec.json.encode(Announcement(position, piece)).decode()


def decode(payload: str) -> Announcement:
    return msgspec.json.decode(payload, type=Announcement)
