"""Replay recorded histories against today's workflow code: a non-deterministic change fails here.

The histories in tests/workflows/histories/ were recorded by `record_histories.py` (run by hand)
and are sealed with the tests' fixed master key. This module reads them and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from tests.workflows.record_histories import HANDOFF, JOURNEY, MASTER_KEY, REFUSED_OPENING
from workflows.converter import data_converter
from workflows.handoff import HandoffWorkflow
from workflows.journey import JourneyWorkflow
from workflows.messages import (
    CommandOutcome,
    HandoffInput,
    HandoffResult,
    JourneyInput,
    JourneyResult,
)
from workflows.worker import PASSED_THROUGH


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def replayer(master_key: bytes, *workflow_classes: type) -> Replayer:
    # As the worker runs them (workflows/worker.py): same converter, sandbox and passthrough.
    return Replayer(
        workflows=list(workflow_classes) or [JourneyWorkflow, HandoffWorkflow],
        data_converter=data_converter(master_key),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
        ),
    )


def event_counts(history: WorkflowHistory) -> Counter[str]:
    return Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)


def test_the_fixtures_are_sealed_with_the_conftest_master_key(master_key):
    assert master_key == MASTER_KEY


async def written_events(history: WorkflowHistory, master_key: bytes) -> list[list[str]]:
    """The events each successful write (a local activity marker) recorded, decoded."""
    converter = data_converter(master_key)
    written = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes") and "result" in marker.details:
            [outcome] = await converter.decode(marker.details["result"].payloads, [CommandOutcome])
            written.append(outcome.events)
    return written


async def test_the_journey_fixture_covers_commands_refusals_a_stall_a_handoff_and_closing(
    master_key,
):
    counts = event_counts(load(JOURNEY))
    assert counts["WORKFLOW_EXECUTION_UPDATE_ACCEPTED"] >= 10
    assert counts["TIMER_FIRED"] >= 1  # the screening stall, after a fast-forward
    assert counts["WORKFLOW_EXECUTION_TIME_SKIPPING_TRANSITIONED"] >= 1
    assert counts["START_CHILD_WORKFLOW_EXECUTION_INITIATED"] == 1
    assert counts["CHILD_WORKFLOW_EXECUTION_COMPLETED"] == 1
    assert counts["WORKFLOW_EXECUTION_SIGNALED"] >= 3  # the child's two writes and its outcome
    assert counts["WORKFLOW_EXECUTION_COMPLETED"] == 1
    failed_updates = [
        e
        for e in load(JOURNEY).events
        if e.HasField("workflow_execution_update_completed_event_attributes")
        and e.workflow_execution_update_completed_event_attributes.outcome.HasField("failure")
    ]
    # The stale expected version, refused by the write (the validator's refusals leave no trace).
    [failed] = failed_updates
    outcome = failed.workflow_execution_update_completed_event_attributes.outcome
    assert outcome.failure.application_failure_info.type == "stale_version"
    written = await written_events(load(JOURNEY), master_key)
    assert ["StepStalled"] in written  # the journey's own write, when its timer fired
    assert written[-1] == ["CaseClosed"]


async def test_the_handoff_fixture_covers_reminder_stall_info_loop_and_completion(master_key):
    history = load(HANDOFF)
    counts = event_counts(history)
    assert counts["TIMER_FIRED"] >= 2
    assert await written_events(history, master_key) == [["HandoffReminderSent"], ["StepStalled"]]
    assert counts["WORKFLOW_EXECUTION_SIGNALED"] >= 5  # ack, info asked and given, accept, complete
    # To the journey: its two writes, then its outcome.
    assert counts["SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"] == 3
    assert counts["WORKFLOW_EXECUTION_COMPLETED"] == 1


@pytest.mark.parametrize("fixture", [JOURNEY, HANDOFF, REFUSED_OPENING], ids=lambda p: p.stem)
async def test_recorded_histories_replay_deterministically(master_key, fixture):
    result = await replayer(master_key).replay_workflow(
        load(fixture), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, repr(result.replay_failure)


# Deliberately changed workflows, registered under the recorded names. Unsandboxed, so the
# sandbox need not re-import this test module (and pytest with it).


@workflow.defn(name="JourneyWorkflow", sandboxed=False)
class JourneyWorkflowThatWaitsFirst(JourneyWorkflow):
    @workflow.run
    async def run(self, start: JourneyInput) -> JourneyResult:
        await workflow.sleep(timedelta(minutes=1))
        return await super().run(start)


@workflow.defn(name="HandoffWorkflow", sandboxed=False)
class HandoffWorkflowThatWaitsFirst(HandoffWorkflow):
    @workflow.run
    async def run(self, start: HandoffInput) -> HandoffResult:
        await workflow.sleep(timedelta(minutes=1))
        return await super().run(start)


@pytest.mark.parametrize(
    ("fixture", "changed"),
    [
        pytest.param(JOURNEY, JourneyWorkflowThatWaitsFirst, id="journey"),
        pytest.param(HANDOFF, HandoffWorkflowThatWaitsFirst, id="handoff"),
        pytest.param(REFUSED_OPENING, JourneyWorkflowThatWaitsFirst, id="refused_opening"),
    ],
)
async def test_a_changed_workflow_fails_to_replay_a_recorded_history(master_key, fixture, changed):
    result = await replayer(master_key, changed).replay_workflow(
        load(fixture), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError), repr(
        result.replay_failure
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer(master_key, changed).replay_workflow(load(fixture))
