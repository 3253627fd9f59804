"""A handoff as its partner sees it: an opaque task id, and the task read from the case's events.

The task id is the case id and the handoff's number, encrypted with AES-SIV under a key derived
from the master key: the same task always has the same id, the id says nothing of the case (not
its id, not how many events it holds), and an id nobody was given does not decode. The values the
consent covers are read from the sealed events at read time, never copied anywhere.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from casework.domain import events as e
from casework.domain.calendar import local_date
from casework.domain.commands import Actor
from casework.domain.errors import NotFound, UnknownClient
from casework.domain.permissions import sees_health_of
from casework.domain.policy import StallPolicy
from casework.domain.rules import waiting_steps
from casework.domain.stalls import due
from casework.domain.state import CaseState, Handoff
from casework.domain.tasks import task_state
from casework.keys import derive_key
from casework.webhooks import Attempt

_CONTEXT = [b"partner-task"]
_NUMBER_BYTES = 8


class TaskIds:
    """Task id ↔ (case id, handoff id)."""

    def __init__(self, key: bytes) -> None:
        self._siv = AESSIV(key)

    @classmethod
    def from_master_key(cls, master_key: bytes) -> TaskIds:
        return cls(derive_key(master_key, "partner-tasks"))

    def id_of(self, case_id: UUID | str, handoff_id: str) -> str:
        number = int(handoff_id.removeprefix("handoff-")).to_bytes(_NUMBER_BYTES, "big")
        sealed = self._siv.encrypt(UUID(str(case_id)).bytes + number, _CONTEXT)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def decode(self, task: str) -> tuple[UUID, str]:
        """The case and handoff a task id names; NotFound for an id this service did not make."""
        try:
            raw = base64.urlsafe_b64decode(task + "=" * (-len(task) % 4))
            plain = self._siv.decrypt(raw, _CONTEXT)
        except (binascii.Error, ValueError, InvalidTag):
            raise NotFound("no such task") from None
        return UUID(bytes=plain[:16]), f"handoff-{int.from_bytes(plain[16:], 'big')}"


class Deadline(msgspec.Struct, frozen=True):
    step: str
    waiting_on: str
    due: datetime
    late: bool


def deadline(state: CaseState, handoff_id: str, policy: StallPolicy, now: datetime) -> Any:
    """The deadline of the step the task waits on (None for an accepted or closed task)."""
    wait = next((w for w in waiting_steps(state) if w.item == handoff_id), None)
    if wait is None:
        return None
    falls_due = due(state, wait, policy)
    return Deadline(wait.step, wait.waiting_on, falls_due, now > falls_due)


# Which of an event's fields the task's history shows: ids and steps, never free text.
_HISTORY_FIELDS = {
    "HandoffRedirected": ("to_partner",),
    "HandoffCompleted": ("outcome",),
    "HandoffReminderSent": ("step",),
    "StepStalled": ("step", "waiting_on", "due"),
    "StallEscalated": ("step",),
    "StallCleared": ("step",),
}


class TaskEvents(msgspec.Struct):
    """What a case's events say of one task."""

    request: e.HandoffRequested
    """The request holding the payload and consent (a redirected task's: the original's)."""
    created: Any
    """The event that made the task: its request, or the redirection to this partner."""
    mine: list[Any]
    """The task's own events, in order (its moves, reminders, stalls, the case's closing)."""
    values: dict[str, Any]
    """The newest value of each field a consent can cover, as recorded now."""


def task_events(events: list[Any], handoff_id: str) -> TaskEvents:
    requests: dict[str, e.HandoffRequested] = {}
    origin: dict[str, str] = {}
    created: Any = None
    mine: list[Any] = []
    values: dict[str, Any] = {}
    for event in events:
        if isinstance(event, e.HandoffRequested):
            requests[event.handoff_id] = event
        if isinstance(event, e.HandoffRedirected):
            origin[event.new_handoff_id] = origin.get(event.handoff_id, event.handoff_id)
        if _made(event, handoff_id):
            created = event
            mine.append(event)
        elif _concerns(event, handoff_id) and created is not None:
            mine.append(event)
        _note_value(values, event)
    request = requests[origin.get(handoff_id, handoff_id)]
    return TaskEvents(request, created, mine, values)


def _made(event: Any, handoff_id: str) -> bool:
    if isinstance(event, e.HandoffRedirected):
        return event.new_handoff_id == handoff_id
    return isinstance(event, e.HandoffRequested) and event.handoff_id == handoff_id


def _concerns(event: Any, handoff_id: str) -> bool:
    if isinstance(event, e.StepStalled | e.StallEscalated | e.StallCleared):
        return event.item == handoff_id
    return getattr(event, "handoff_id", None) == handoff_id or isinstance(event, e.CaseClosed)


