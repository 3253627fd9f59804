"""The views of the service, built over one application and run together."""

from __future__ import annotations

from casework.app import CaseworkApp
from casework.domain.policy import StallPolicy
from projections.cases import CaseViews
from projections.runner import ViewRunner, ViewStatus


class Projections:
    """Every view, each with its runner."""

    def __init__(self, app: CaseworkApp, policy: StallPolicy) -> None:
        datastore = app.recorder.datastore  # type: ignore[attr-defined]
        self.cases = CaseViews(datastore, policy)
        self.runners = {view.name: ViewRunner(app, view) for view in (self.cases,)}

    def start(self) -> Projections:
        for runner in self.runners.values():
            runner.start()
        return self

    def stop(self) -> None:
        for runner in self.runners.values():
            runner.stop()

    def status(self) -> list[ViewStatus]:
        return [runner.status() for runner in self.runners.values()]
