"""Live updates as server-sent events: a case, the stalled queue, a partner's tasks.

Each stream is authorised as the document or list it belongs to (`permissions.STREAMS`) and
sends `event: changed` with ids and a version when the view behind that page has moved
(`casework/live.py`); the page then refetches over the JSON API, where authorisation and the
access log already are. `event: reset` asks it to refetch everything (it missed changes); a
comment every 15 s keeps proxies from closing a quiet stream. The `id` of each event is the
view's position in the log: a browser that reconnects sends it back as `Last-Event-ID`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import get
from litestar.background_tasks import BackgroundTask
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from casework.api.deps import ActorDep, NameFilter, NamePath, ReadReason, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.api.reads import record_read, require_reason
from casework.domain.commands import Actor
from casework.live import RETRY_MILLISECONDS, Message, Streams, Wants
from projections.changes import Change

EVENT_STREAM = "text/event-stream"
LastEventId = Annotated[
    int | None,
    HeaderParameter(
        name="Last-Event-ID",
        ge=0,
        le=2**63 - 1,
        description="The `id` of the last event received: what was missed since is sent first.",
    ),
]


class LiveEvent(msgspec.Struct, frozen=True):
    """One event of a live stream (OpenAPI 3.1: the schema of each event)."""

    event: Literal["changed", "reset"]
    data: Annotated[
        str,
        msgspec.Meta(
            description='`changed`: `{"case_id": "…", "version": N}` (a partner\'s stream:'
            ' `{"task": "…", "version": N}`); `reset`: `{}`, refetch everything'
        ),
    ]
    id: Annotated[str, msgspec.Meta(description="The views' position: send it as Last-Event-ID")]


STREAM_ANSWER = {
    200: ResponseSpec(
        LiveEvent,
        media_type=EVENT_STREAM,
        description="Server-sent events as the view behind the page moves; a comment every 15 s.",
        generate_examples=False,
    ),
    **problems(*API_ERRORS, 404, 429),
}


class CaseChanged(msgspec.Struct, frozen=True):
    case_id: str
    version: int


class TaskChanged(msgspec.Struct, frozen=True, omit_defaults=True):
    """A partner's task moved; the office's own names for it only to the office."""

    task: str
    version: int
    case_id: str | None = None
    handoff_id: str | None = None


def _data(struct: msgspec.Struct) -> str:
    return msgspec.json.encode(struct).decode()


@get(
    "/api/cases/{case_id:uuid}/stream",
    operation_id="caseStream",
    summary="Live updates of a case (server-sent events)",
    tags=["cases", "live"],
    security=API_SECURITY,
    responses=STREAM_ANSWER,
)
async def case_stream(
    case_id: FromPath[UUID],
    services: ServicesDep,
    actor: ActorDep,
    reason: ReadReason = None,
    last_event_id: LastEventId = None,
) -> ServerSentEvent:
    """Whoever may read the case, with the reason its read needs; the case's new version as
    each change reaches the case views."""
    state = (await to_thread.run_sync(services.app.get_case, case_id)).state
    require_reason(actor, state.area, reason)
    await record_read(services, actor, case_id, "caseStream", reason, health=False)
    watched = str(case_id)

    def wants(change: Change) -> list[str]:
        return [_data(CaseChanged(watched, change.version))] if change.case_id == watched else []

    return await _stream(services.streams, actor, wants, last_event_id)


@get(
    "/api/queues/stalled/stream",
    operation_id="stalledQueueStream",
    summary="Live updates of the stalled queue (server-sent events)",
    tags=["queues", "live"],
    security=API_SECURITY,
    responses=STREAM_ANSWER,
)
async def stalled_queue_stream(
    services: ServicesDep,
    actor: ActorDep,
    area: NameFilter = None,
    team: NameFilter = None,
    step: NameFilter = None,
    partner: NameFilter = None,
    last_event_id: LastEventId = None,
) -> ServerSentEvent:
    """The queue's filters: a case whose stalled steps among them appeared, cleared, were
    acknowledged or escalated."""

    def wants(change: Change) -> list[str]:
        if area not in (None, change.area) or team not in (None, change.team):
            return []
        steps = [
            s for s in change.stalled if step in (None, s.step) and partner in (None, s.partner)
        ]
        return [_data(CaseChanged(change.case_id, change.version))] if steps else []

    return await _stream(services.streams, actor, wants, last_event_id)


@get(
    "/api/partners/{partner:str}/tasks/stream",
    operation_id="partnerTasksStream",
    summary="Live updates of a partner's tasks (server-sent events)",
    tags=["partners", "live"],
    security=API_SECURITY,
    responses=STREAM_ANSWER,
)
async def partner_tasks_stream(
    partner: NamePath,
    services: ServicesDep,
    actor: ActorDep,
    last_event_id: LastEventId = None,
) -> ServerSentEvent:
    """The partner's own tasks, named by task id (a partner never sees a case id)."""
    office = actor.role != "partner"
    tasks = services.app.tasks

    def changed(change: Change, handoff_id: str) -> str:
        task = tasks.id_of(change.case_id, handoff_id)
        if not office:
            return _data(TaskChanged(task, change.version))
        return _data(TaskChanged(task, change.version, change.case_id, handoff_id))

    def wants(change: Change) -> list[str]:
        return [changed(change, t.handoff_id) for t in change.tasks if t.partner == partner]

    return await _stream(services.streams, actor, wants, last_event_id)


STREAM_ROUTES = [case_stream, stalled_queue_stream, partner_tasks_stream]


async def _stream(
    streams: Streams, actor: Actor, wants: Wants, last_event_id: int | None
) -> ServerSentEvent:
    """Open the caller's stream (a 429 beyond the limits), released when the client goes, the
    server stops or the response fails, whichever comes first."""
    stream = await streams.open(f"{actor.role}:{actor.id}:{actor.partner or ''}", wants)

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        try:
            # The position now, so a reconnect after a quiet spell asks from here.
            yield ServerSentEventMessage(data=None, id=streams.head, retry=RETRY_MILLISECONDS)
            async for message in streams.messages(stream, last_event_id):
                yield _encoded(message)
        finally:
            streams.release(stream)

    return ServerSentEvent(events(), background=BackgroundTask(streams.release, stream))


def _encoded(message: Message | None) -> ServerSentEventMessage:
    if message is None:
        return ServerSentEventMessage(data=None, comment="heartbeat")
    return ServerSentEventMessage(data=message.data, event=message.event, id=message.id)
