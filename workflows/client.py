"""The callers' side: open a case with its journey (update-with-start), send it commands."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import msgspec
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from casework.domain.commands import CaseCommand, OpenCase
from casework.domain.policy import StallPolicy
from casework.problems import Problem, problem
from workflows.journey import JourneyWorkflow
from workflows.messages import (
    POLICY_VERSION,
    RUNNING_JOURNEYS,
    Caller,
    CommandOutcome,
    CommandRequest,
    JourneyInput,
    JourneyState,
    OpenCaseRequest,
    journey_id,
    policy_attributes,
)

CASE_NAMESPACE = UUID("8f0d6c1e-3a52-4c55-9a57-4a0f3c8f2b10")
# Temporal marks a workflow whose task keeps failing with this search attribute (after the
# consecutive failures its dynamic config names: system.numConsecutiveWorkflowTaskProblems...).
TASK_PROBLEMS = "TemporalReportedProblems IS NOT NULL"
UPDATE_ATTEMPTS = 4
T = TypeVar("T")


class Refused(Exception):
    """A command the journey refused, with the problem details the domain's refusal maps to."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem

    @property
    def code(self) -> str:
        return self.problem.code


class TemporalUnavailable(Exception):
    """Temporal cannot be reached (the client failed to connect)."""


@contextlib.asynccontextmanager
async def _reaching_temporal() -> AsyncIterator[None]:
    try:
        yield
    except RuntimeError as error:
        # The SDK reports a failed (lazy) connection as a RuntimeError.
        if "connect" not in str(error).lower():
            raise
        raise TemporalUnavailable(str(error)) from None


def _refused(error: WorkflowUpdateFailedError) -> Refused:
    cause = error.cause
    if not isinstance(cause, ApplicationError):
        return Refused(problem("refused", str(cause or error)))
    with contextlib.suppress(IndexError, msgspec.ValidationError):
        return Refused(msgspec.convert(cause.details[0], Problem))  # `activities.refusal`
    return Refused(problem(cause.type or "refused", cause.message))


def update_id(case_id: UUID, idempotency_key: str | None) -> str:
    """Temporal shows update ids in clear: derive one from the caller's key, never the key."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(CASE_NAMESPACE, f"{case_id}\n{idempotency_key}"))


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """Retry an update the server turned away because the workflow was mid-task (it is keyed,
    so a retry that races a completed first attempt replays it rather than writing twice)."""
    for attempt in range(UPDATE_ATTEMPTS):
        try:
            return await call()
        except RPCError as error:
            if error.status != RPCStatusCode.FAILED_PRECONDITION or attempt == UPDATE_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def case_id_for(caller: Caller, idempotency_key: str | None) -> UUID:
    """A retried opening (same caller, same key) names the same case, and so the same journey."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(CASE_NAMESPACE, f"{caller.actor.id}\n{idempotency_key}")


class Journeys:
    def __init__(self, client: Client, task_queue: str, policy: StallPolicy) -> None:
        self.client, self.task_queue, self.policy = client, task_queue, policy

    async def open_case(
        self, command: OpenCase, caller: Caller, idempotency_key: str | None = None
    ) -> CommandOutcome:
        case_id = case_id_for(caller, idempotency_key)
        start = WithStartWorkflowOperation(
            JourneyWorkflow.run,
            JourneyInput(JourneyState(case_id, self.policy)),
            id=journey_id(case_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
            search_attributes=policy_attributes(self.policy),
        )
        request = OpenCaseRequest(case_id, command, caller, idempotency_key)
        try:
            async with _reaching_temporal():
                return await self.client.execute_update_with_start_workflow(
                    JourneyWorkflow.open_case, request, start_workflow_operation=start,
                    id=update_id(case_id, idempotency_key),
                )  # fmt: skip
        except WorkflowUpdateFailedError as error:
            raise _refused(error) from None

    async def run(
        self,
        case_id: UUID,
        command: CaseCommand,
        caller: Caller,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandOutcome:
        """Send a command to the case's journey, as an update named after it."""
        handle = self.client.get_workflow_handle(journey_id(case_id))
        request = CommandRequest(case_id, command, caller, expected_version, idempotency_key)
        update = update_id(case_id, idempotency_key)
        try:
            async with _reaching_temporal():
                return await _retrying(
                    lambda: handle.execute_update(
                        command.name(), request, id=update, result_type=CommandOutcome
                    )
                )
        except WorkflowUpdateFailedError as error:
            raise _refused(error) from None

    async def journeys_by_policy(self, scan: int = 1000) -> dict[str | None, int]:
        """How many running journeys run each policy version (None: started before journeys
        carried their version). Versions other than the one in force are found by listing up to
        `scan` journeys that run another; each version is then counted exactly."""
        running = f"{RUNNING_JOURNEYS} AND TaskQueue = '{self.task_queue}'"
        elsewhere = f"{running} AND {POLICY_VERSION.name} != '{self.policy.version}'"
        versions: set[str | None] = {self.policy.version}
        async with _reaching_temporal():
            async for found in self.client.list_workflows(elsewhere, limit=scan):
                versions.add(found.typed_search_attributes.get(POLICY_VERSION))
            counts: dict[str | None, int] = {}
            for version in sorted(versions, key=lambda v: v or ""):
                if version is None:
                    continue
                query = f"{running} AND {POLICY_VERSION.name} = '{version}'"
                counts[version] = (await self.client.count_workflows(query)).count
            unversioned = f"{running} AND {POLICY_VERSION.name} IS NULL"
            if missing := (await self.client.count_workflows(unversioned)).count:
                counts[None] = missing
        return counts

    async def migrate(self, from_version: str | None, concurrency: int = 20) -> int:
        """Move every running journey on `from_version` (None: those without a version) to the
        policy in force; how many were told. A journey that ends meanwhile is skipped."""
        running = f"{RUNNING_JOURNEYS} AND TaskQueue = '{self.task_queue}'"
        query = (
            f"{running} AND {POLICY_VERSION.name} IS NULL"
            if from_version is None
            else f"{running} AND {POLICY_VERSION.name} = '{from_version}'"
        )
        told = 0
        gate = asyncio.Semaphore(concurrency)

        async def tell(workflow_id: str) -> None:
            nonlocal told
            async with gate:
                handle = self.client.get_workflow_handle(workflow_id)
                with contextlib.suppress(RPCError):  # it closed meanwhile
                    await handle.signal(JourneyWorkflow.migrate_policy, self.policy)
                    told += 1

        async with _reaching_temporal():
            ids = [found.id async for found in self.client.list_workflows(query)]
            await asyncio.gather(*(tell(workflow_id) for workflow_id in ids))
        return told

    async def with_task_problems(self, limit: int = 20) -> tuple[int, list[str]] | None:
        """How many of our workflows have tasks that keep failing, and the first ids: a
        stored fact the workflow code cannot handle. None if this Temporal server does not
        report problems (older than 1.28, or the search attribute is not enabled)."""
        query = f"{TASK_PROBLEMS} AND TaskQueue = '{self.task_queue}'"
        try:
            async with _reaching_temporal():
                count = (await self.client.count_workflows(query)).count
                found = self.client.list_workflows(query, limit=limit) if limit else None
                ids = [w.id async for w in found] if found else []
        except RPCError as error:
            if error.status == RPCStatusCode.INVALID_ARGUMENT:
                return None
            raise
        return count, ids
