"""The partners' API: Kela's, Keva's and Ilmarinen's whole job with a handoff, over HTTP.

- `GET …/tasks?state=` the inbox, from the cases view (`projections/cases.py`), keyset-paged;
- `GET …/tasks/{task}` one task: the values the consent covers, read from the sealed events now,
  the conversation and the task's history; every read of values is recorded;
- `POST …/tasks/{task}/{action}` the partner's moves (`TASK_ACTIONS`), run as case commands
  (`api/commanding.py`);
- `PUT|GET|DELETE …/webhook` where the partner's system hears of changes (`casework/webhooks.py`).

A task is named by an opaque id (`casework/partner_tasks.py`). Another partner's task does not
exist for a partner (404), whichever path it tries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import UNSET, UnsetType

from casework.api.bodies import Decoded
from casework.api.commanding import (
    COMMAND_ERRORS,
    COMMAND_HEADERS,
    CommandAnswer,
    Preconditions,
    PreconditionsDep,
    command_response,
    run_command,
)
from casework.api.deps import ActorDep, Cursor, NamePath, Services, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, Malformed, problems
from casework.domain import commands as c
from casework.domain.errors import NotFound, UnknownCase
from casework.domain.state import CaseState, Handoff, HandoffStatus
from casework.domain.tasks import TaskState
from casework.paging import MAX_LIMIT
from casework.partner_tasks import Deadline, TaskReader
from casework.webhooks import SIGNATURE_HEADER
from projections.queries import partner_inbox

TaskPath = Annotated[str, PathParameter(max_length=64)]
"""A task id (54 characters)."""


def _example(*values: Any) -> msgspec.Meta:
    return msgspec.Meta(examples=list(values))


class Move(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What every move may carry besides its own fields: when it took effect in the partner's
    system, if earlier than now (as every command may; never in the future)."""

    effective_at: Annotated[datetime | None, _example("2026-11-03T10:15:00+02:00")] = None


