"""Running views: each follows the notification log in a thread of its own.

A view that fails on an event stops, and says which event: it never skips one silently. Its lag
(events and seconds behind the log) is what `/ready` and `/metrics` report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from eventsourcing.projection import ApplicationSubscription

from casework.app import CaseworkApp
from projections.view import View

log = structlog.get_logger("casework.projections")


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
        self._subscription: ApplicationSubscription[Any] | None = None
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
        """Project into `view` until stopped (False) or its tables are swapped out (True)."""
        view.create_table()
        self._subscription = ApplicationSubscription(
            self.app, gt=view.max_tracking_id(self.app.name)
        )
        with self._subscription as events:
            for event, tracking in events:
                if self._stopping.is_set():
                    return False
                if self.current() is not view:
                    return True  # a rebuild swapped in new tables: go on from their position
                try:
                    view.project(event, tracking)
                except Exception as error:  # stop visibly, naming the event; never skip it
                    self.error = (
                        f"view {view.name} stopped at notification {tracking.notification_id}"
                        f" ({type(event).__name__} v{event.originator_version} of"
                        f" {event.originator_id}): {type(error).__name__}: {error}"
                    )
                    log.error("view stopped", view=view.name, error=self.error)
                    return False
        return not self._stopping.is_set()

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
