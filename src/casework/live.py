"""Live updates: the views' announcements (`projections/changes.py`), heard on one PostgreSQL
LISTEN connection per process and handed to every open stream that may see them.

A stream is a queue of messages and the rule of what it wants (`wants`). The page it feeds
refetches over the JSON API, so a message names a case (or a task) and its version, nothing more.
A hostile client cannot hurt the process: the streams per caller and in all are bounded (beyond,
`TooManyStreams`, a 429); a stream that does not read has a bounded queue and is told to refetch
everything (`reset`) instead of holding more; a stream ends when its client goes or the server
stops. The last announcements are kept (`REPLAY`), so a client that reconnects with
`Last-Event-ID` is sent what it missed, or `reset` when that is no longer known.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog

from casework.domain.errors import CaseworkError
from projections.changes import CHANNEL, Announcement, Change, decode

log = structlog.get_logger("casework.live")
HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
"""How long a browser waits before it reconnects a dropped stream."""
QUEUE = 100
"""Messages a stream holds for a client that does not read; then it is told to refetch."""
REPLAY = 2000
"""Announcements kept for clients that reconnect."""
CONNECT_SECONDS = 5.0
RECONNECT_MAX_SECONDS = 30.0


class TooManyStreams(CaseworkError):
    code = "rate_limited"


class Unavailable(CaseworkError):
    code = "unavailable"


@dataclass(frozen=True)
class Message:
    """One server-sent event: `changed` with ids and a version, or `reset` (refetch all)."""

    event: str
    data: str
    id: int


Wants = Callable[[Change], list[str]]
"""What a stream sends for a change: the data of each message (none if it is not the stream's)."""


@dataclass(eq=False)
class Stream:
    caller: str
    wants: Wants
    queue: asyncio.Queue[Message | None] = field(default_factory=lambda: asyncio.Queue(QUEUE))

    def put(self, message: Message | None) -> None:
        """Queue a message; a full queue is replaced by one `reset` (or the end of the stream)."""
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
            if message is not None:
                message = Message("reset", "{}", message.id)
        self.queue.put_nowait(message)


class Streams:
    """Every open stream of this process, fed by one listening connection (started with the
    first stream)."""

    def __init__(
        self, conninfo: str, position: Callable[[], int], per_caller: int, total: int
    ) -> None:
        self.conninfo = conninfo
        self.position = position  # the case views' position: what a new listener starts from
        self.per_caller, self.total = per_caller, total
        self.streams: set[Stream] = set()
        self.connections = 0
        self.head = 0
        """The position of the newest announcement heard (or the views' when listening began)."""
        self.floor = 0
        """Announcements after this position are all in `recent`."""
        self.recent: deque[Announcement] = deque(maxlen=REPLAY)
        self.listening = asyncio.Event()
        self.listener: asyncio.Task[None] | None = None
        self.closed = False

    async def open(self, caller: str, wants: Wants) -> Stream:
        """A new stream for `caller`; `release` it when its client goes."""
        if self.closed:
            raise Unavailable("the service is stopping; reconnect in a moment")
        if len(self.streams) >= self.total:
            raise TooManyStreams("too many live streams are open; try again later")
        if sum(s.caller == caller for s in self.streams) >= self.per_caller:
            raise TooManyStreams(
                f"at most {self.per_caller} live streams per caller: close one to open another"
            )
        await self._listening()
        stream = Stream(caller, wants)
        self.streams.add(stream)
        return stream

    def release(self, stream: Stream) -> None:
        self.streams.discard(stream)

    def missed(self, stream: Stream, last_event_id: int | None) -> list[Message]:
        """What a reconnecting client missed since `last_event_id`: the changes it wants, or a
        `reset` when they are no longer all known."""
        if last_event_id is None or last_event_id >= self.head:
            return []
        if last_event_id < self.floor:
            return [Message("reset", "{}", self.head)]
        return [
            message
            for announcement in self.recent
            if announcement.position > last_event_id
            for message in _messages(stream, announcement)
        ]

    async def messages(
        self, stream: Stream, last_event_id: int | None
    ) -> AsyncIterator[Message | None]:
        """The stream's messages as they come; None when a heartbeat is due. Ends when the
        server stops."""
        for message in self.missed(stream, last_event_id):
            yield message
        while True:
            try:
                message = await asyncio.wait_for(stream.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield None
                continue
            if message is None:
                return
            yield message

    @classmethod
    def of(cls, app: Any, position: Callable[[], int], per_caller: int, total: int) -> Streams:
        """Streams listening on the application's database."""
        params = app.recorder.datastore.pool.kwargs
        conninfo = psycopg.conninfo.make_conninfo(
            **{k: params[k] for k in ("host", "port", "user", "password", "dbname")}
        )
        return cls(conninfo, position, per_caller, total)

    def close(self) -> None:
        """End every stream (the server is stopping) and stop listening."""
        self.closed = True
        for stream in self.streams:
            stream.put(None)
        if self.listener is not None:
            self.listener.cancel()

    async def _listening(self) -> None:
        if self.listener is None:
            self.listener = asyncio.create_task(self._listen(), name="casework-live")
        try:
            await asyncio.wait_for(self.listening.wait(), CONNECT_SECONDS)
        except TimeoutError:
            raise Unavailable("live updates are away: PostgreSQL does not answer") from None

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # Listening first, then the position: nothing committed in between is lost.
                    self._restart(await asyncio.to_thread(self.position))
                    delay = 1.0
                    async for notification in conn.notifies():
                        self._fan_out(decode(notification.payload))
            except Exception as error:  # PostgreSQL away: the streams wait, and refetch after
                self.listening.clear()
                log.warning("live updates interrupted", error=type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _restart(self, position: int) -> None:
        """Listening (again) from `position`: what came before it is not known here."""
        self.connections += 1
        self.head = self.floor = max(position, self.head)
        self.recent.clear()
        if self.connections > 1:  # streams open meanwhile may have missed changes
            for stream in self.streams:
                stream.put(Message("reset", "{}", self.head))
        self.listening.set()

    def _fan_out(self, announcement: Announcement) -> None:
        if self.recent.maxlen and len(self.recent) == self.recent.maxlen:
            self.floor = self.recent[0].position
        self.recent.append(announcement)
        self.head = max(self.head, announcement.position)
        for stream in self.streams:
            for message in _messages(stream, announcement):
                stream.put(message)


def _messages(stream: Stream, announcement: Announcement) -> list[Message]:
    return [
        Message("changed", data, announcement.position)
        for change in announcement.changes
        for data in stream.wants(change)
    ]
