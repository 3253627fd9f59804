"""The handoff workflow: one per handoff to Kela, Keva or Ilmarinen, a child of the journey.

It keeps the partner's clock: a reminder halfway to the acknowledgement and decision deadlines, a
stall when a deadline passes, escalation at twice the limit, and the information loop's own limit.
The journey tells it of every change to the case; when the handoff is decided, completed or
redirected, its outcome returns to the journey. It tells the partner's system of each change to
the task (a webhook, `workflows/delivery.py`) without waiting for the delivery, except that it
lets the deliveries still under way finish before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from casework.domain.commands import Command
    from casework.domain.policy import StallPolicy
    from casework.domain.rules import OPEN_HANDOFF
    from casework.domain.stalls import due_commands
    from casework.domain.state import CaseState
    from casework.domain.tasks import Seen, changes, seen
    from workflows.delivery import RETRIES, START_TO_CLOSE, DeliveryRequest, WebhookActivities
    from workflows.messages import (
        CaseChanged,
        HandoffInput,
        HandoffResult,
        handoff_workflow_id,
        journey_id,
    )

from workflows.writes import REFUSED_PAUSE, current_state, system_request, write

HANDOFF_STEPS = frozenset({"handoff_ack", "handoff_info", "handoff_decision"})


@workflow.defn
class HandoffWorkflow:
    def __init__(self) -> None:
        self.state: CaseState | None = None
        self.policy: StallPolicy | None = None
        self.changed = False
        self.told: Seen | None = None
        self.deliveries: set[asyncio.Future[object]] = set()

    @workflow.run
    async def run(self, start: HandoffInput) -> HandoffResult:
        self.state, self.policy = start.state, start.policy
        # Histories from before webhooks replay without them.
        webhooks = workflow.patched("partner-webhooks")
        if workflow.info().continued_run_id is not None:
            self.told = seen(self.state, start.handoff_id)  # the run before told this much
        while True:
            handoff = self.state.handoff(start.handoff_id)
            assert handoff is not None
            if webhooks:
                self._tell_partner(start)
            # A closed case ends its handoffs too: nothing waits on them any more.
            if handoff.status not in OPEN_HANDOFF or self.state.closed:
                await self._deliveries_done()
                await workflow.wait_condition(workflow.all_handlers_finished)
                return HandoffResult(handoff.id, handoff.partner, handoff.status, handoff.outcome)
            commands, next_due = due_commands(
                self.state, self.policy, workflow.now(), HANDOFF_STEPS, item=start.handoff_id
            )
            if commands:
                await self._run_system(start.case_id, commands[0])
                continue
            self.changed = False
            timeout = (next_due - workflow.now()) if next_due else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.changed, timeout=timeout)
            if workflow.info().is_continue_as_new_suggested():
                await self._deliveries_done()
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    HandoffInput(start.case_id, start.handoff_id, self.policy, self.state)
                )

    def _tell_partner(self, start: HandoffInput) -> None:
        """Start a webhook delivery of what changed since the partner was last told."""
        assert self.state is not None
        now = seen(self.state, start.handoff_id)
        kinds = ["created"] if self.told is None else changes(self.told, now)
        self.told = now
        if not kinds:
            return
        handoff = self.state.handoff(start.handoff_id)
        assert handoff is not None
        workflow_id = handoff_workflow_id(start.case_id, start.handoff_id)
        request = DeliveryRequest(
            start.case_id, handoff.id, handoff.partner, f"{workflow_id}@{self.state.version}",
            kinds, workflow.now(),
        )  # fmt: skip
        delivery = workflow.start_activity_method(
            WebhookActivities.deliver_webhook,
            request,
            start_to_close_timeout=START_TO_CLOSE,
            retry_policy=RETRIES,
        )
        self.deliveries.add(delivery)
        delivery.add_done_callback(self.deliveries.discard)

    async def _deliveries_done(self) -> None:
        for delivery in list(self.deliveries):
            # A delivery that gave up is in the task's history; it must not fail the handoff.
            with contextlib.suppress(ActivityError):
                await delivery

    async def _run_system(self, case_id: UUID, command: Command) -> None:
        assert self.state is not None
        try:
            outcome = await write(system_request(case_id, self.state.version, command))
        except ApplicationError:
            # Usually the case moved on meanwhile: read it and decide again.
            stored = await current_state(case_id)
            if stored.version > self.state.version:
                self.state = stored
                return
            self.changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self.changed, timeout=REFUSED_PAUSE)
            return
        if outcome.state.version > self.state.version:
            self.state = outcome.state
        parent = workflow.get_external_workflow_handle(journey_id(case_id))
        with contextlib.suppress(ApplicationError):  # the journey may have ended meanwhile
            await parent.signal("case_changed", CaseChanged(outcome.state))

    @workflow.signal
    def case_changed(self, message: CaseChanged) -> None:
        if self.state is None or message.state.version > self.state.version:
            self.state = message.state
            self.changed = True
