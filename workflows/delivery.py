"""Telling a partner's system of a change to one of its tasks: a webhook, signed, retried.

A regular activity, started by the handoff workflow and not awaited by it, so a slow or failing
endpoint holds up neither the handoff's clock nor the journey. It is asynchronous, so a hanging
endpoint holds no thread of the worker's pool, which the journey's writes use. Temporal retries
a failed attempt with backoff; every attempt and its outcome is recorded for the task's history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import httpx
import msgspec
from anyio import to_thread
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from casework.application import CaseworkApp
from casework.webhooks import signed_headers

POST_TIMEOUT = 10.0
START_TO_CLOSE = timedelta(seconds=30)
RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=12,  # about an hour and a half of trying, then the partner reads its inbox
)


class DeliveryRequest(msgspec.Struct, frozen=True):
    case_id: UUID
    handoff_id: str
    partner: str
    delivery: str
    """The same on every attempt: a receiver may use it to ignore a repeat."""
    changes: list[str]
    at: datetime


class DeliveryResult(msgspec.Struct, frozen=True):
    status_code: int | None
    """None: the partner has no webhook registered."""


class Notice(msgspec.Struct, frozen=True):
    """What a webhook says: ids and the kinds of change, never a value from the case."""

    delivery: str
    partner: str
    task: str
    changes: list[str]
    at: datetime


class WebhookActivities:
    def __init__(self, app: CaseworkApp) -> None:
        self.app = app

    @activity.defn
    async def deliver_webhook(self, request: DeliveryRequest) -> DeliveryResult:
        endpoint = await to_thread.run_sync(self.app.webhooks.endpoint, request.partner)
        if endpoint is None:
            return DeliveryResult(None)
        task = self.app.tasks.id_of(request.case_id, request.handoff_id)
        notice = Notice(request.delivery, request.partner, task, request.changes, request.at)
        body = msgspec.json.encode(notice)
        status: int | None = None
        error: str | None = None
        attempt = activity.info().attempt
        try:
            async with httpx.AsyncClient(timeout=POST_TIMEOUT) as client:
                response = await client.post(
                    endpoint.url,
                    content=body,
                    headers=signed_headers(endpoint.secret, request.delivery, body),
                )
            status = response.status_code
        except httpx.HTTPError as failure:
            error = type(failure).__name__  # never the message: it may quote the endpoint
        await to_thread.run_sync(
            lambda: self.app.webhooks.record(
                request.case_id, request.handoff_id, request.partner, request.delivery,
                request.changes, attempt, status, error,
            )
        )  # fmt: skip
        if status is None or not 200 <= status < 300:
            raise ApplicationError(f"the endpoint answered {status or error}", type="not_delivered")
        return DeliveryResult(status)