def _note_value(values: dict[str, Any], event: Any) -> None:
    if isinstance(event, e.DiagnosisRecorded):
        values["icd_chapter"] = event.icd_chapter
        values["b_statement"] = {"given_on": event.b_statement_on}
    elif isinstance(event, e.SicknessAllowanceRecorded):
        values["sickness_allowance"] = {"days_used": event.days_used}
    elif isinstance(event, e.WorkHistoryRecorded):
        values["work_history"] = {"years": event.years, "last_insured": event.last_insured}
    elif isinstance(event, e.SelfAssessmentRecorded):
        values["self_assessment"] = {"scores": event.scores, "recorded_at": event.effective_at}


def withheld_because(
    handoff: Handoff, consent: dict[str, Any], today: date
) -> dict[str, str] | None:
    """Why the consent no longer lets the values be shown, or None while it holds."""
    if handoff.consent_withdrawn:
        return {
            "withheld": "consent_withdrawn",
            "detail": "The client has withdrawn the consent to share this information.",
        }
    expires_on = consent.get("expires_on")
    if expires_on is not None and today > date.fromisoformat(expires_on):
        return {
            "withheld": "consent_expired",
            "detail": f"The client's consent to share this information ended on {expires_on}.",
        }
    return None


class TaskReader:
    """Builds a task's document, and says whether it showed protected values (to be recorded)."""

    def __init__(self, app: Any, policy: StallPolicy) -> None:
        self.app, self.policy = app, policy

    def document(
        self, task: str, state: CaseState, handoff: Handoff, reader: Actor, now: datetime
    ) -> tuple[dict[str, Any], bool]:
        """The task as `reader` may see it: values only to its partner and to those who may see
        the case's health data, and only while the consent holds."""
        case_id = UUID(state.case_id)
        found = task_events(list(self.app.events.get(case_id)), handoff.id)
        consent = found.request.consent
        withheld = withheld_because(handoff, consent, local_date(now))
        if withheld is None and not (reader.role == "partner" or sees_health_of(reader, state)):
            withheld = {
                "withheld": "not_permitted",
                "detail": "Only the partner and those who may see the case's health data may"
                " see these values.",
            }
        doc: dict[str, Any] = {
            "task": task,
            "partner": handoff.partner,
            "state": task_state(state, handoff),
            "status": handoff.status,
            "requested_at": found.created.effective_at,
            "since": handoff.since,
            "outcome": handoff.outcome,
            "deadline": deadline(state, handoff.id, self.policy, now),
            "consent": {
                "given_on": consent["given_on"],
                "expires_on": consent.get("expires_on"),
                "shares": list(found.request.shares),
                "withdrawn": handoff.consent_withdrawn,
            },
            "payload": withheld or self._payload(state, found, reader),
            "conversation": _conversation(found.mine, withheld),
            "history": _history(found.mine, self.app.webhooks.attempts(case_id, handoff.id)),
        }
        return msgspec.to_builtins(doc), withheld is None

    def _payload(self, state: CaseState, found: TaskEvents, reader: Actor) -> dict[str, Any]:
        payload: dict[str, Any] = {"summary": found.request.summary}
        for name in found.request.shares:
            if name == "identity_code":
                payload[name] = self._identity_code(state, reader)
            else:
                payload[name] = found.values.get(name)
        return payload

    def _identity_code(self, state: CaseState, reader: Actor) -> Any:
        try:  # the register records the read itself
            return self.app.clients.identity_code(UUID(state.client_id), reader, "partner_task")
        except UnknownClient:
            return {"withheld": "erased"}


def _conversation(mine: list[Any], withheld: dict[str, str] | None) -> list[dict[str, Any]]:
    said = []
    for event in mine:
        if isinstance(event, e.HandoffInfoRequested):
            kind, text = "question", event.question
        elif isinstance(event, e.HandoffInfoSupplied):
            kind, text = "answer", event.answer
        else:
            continue
        said.append({
            "kind": kind, "text": {"withheld": withheld["withheld"]} if withheld else text,
            "at": event.effective_at, "by": event.meta.actor_role,
        })  # fmt: skip
    return said


def _history(mine: list[Any], attempts: list[Attempt]) -> list[dict[str, Any]]:
    items = [
        {
            "type": type(event).__name__,
            "recorded_at": event.timestamp,
            "effective_at": event.effective_at,
            "by": event.meta.actor_role,
            "data": {f: getattr(event, f) for f in _HISTORY_FIELDS.get(type(event).__name__, ())},
        }
        for event in mine
    ]
    items += [
        {
            "type": "WebhookDelivered" if attempt.delivered else "WebhookFailed",
            "recorded_at": attempt.attempted_at,
            "effective_at": attempt.attempted_at,
            "by": "system",
            "data": {
                "delivery": attempt.delivery,
                "changes": attempt.changes,
                "attempt": attempt.attempt,
                "status_code": attempt.status_code,
                "error": attempt.error,
            },
        }
        for attempt in attempts
    ]
    return sorted(items, key=lambda item: item["recorded_at"])