class Acknowledge(Move, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[c.Reason | None, _example("vastaanotettu, käsittelijä nimetty")] = None


class RequestInfo(Move, kw_only=True, forbid_unknown_fields=True):
    question: Annotated[c.Text, _example("Onko asiakkaalla voimassa oleva B-lausunto?")]


class Accept(Move, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[c.Reason | None, _example("kuntoutuksen edellytykset täyttyvät")] = None


class Reject(Move, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[c.Reason, _example("työhistoria ei riitä työeläkekuntoutukseen")]


class Redirect(Move, kw_only=True, forbid_unknown_fields=True):
    to_partner: Annotated[c.Slug, _example("keva")]
    reason: Annotated[c.Reason, _example("viimeisin vakuutus julkisella sektorilla")]


class Complete(Move, kw_only=True, forbid_unknown_fields=True):
    outcome: Annotated[c.HandoffOutcome, _example("rehabilitation_granted")]
    reason: Annotated[c.Reason | None, _example("päätös annettu")] = None


class WebhookRegistration(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[
        str,
        msgspec.Meta(
            min_length=8,
            max_length=2000,
            pattern=r"^https?://[^\s/?#]+",
            description="Where the notices are POSTed: an http or https URL.",
        ),
    ]
    description: Annotated[c.ShortText | None, _example("Kelan kuntoutusjärjestelmä")] = None

    def __post_init__(self) -> None:
        c.refuse_hostile(self)


class TaskItem(msgspec.Struct, frozen=True):
    """A task in an inbox. `case_id` and `handoff_id` are the office's names for it, shown to
    the office only: a partner knows the task id."""

    task: str
    partner: str
    state: TaskState
    status: HandoffStatus
    since: datetime
    shares: list[str]
    deadline: Deadline | None
    case_id: str | UnsetType = UNSET
    handoff_id: str | UnsetType = UNSET


class TaskPage(msgspec.Struct, frozen=True):
    items: list[TaskItem]
    next: str | None


class TaskConsent(msgspec.Struct, frozen=True):
    given_on: date
    expires_on: date | None
    shares: list[str]
    withdrawn: bool


class TaskDocument(msgspec.Struct, frozen=True):
    """One task as `GET …/tasks/{task}` shows it (`partner_tasks.TaskReader`). `payload` holds
    the summary and each value the consent shares, or `{"withheld": …, "detail": …}`."""

    task: str
    partner: str
    state: TaskState
    status: HandoffStatus
    requested_at: datetime
    since: datetime
    outcome: str | None
    deadline: Deadline | None
    consent: TaskConsent
    payload: dict[str, Any]
    conversation: list[dict[str, Any]]
    """`{kind: question | answer, text, at, by}`, oldest first."""
    history: list[dict[str, Any]]
    """`{type, recorded_at, effective_at, by, data}`: ids and steps, never free text."""
    case_id: str | UnsetType = UNSET
    handoff_id: str | UnsetType = UNSET


class WebhookRegistered(msgspec.Struct, frozen=True):
    partner: str
    url: str
    description: str | None
    secret: str
    """Shown this once: it signs every delivery."""
    signature: str
    """How a delivery is signed."""


class Webhook(msgspec.Struct, frozen=True):
    partner: str
    url: str
    description: str | None
    registered_at: datetime


class PartnerController(Controller):
    path = "/api/partners"
    tags = ["partners"]
    security = API_SECURITY

    @get(
        "/{partner:str}/tasks",
        operation_id="partnerTasks",
        summary="A partner's tasks",
        responses=problems(*API_ERRORS, 404),
    )
    async def tasks(
        self,
        partner: NamePath,
        services: ServicesDep,
        actor: ActorDep,
        state_filter: Annotated[TaskState | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Cursor = None,
    ) -> TaskPage:
        """`state`: `open` (the partner's move), `answered` (its move again: the office answered
        its question), `waiting` (on the office's answer), `closed`; without it, every state but
        closed. The work in hand comes oldest first, closed tasks newest first."""
        page = await to_thread.run_sync(
            lambda: partner_inbox(services.projections.cases, partner, state_filter, limit, cursor)
        )
        now = datetime.now(UTC)
        items = [_item(services, actor, row, now) for row in page.items]
        return TaskPage(items, page.next)

    @get(
        "/{partner:str}/tasks/{task:str}",
        operation_id="getPartnerTask",
        summary="One task",
        responses=problems(*API_ERRORS, 404),
    )
    async def task(
        self, partner: NamePath, task: TaskPath, services: ServicesDep, actor: ActorDep
    ) -> Response[TaskDocument]:
        """The values the client's consent covers (withheld, with the reason, once it is
        withdrawn or expired), the conversation and the task's history. A read of values is
        recorded in the access log; the identity code's, in the client register."""
        state, handoff = await to_thread.run_sync(_find, services, partner, task)

        def read() -> TaskDocument:
            reader = TaskReader(services.app, services.journeys.policy)
            doc, shown = reader.document(task, state, handoff, actor, datetime.now(UTC))
            if shown:
                services.app.access.record(
                    actor, [UUID(state.case_id)], "partner_payload", "getPartnerTask", handoff.id
                )
            return msgspec.convert(
                doc | _office_ids(actor, state.case_id, handoff.id), TaskDocument
            )

        doc = await to_thread.run_sync(read)
        return Response(doc, headers={"ETag": f'"{state.version}"'})

    @put(
        "/{partner:str}/webhook", operation_id="registerWebhook",
        summary="Register the partner's webhook (its secret is shown once)", status_code=200,
        dto=Decoded[WebhookRegistration], return_dto=None,
        responses=problems(*API_ERRORS, 404, 413),
    )  # fmt: skip
    async def register_webhook(
        self, partner: NamePath, services: ServicesDep, actor: ActorDep,
        data: JSONBody[WebhookRegistration | None] = None,
    ) -> WebhookRegistered:  # fmt: skip
        """Replaces an earlier registration, and its secret. Deliveries carry
        `Casework-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
        body = _required(data)
        secret = await to_thread.run_sync(
            services.app.webhooks.register, partner, body.url, body.description, actor
        )
        return WebhookRegistered(
            partner, body.url, body.description, secret,
            signature=f'{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." '
                      "and the raw body, keyed with the secret>",
        )  # fmt: skip

    @get(
        "/{partner:str}/webhook",
        operation_id="getWebhook",
        summary="The partner's webhook",
        responses=problems(*API_ERRORS, 404),
    )
    async def get_webhook(self, partner: NamePath, services: ServicesDep) -> Webhook:
        endpoint = await to_thread.run_sync(services.app.webhooks.endpoint, partner)
        if endpoint is None:
            raise NotFound(f"no webhook is registered for {partner}")
        return Webhook(partner, endpoint.url, endpoint.description, endpoint.registered_at)

    @delete(
        "/{partner:str}/webhook",
        operation_id="removeWebhook",
        summary="Stop webhooks",
        responses=problems(*API_ERRORS, 404),
    )
    async def remove_webhook(self, partner: NamePath, services: ServicesDep) -> None:
        if not await to_thread.run_sync(services.app.webhooks.remove, partner):
            raise NotFound(f"no webhook is registered for {partner}")


def task_action(
    action: str,
    operation_id: str,
    summary: str,
    body: type[msgspec.Struct],
    move: Callable[..., c.Command],
    required: bool = True,
) -> HTTPRouteHandler:
    """The route of one of the partner's moves on its task: `body` (optional unless `required`)
    and the task's handoff make the command `move`, run by `run_command`."""

    async def act(
        partner: NamePath,
        task: TaskPath,
        request: Request,
        services: ServicesDep,
        actor: ActorDep,
        preconditions: PreconditionsDep,
        data: JSONBody[msgspec.Struct | None] = None,
    ) -> Response[CommandAnswer]:
        given = _required(data) if required else data or body()
        return await _act(request, services, actor, preconditions, partner, task, move, given)

    act.__name__ = act.__qualname__ = action.replace("-", "_")
    return post(
        f"/api/partners/{{partner:str}}/tasks/{{task:str}}/{action}",
        operation_id=operation_id,
        summary=summary,
        tags=["partners"],
        security=API_SECURITY,
        status_code=200,
        dto=Decoded[body],
        return_dto=None,
        responses=problems(*COMMAND_ERRORS),
        response_headers=COMMAND_HEADERS,
    )(act)


TASK_ACTIONS = [
    task_action("acknowledge", "acknowledgeTask", "Acknowledge a task", Acknowledge,
                c.AcknowledgeHandoff, required=False),
    task_action("request-info", "requestTaskInfo", "Ask the office for more information",
                RequestInfo, c.RequestHandoffInfo),
    task_action("accept", "acceptTask", "Accept a task", Accept, c.AcceptHandoff, required=False),
    task_action("reject", "rejectTask", "Reject a task", Reject, c.RejectHandoff),
    task_action("redirect", "redirectTask", "Redirect a task to another partner", Redirect,
                c.RedirectHandoff),
    task_action("complete", "completeTask", "Complete an accepted task with its outcome",
                Complete, c.CompleteHandoff),
]  # fmt: skip
"""The partner's moves on a task, each a route of its own."""


def _required(data: Any) -> Any:
    if data is None:
        raise Malformed("the request needs a JSON body")
    return data


def _find(services: Services, partner: str, task: str) -> tuple[CaseState, Handoff]:
    """The case and handoff a task id names, if the task is this partner's; else NotFound."""
    case_id, handoff_id = services.app.tasks.decode(task)
    try:
        state = services.app.get_case(case_id).state
    except UnknownCase:
        raise NotFound("no such task") from None
    handoff = state.handoff(handoff_id)
    if handoff is None or handoff.partner != partner:
        raise NotFound("no such task")
    return state, handoff


async def _act(
    request: Request,
    services: Services,
    actor: c.Actor,
    preconditions: Preconditions,
    partner: str,
    task: str,
    command: Callable[..., c.Command],
    body: msgspec.Struct,
) -> Response[CommandAnswer]:
    """Run the partner's move on the task's case; the answer names the task, not the case."""
    state, handoff = await to_thread.run_sync(_find, services, partner, task)
    cmd = command(handoff_id=handoff.id, **msgspec.structs.asdict(body))
    # A partner is told the case's current version, never which events it missed.
    outcome = await run_command(
        request, services, actor, UUID(state.case_id), cmd, preconditions, events_since=False
    )
    return command_response(outcome, subject=task)


def _item(services: Services, actor: c.Actor, row: dict[str, Any], now: datetime) -> TaskItem:
    due = row["due"]
    return TaskItem(
        task=services.app.tasks.id_of(row["case_id"], row["handoff_id"]),
        partner=row["partner"], state=row["state"], status=row["status"], since=row["since"],
        shares=row["shares"],
        deadline=Deadline(row["step"], row["waiting_on"], due, now > due) if due else None,
        **_office_ids(actor, str(row["case_id"]), row["handoff_id"]),
    )  # fmt: skip


def _office_ids(actor: c.Actor, case_id: str, handoff_id: str) -> dict[str, str]:
    """The office's own names for a task, for its coordinators, auditors and admins: a partner
    knows only the task id."""
    return {} if actor.role == "partner" else {"case_id": case_id, "handoff_id": handoff_id}
