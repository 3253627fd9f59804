"""The journey workflow: one per case, for as long as the case is open.

Staff and partners' commands arrive as updates named after the command (`record_screening`); a
validator refuses an illegal step with the same pure rules the aggregate uses, before anything is
written. Accepted updates write through a local activity, which returns the new case state. Between
commands the workflow sleeps until the next deadline of the stall policy it started with, then flags
or escalates the stalled step. Each partner handoff runs as a child workflow with its own deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from uuid import UUID

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import msgspec

    from casework.domain import rules
    from casework.domain.commands import Command, Context
    from casework.domain.errors import CaseworkError, NotFound, ValidationFailed
    from casework.domain.policy import StallPolicy
    from casework.domain.rules import OPEN_HANDOFF
    from casework.domain.stalls import due_commands
    from casework.domain.state import CaseState
    from workflows.activities import refusal
    from workflows.messages import (
        POLICY_VERSION,
        CaseChanged,
        CommandOutcome,
        CommandRequest,
        HandoffInput,
        HandoffResult,
        JourneyInput,
        JourneyResult,
        JourneyState,
        OpenCaseRequest,
        handoff_workflow_id,
    )

from workflows.handoff import HandoffWorkflow
from workflows.writes import REFUSED_PAUSE, current_state, system_request, write

JOURNEY_STEPS = frozenset(
    {"screening", "identification", "coaching_start", "service_plan", "subsidy_decision",
     "inactivity"}
)  # fmt: skip


@workflow.defn
class JourneyWorkflow:
    @workflow.init
    def __init__(self, start: JourneyInput) -> None:
        # The one state a run carries into the next; the rest below lives for a run only.
        self.journey: JourneyState = start.journey
        self.changed = False
        self.open_failed = False
        self.signals: set[asyncio.Task[None]] = set()
        # One write at a time: concurrent updates on one case would otherwise race each other
        # to the same version in the store, and the losers be retried or refused as stale.
        self.writing = asyncio.Lock()

    @property
    def state(self) -> CaseState | None:
        """The case as the journey last saw it."""
        return self.journey.case

    @workflow.run
    async def run(self, start: JourneyInput) -> JourneyResult:
        if self.state is None:
            await workflow.wait_condition(lambda: self.state is not None or self.open_failed)
        while self.state is not None and not self.state.closed:
            await self._start_handoffs()
            commands, next_due = due_commands(
                self.state, self.journey.policy, workflow.now(), JOURNEY_STEPS
            )
            if commands:
                await self._run_system(commands[0])
                continue
            self.changed = False
            timeout = (next_due - workflow.now()) if next_due else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            if workflow.info().is_continue_as_new_suggested():
                await self._settle()
                workflow.continue_as_new(JourneyInput(self.journey))
        await self._settle()
        return JourneyResult(
            case_id=self.journey.case_id,
            opened=self.state is not None,
            close_outcome=self.state.close_outcome if self.state else None,
            handoff_outcomes={h: o for h, o in self.journey.handoffs.items() if o is not None},
        )

    async def _settle(self) -> None:
        """Before the run ends: every update answered, every handoff told of the newest state
        (a signal not yet sent would end with the run's tasks)."""
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.signals)

    def _apply(self, outcome: CommandOutcome) -> None:
        self._adopt(outcome.state)

    def _adopt(self, state: CaseState) -> None:
        # Writes from handlers and timers interleave; the newest state wins.
        if self.state is None or state.version >= self.state.version:
            self.journey.case = state
            self.changed = True
            for handoff_id, outcome in sorted(self.journey.handoffs.items()):
                if outcome is None:
                    self._tell_handoff(handoff_id)

    def _tell_handoff(self, handoff_id: str) -> None:
        assert self.state is not None
        handle = workflow.get_external_workflow_handle(
            handoff_workflow_id(UUID(self.state.case_id), handoff_id)
        )
        task = asyncio.create_task(self._signal(handle, CaseChanged(self.state)))
        self.signals.add(task)
        task.add_done_callback(self.signals.discard)

    @staticmethod
    async def _signal(handle: workflow.ExternalWorkflowHandle, message: CaseChanged) -> None:
        with contextlib.suppress(ApplicationError):  # the handoff has finished meanwhile
            await handle.signal(HandoffWorkflow.case_changed, message)

    async def _run_system(self, command: Command) -> None:
        assert self.state is not None
        case_id = UUID(self.state.case_id)
        try:
            async with self.writing:
                outcome = await write(system_request(case_id, self.state.version, command))
            self._apply(outcome)
        except ApplicationError as error:
            workflow.logger.info("system command refused", extra={"code": error.type})
            # Usually another write moved the case on: read it and decide again.
            stored = await current_state(case_id)
            if stored.version > self.state.version:
                self._adopt(stored)
                return
            self.changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.changed, timeout=REFUSED_PAUSE)

    async def _start_handoffs(self) -> None:
        """Start a child for each open handoff that has none. Its outcome comes back as a
        signal (`handoff_finished`) to the journey's id, which reaches whichever run is
        current: a child outlives the run that started it (ABANDON), but not its handle."""
        assert self.state is not None
        for handoff in self.state.handoffs:
            if handoff.status not in OPEN_HANDOFF or handoff.id in self.journey.handoffs:
                continue
            self.journey.handoffs[handoff.id] = None
            case_id = self.journey.case_id
            await workflow.start_child_workflow(
                HandoffWorkflow.run,
                HandoffInput(case_id, handoff.id, self.journey.policy, self.state),
                id=handoff_workflow_id(case_id, handoff.id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )

    # Updates

    @workflow.update
    async def open_case(self, request: OpenCaseRequest) -> CommandOutcome:
        try:
            outcome = await write(request)
        except ApplicationError:
            self.open_failed = True
            raise
        self._apply(outcome)
        return outcome

    @workflow.update(dynamic=True)
    async def command(self, name: str, args: Sequence[RawValue]) -> CommandOutcome:
        request = self._request(name, args)
        # Always keyed: should this workflow task fail after the write, its retry writes once.
        key = request.idempotency_key or f"update:{workflow.current_update_info().id}"
        async with self.writing:
            outcome = await write(
                msgspec.structs.replace(request, idempotency_key=key, workflow_time=workflow.now())
            )
        self._apply(outcome)
        return outcome

    @command.validator
    def validate_command(self, name: str, args: Sequence[RawValue]) -> None:
        try:
            request = self._request(name, args)
            if self.state is None:
                raise NotFound("the case is not open")
            ctx = Context(
                actor=request.caller.actor,
                recorded_at=workflow.now(),
                correlation_id=request.caller.correlation_id,
            )
            rules.check(self.state, request.command, ctx)
        except CaseworkError as error:
            raise refusal(error) from None

    @staticmethod
    def _request(name: str, args: Sequence[RawValue]) -> CommandRequest:
        # The command arrives typed (tagged with its name): nothing is decoded from a dict.
        try:
            request = workflow.payload_converter().from_payload(args[0].payload, CommandRequest)
        except msgspec.ValidationError as error:  # a value made in code, past a limit
            raise ValidationFailed.decoding(error, root="$.command") from None
        if request.command.name() != name:
            raise ValidationFailed.field("command", f"the update {name!r} carries another command")
        return request

    @workflow.signal
    def case_changed(self, message: CaseChanged) -> None:
        """A handoff workflow wrote to the case."""
        if self.state is None or message.state.version > self.state.version:
            self.journey.case = message.state
            self.changed = True

    @workflow.signal
    def handoff_finished(self, result: HandoffResult) -> None:
        """A handoff workflow ended: decided, completed, redirected, or its case closed."""
        self.journey.handoffs[result.handoff_id] = result.outcome or result.status

    @workflow.signal
    def migrate_policy(self, policy: StallPolicy) -> None:
        """Move this journey to another policy version (running journeys keep theirs otherwise)."""
        self.journey.policy = policy
        self.changed = True
        workflow.upsert_search_attributes([POLICY_VERSION.value_set(policy.version)])

    @workflow.query
    def current_state(self) -> CaseState | None:
        return self.state

    @workflow.query
    def journey_state(self) -> JourneyState:
        return self.journey
