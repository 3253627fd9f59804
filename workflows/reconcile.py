"""Reconcile: every open case should have a running journey, and every running journey a case."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from anyio import to_thread
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from casework.application import CaseworkApp
from workflows.client import Journeys
from workflows.journey import JourneyWorkflow
from workflows.messages import RUNNING_JOURNEYS, JourneyInput, journey_id, policy_attributes

WATCH_SECONDS = 10.0
log = structlog.get_logger("casework.journeys")


@dataclass
class Report:
    open_cases: int = 0
    running: int = 0
    restarted: list[UUID] = field(default_factory=list)
    missing: list[UUID] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"open cases: {self.open_cases}, running journeys: {self.running}"]
        out += [f"restarted journey of open case {c}" for c in self.restarted]
        out += [f"no running journey for open case {c}" for c in self.missing]
        out += [f"journey {w} runs but its case is not open" for w in self.orphaned]
        if len(out) == 1:
            out.append("no differences")
        return out


async def _is_running(client: Client, workflow_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def reconcile(
    app: CaseworkApp, client: Client, journeys: Journeys, restart: bool = True
) -> Report:
    """Compare the store's open cases with Temporal's running journeys; restart the missing."""
    report = Report()
    open_cases = {journey_id(case_id): case_id for case_id in app.case_ids(open_only=True)}
    running = {wf.id async for wf in client.list_workflows(RUNNING_JOURNEYS)}
    report.open_cases, report.running = len(open_cases), len(running)
    for workflow_id, case_id in sorted(open_cases.items()):
        # The list is eventually consistent: confirm a missing journey before acting on it.
        if workflow_id in running or await _is_running(client, workflow_id):
            continue
        if not restart:
            report.missing.append(case_id)
            continue
        state = app.get_case(case_id).state
        await client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(case_id, journeys.policy, state),
            id=workflow_id,
            task_queue=journeys.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=policy_attributes(journeys.policy),
        )
        report.restarted.append(case_id)
    report.orphaned = sorted(running - set(open_cases))
    return report


def _has_open_cases(app: CaseworkApp) -> bool:
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute("SELECT EXISTS (SELECT 1 FROM client_cases WHERE open) AS any")
        return bool(curs.fetchone()["any"])


async def journeys_lost(app: CaseworkApp, client: Client) -> bool:
    """Open cases exist, yet Temporal runs no journey: it lost its state (a new database)."""
    if not await to_thread.run_sync(_has_open_cases, app):
        return False
    return (await client.count_workflows(RUNNING_JOURNEYS)).count == 0


async def keep_journeys(
    app: CaseworkApp, client: Client, journeys: Journeys, wake: asyncio.Event | None = None
) -> None:
    """Reconcile once, then whenever Temporal is found empty of journeys while cases are open
    (checked every WATCH_SECONDS, and at once when `wake` is set). Runs until cancelled; an
    engine that does not answer is tried again at the next check."""
    wake = wake or asyncio.Event()
    first = True
    while True:
        try:
            if first or await journeys_lost(app, client):
                report = await reconcile(app, client, journeys)
                if report.restarted:
                    log.warning("journeys restarted", restarted=len(report.restarted))
                first = False
        except asyncio.CancelledError:
            raise
        except Exception as error:  # PostgreSQL or Temporal away: the next round tries again
            log.warning("journeys not checked", error=type(error).__name__)
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), WATCH_SECONDS)
