"""Coordinators' training sessions: onboarding, infos and clubs, with participants and feedback."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from casework.domain.commands import Command, Context, ShortText, Slug
from casework.domain.errors import IllegalStep, NotPermitted, ValidationFailed
from casework.domain.events import EventMeta, Fact, meta_for
from casework.domain.reference import reference

SessionKind = Literal["onboarding", "info", "club"]
Usefulness = Literal["useful", "partly_useful", "not_useful"]


class PlanSession(Command, kw_only=True):
    kind: SessionKind
    title: ShortText
    area: Slug
    on: date


class HoldSession(Command, kw_only=True):
    participants: Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class RecordFeedback(Command, kw_only=True):
    answer: Usefulness


class SessionPlanned(Aggregate.Created):
    meta: EventMeta
    reason: str | None
    kind: str
    title: str
    area: str
    on: date

    def apply(self, aggregate: Any) -> None:
        aggregate.kind = self.kind
        aggregate.title = self.title
        aggregate.area = self.area
        aggregate.on = self.on
        aggregate.participants = None
        aggregate.feedback = {}


class SessionHeld(Fact):
    participants: int

    def apply(self, aggregate: Any) -> None:
        aggregate.participants = self.participants


class FeedbackRecorded(Fact):
    answer: str

    def apply(self, aggregate: Any) -> None:
        aggregate.feedback[self.answer] = aggregate.feedback.get(self.answer, 0) + 1


def _check_role(ctx: Context) -> None:
    if ctx.actor.role not in ("coordinator", "admin"):
        raise NotPermitted("only coordinators record training sessions")


class TrainingSession(Aggregate):
    # Attributes are set by SessionPlanned.apply; declared for the type checker only, or
    # eventsourcing would make them constructor arguments.
    if TYPE_CHECKING:
        kind: str
        title: str
        area: str
        on: date
        participants: int | None
        feedback: dict[str, int]

    @classmethod
    def plan(cls, session_id: UUID, cmd: PlanSession, ctx: Context) -> TrainingSession:
        _check_role(ctx)
        if cmd.area not in reference().areas:
            raise ValidationFailed.field("area", f"unknown area {cmd.area!r}")
        return cls._create(
            SessionPlanned, id=session_id, timestamp=ctx.recorded_at, meta=meta_for(cmd, ctx),
            reason=cmd.reason, kind=cmd.kind, title=cmd.title, area=cmd.area, on=cmd.on,
        )  # fmt: skip

    def execute(self, cmd: Command, ctx: Context) -> None:
        _check_role(ctx)
        getattr(self, cmd.name())(cmd, ctx)

    def hold_session(self, cmd: HoldSession, ctx: Context) -> None:
        if self.participants is not None:
            raise IllegalStep(f"the session {self.title!r} has already been held")
        self.trigger_event(
            SessionHeld, timestamp=ctx.recorded_at, meta=meta_for(cmd, ctx), reason=cmd.reason,
            participants=cmd.participants,
        )  # fmt: skip

    def record_feedback(self, cmd: RecordFeedback, ctx: Context) -> None:
        if self.participants is None:
            raise IllegalStep(f"the session {self.title!r} has not been held yet")
        if sum(self.feedback.values()) >= self.participants:
            raise IllegalStep("every participant has already given feedback")
        self.trigger_event(
            FeedbackRecorded, timestamp=ctx.recorded_at, meta=meta_for(cmd, ctx),
            reason=cmd.reason, answer=cmd.answer,
        )  # fmt: skip
