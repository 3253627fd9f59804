"""Shared by the workflow tests: callers, fresh identity codes, waiting for the store."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import msgspec

from casework.demo import sample_identity_code
from casework.domain import commands as c
from casework.domain.commands import Actor
from workflows.handoff import HandoffWorkflow
from workflows.messages import Caller, handoff_workflow_id

STAFF = Caller(Actor("anna.staff", "staff", "helsinki"), correlation_id="test")
_numbers = itertools.count()


def partner(slug: str) -> Caller:
    return Caller(Actor(f"{slug}.user", "partner", partner=slug), correlation_id="test")


def new_code() -> str:
    n = next(_numbers)
    number = 900 + n % 100
    return sample_identity_code(date(1950, 1, 1) + timedelta(days=n), number)


def opening(**fields: Any) -> dict[str, Any]:
    return {"identity_code": new_code(), "area": "helsinki", "team": "helsinki-it"} | fields


def command(name: str, body: dict[str, Any]) -> c.Command:
    """The command as the API decodes it from this JSON body."""
    cls = c.OpenCase if name == "open_case" else c.CASE_COMMANDS[name]
    return msgspec.json.decode(msgspec.json.encode(body), type=cls)


def open_case_command(**fields: Any) -> c.OpenCase:
    return msgspec.json.decode(msgspec.json.encode(opening(**fields)), type=c.OpenCase)


async def eventually(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until `probe` (a function or a coroutine function) returns something truthy:
    workflows act after their timers fire, views after the events arrive."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.1)


async def started(handle: Any, timeout: float = 15.0) -> Any:
    """Wait until a workflow someone else starts (a child) exists; return its description."""
    from temporalio.service import RPCError

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await handle.describe()
        except RPCError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def handed_over(journeys: Any, partner_slug: str) -> tuple[UUID, str, Any]:
    """A case opened, screened with a concern, tagged and handed over to a partner: the case's
    id, the handoff's, and the handle of its child workflow, once that has started."""
    case_id = (await journeys.open_case(open_case_command(), STAFF)).case_id
    for name, body in [
        ("record_screening", {"answers": {"q": "a"}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("request_handoff", {
            "partner": partner_slug, "summary": "needs rehabilitation",
            "consent": {"given_on": "2026-11-01", "partners": [partner_slug]},
        }),
    ]:  # fmt: skip
        outcome = await journeys.run(case_id, command(name, body), STAFF)
    handoff_id = outcome.state.handoffs[0].id
    child = journeys.client.get_workflow_handle_for(
        HandoffWorkflow.run, handoff_workflow_id(case_id, handoff_id)
    )
    await started(child)
    return case_id, handoff_id, child
