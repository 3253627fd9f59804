"""Running views: each follows the notification log in a thread of its own.

What has arrived since the last transaction is applied together, in one transaction with its
tracking record: under load a view takes bigger bites instead of falling behind one commit at a
time (with one transaction per event, P3 saw the views 500 events behind at 33 commands/s).

A view that fails on an event stops, and says which event: it never skips one silently. Its lag
(events and seconds behind the log) is what `/ready` and `/metrics` report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from queue import Empty, Full, Queue
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import Notification, Subscription, Tracking

from casework.app import CaseworkApp
from projections.view import View

log = structlog.get_logger("casework.projections")
BATCH = 500


class ViewStatus(msgspec.Struct, frozen=True):
    view: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    running: bool
    error: str | None = None


class ViewRunner:
    """Follows the log into a view; `view` may be a callable naming the live tables, so the
    runner follows a rebuild's swap."""

    def __init__(self, app: CaseworkApp, view: View | Callable[[], View]) -> None:
        self.app = app
        self.current: Callable[[], View] = view if callable(view) else (lambda: view)
        self.error: str | None = None
        self._subscription: Subscription[Any] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def view(self) -> View:
        return self.current()

    def start(self) -> ViewRunner:
        self._thread = threading.Thread(
            target=self._run, name=f"view-{self.view.name}", daemon=True
        )
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
        while not self._stopping.is_set():
            if not self._follow(self.current()):
                return

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
        feeder = threading.Thread(
            target=_feed, args=(subscription, arrived, done), name=f"feed-{view.name}", daemon=True
        )
        with subscription:
            feeder.start()
            try:
                while (batch := _take(arrived, BATCH)) and not self._stopping.is_set():
                    if self.current() is not view:
                        return True  # a rebuild swapped in new tables: go on from their position
                    if not self._project(view, batch, settle=arrived.empty()):
                        return False
                return not self._stopping.is_set()
            finally:
                done.set()
                subscription.stop()

    def _project(self, view: View, batch: list[Notification], settle: bool) -> bool:
        try:
            events = view.decode(self.app.mapper, batch)
            view.project_batch(events, Tracking(self.app.name, batch[-1].id), settle)
            return True
        except Exception:
            if len(batch) == 1:
                raise
        for notification in batch:
            try:
                events = view.decode(self.app.mapper, [notification])
                view.project_batch(events, Tracking(self.app.name, notification.id))
            except Exception as error:  # stop visibly, naming the event; never skip it
                self.error = (
                    f"view {view.name} stopped at notification {notification.id}"
                    f" ({notification.topic.rsplit(':', 1)[-1]}"
                    f" v{notification.originator_version}"
                    f" of {notification.originator_id}): {type(error).__name__}: {error}"
                )
                log.error("view stopped", view=view.name, error=self.error)
                return False
        return True

    def status(self) -> ViewStatus:
        position = self.position
        head = self.app.recorder.max_notification_id() or 0
        lag_seconds = 0.0
        if head > position:
            oldest = self.app.recorder.select_notifications(start=position + 1, limit=1)
            if oldest:
                recorded = self.app.mapper.to_domain_event(oldest[0]).timestamp
                lag_seconds = max(0.0, (datetime.now(UTC) - recorded).total_seconds())
        running = self._thread is not None and self._thread.is_alive() and self.error is None
        return ViewStatus(
            self.view.name, position, head, head - position, round(lag_seconds, 3), running,
            self.error,
        )  # fmt: skip


def _feed(
    subscription: Subscription[Any], arrived: Queue[Notification | None], done: threading.Event
) -> None:
    """Hand the subscription's notifications over as they come; None when it has ended."""

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
