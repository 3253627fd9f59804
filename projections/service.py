"""The views of the service, built over one application and run together.

Which tables serve a view is recorded in `view_registry`: a rebuild builds new tables beside the
live ones and swaps the registry entry in one transaction. Readers and runners look the entry up
(at most once a second), so every process follows a swap, whichever process made it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from casework.application import CaseworkApp
from casework.domain.policy import StallPolicy
from projections.cases import CaseViews
from projections.employers import EmployerViews
from projections.indicators import IndicatorViews
from projections.runner import ViewRunner, ViewStatus
from projections.view import View

REGISTRY = """
CREATE TABLE IF NOT EXISTS view_registry (
    name text PRIMARY KEY,
    suffix text NOT NULL,
    swapped_at timestamptz NOT NULL DEFAULT now()
);
"""
RECHECK_SECONDS = 1.0


class Projections:
    """Every view, each with its runner."""

    def __init__(self, app: CaseworkApp, policy: StallPolicy) -> None:
        self.app = app
        self.datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.factories: dict[str, Callable[[str], View]] = {
            CaseViews.name: lambda suffix: CaseViews(self.datastore, policy, suffix),
            EmployerViews.name: lambda suffix: EmployerViews(self.datastore, suffix),
            IndicatorViews.name: lambda suffix: IndicatorViews(self.datastore, suffix),
        }
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(REGISTRY)
        self._lock = threading.Lock()
        self._views: dict[str, View] = {}
        self._checked = 0.0
        self.runners = {
            name: ViewRunner(app, lambda n=name: self.view(n)) for name in self.factories
        }

    def make(self, name: str, suffix: str) -> View:
        return self.factories[name](suffix)

    def registered_suffixes(self) -> dict[str, str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT name, suffix FROM view_registry")
            return {row["name"]: row["suffix"] for row in curs.fetchall()}

    def view(self, name: str) -> View:
        """The view's live tables, following a swap within a second."""
        with self._lock:
            if time.monotonic() - self._checked > RECHECK_SECONDS or name not in self._views:
                suffixes = self.registered_suffixes()
                for known in self.factories:
                    suffix = suffixes.get(known, "")
                    current = self._views.get(known)
                    if current is None or current.suffix != suffix:
                        self._views[known] = self.make(known, suffix)
                        self._views[known].create_table()
                self._checked = time.monotonic()
            return self._views[name]

    @property
    def cases(self) -> CaseViews:
        view = self.view(CaseViews.name)
        assert isinstance(view, CaseViews)
        return view

    @property
    def employers(self) -> EmployerViews:
        view = self.view(EmployerViews.name)
        assert isinstance(view, EmployerViews)
        return view

    @property
    def indicators(self) -> IndicatorViews:
        view = self.view(IndicatorViews.name)
        assert isinstance(view, IndicatorViews)
        return view

    def swap(self, name: str, suffix: str) -> None:
        """Make the tables with `suffix` the live ones, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO view_registry (name, suffix) VALUES (%s, %s) ON CONFLICT (name)"
                " DO UPDATE SET suffix = EXCLUDED.suffix, swapped_at = now()",
                (name, suffix),
            )
        with self._lock:
            self._checked = 0.0

    def start(self) -> Projections:
        for runner in self.runners.values():
            runner.start()
        return self

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()

    def status(self) -> list[ViewStatus]:
        return [runner.status() for runner in self.runners.values()]
