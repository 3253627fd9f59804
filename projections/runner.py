"""Running views: each follows the notification log in a thread of its own.

What has arrived since the last transaction is applied together, in one transaction with its
tracking record: under load a view takes bigger bites instead of falling behind one commit at a
time (with one transaction per event, P3 saw the views 500 events behind at 33 commands/s).

A view that fails on an event says which event, keeps serving what it had (its tables stay as
they were after the last good batch) and tries that event again, waiting longer each time (1 s,
doubling, at most a minute): a failure that passes (PostgreSQL restarting) heals by itself, and a
bug fixed and deployed resumes the view where it stopped. It never skips an event. Its failure, lag
(events and seconds behind the log) and failure count are what `/ready` and `/metrics` report.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from queue import Empty, Full, Queue
from typing import Any

import msgspec
import psycopg
import structlog
from eventsourcing.persistence import Notification, Subscription, Tracking

from casework.application import CaseworkApp
from projections.view import View

log = structlog.get_logger("casework.projections")
BATCH = 500
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


class ViewStatus(msgspec.Struct, frozen=True):
    view: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    running: bool
    error: str | None = None
    failures: int = 0


class FailedAt(Exception):
    """A view failed on one event (its `error` names it)."""


class ViewRunner:
    """Follows the log into a view; `view` may be a callable naming the live tables, so the
    runner follows a rebuild's swap."""

    def __init__(self, app: CaseworkApp, view: View | Callable[[], View]) -> None:
        self.app = app
        self.current: Callable[[], View] = view if callable(view) else (lambda: view)
        self.name = self.view.name  # the same whichever tables are live
        self.error: str | None = None
        self.failures = 0  # since start: how often the view failed and tried again
        self._subscription: Subscription[Any] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def view(self) -> View:
        return self.current()

    def start(self) -> ViewRunner:
        self._thread = threading.Thread(target=self._run, name=f"view-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._subscription is not None:
            self._subscription.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def position(self) -> int:
        return self.view.max_tracking_id(self.app.name) or 0

    def _run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                if not self._follow(self.current()):
                    return
                continue
            except FailedAt:
                pass  # named already
            except Exception as error:  # PostgreSQL away, a subscription lost: say so, retry
                self.error = f"view {self.name} failed: {describe(error)}"
                log.error("view failed", view=self.name, error=self.error)
            self.failures += 1
            self._stopping.wait(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _follow(self, view: View) -> bool:
        """Project into `view` until stopped (False) or its tables are swapped out (True).

        Whatever has arrived is applied as one batch in one transaction (up to BATCH events),
        so a view keeps up with a busy log; when a batch fails, its events are applied one at a
        time to name the one that fails."""
        view.create_table()
        self._subscription = subscription = self.app.recorder.subscribe(
            gt=view.max_tracking_id(self.app.name)
        )
        arrived: Queue[Notification | None] = Queue(maxsize=4 * BATCH)
        done = threading.Event()
        lost: list[Exception] = []
        feeder = threading.Thread(
            target=_feed, args=(subscription, arrived, done, lost), name=f"feed-{view.name}",
            daemon=True,
        )  # fmt: skip
        with subscription:
            feeder.start()
            try:
                while (batch := _take(arrived, BATCH)) and not self._stopping.is_set():
                    if self.current() is not view:
                        return True  # a rebuild swapped in new tables: go on from their position
                    self._project(view, batch, settle=arrived.empty())
                    self.error = None
                if lost:  # PostgreSQL went away under the subscription: retry, saying so
                    raise lost[0]
                return not self._stopping.is_set()
            finally:
                done.set()
                subscription.stop()

    def _project(self, view: View, batch: list[Notification], settle: bool) -> None:
        try:
            events = view.decode(self.app.mapper, batch)
            view.project_batch(
                events, Tracking(self.app.name, batch[-1].id), settle, announced=True
            )
            return
        except Exception as error:
            if len(batch) == 1:
                self._failed(view, batch[0], error)
        for notification in batch:  # which one? Apply them one at a time
            try:
                events = view.decode(self.app.mapper, [notification])
                view.project_batch(events, Tracking(self.app.name, notification.id), announced=True)
            except Exception as error:
                self._failed(view, notification, error)

    def _failed(self, view: View, notification: Notification, error: Exception) -> None:
        """Record which event the view failed on, and stop this pass: never skip it."""
        self.error = (
            f"view {view.name} failed at notification {notification.id}"
            f" ({notification.topic.rsplit(':', 1)[-1]}"
            f" v{notification.originator_version}"
            f" of {notification.originator_id}): {describe(error)}"
        )
        log.error("view failed", view=view.name, error=self.error)
        raise FailedAt(self.error) from error

    def status(self) -> ViewStatus:
        position = self.position
        head = self.app.recorder.max_notification_id() or 0
        lag_seconds = 0.0
        if head > position:
            oldest = self.app.recorder.select_notifications(start=position + 1, limit=1)
            if oldest:
                # Read the time without decoding the event: it may be the one the view fails on.
                with contextlib.suppress(Exception):
                    recorded = self.app.mapper.transcoder.decode(oldest[0].state)["timestamp"]
                    lag_seconds = max(0.0, (datetime.now(UTC) - recorded).total_seconds())
        running = self._thread is not None and self._thread.is_alive() and self.error is None
        return ViewStatus(
            self.name, position, head, head - position, round(lag_seconds, 3), running,
            self.error, self.failures,
        )  # fmt: skip


def describe(error: Exception) -> str:
    """An error by its kind only: messages can quote the values of an event (personal data)."""
    if isinstance(error, psycopg.Error) and error.sqlstate:
        return f"{type(error).__name__} (SQLSTATE {error.sqlstate})"
    cause = error.__cause__
    if isinstance(cause, psycopg.Error) and cause.sqlstate:
        return f"{type(error).__name__} (SQLSTATE {cause.sqlstate})"
    return type(error).__name__


def _feed(
    subscription: Subscription[Any],
    arrived: Queue[Notification | None],
    done: threading.Event,
    lost: list[Exception],
) -> None:
    """Hand the subscription's notifications over as they come; None when it has ended, and
    why in `lost` if it failed."""

    def put(item: Notification | None) -> bool:
        while not done.is_set():  # the runner has gone: nobody takes any more
            try:
                arrived.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    try:
        for notification in subscription:
            if not put(notification):
                return
    except Exception as error:
        lost.append(error)
    finally:
        put(None)


def _take(arrived: Queue[Notification | None], limit: int) -> list[Notification]:
    """The next notification (waiting for it) and whatever else has arrived, up to `limit`;
    empty once the subscription has ended."""
    first = arrived.get()
    if first is None:
        return []
    batch = [first]
    while len(batch) < limit:
        try:
            item = arrived.get_nowait()
        except Empty:
            break
        if item is None:
            arrived.put(None)  # seen again by the next take
            break
        batch.append(item)
    return batch
