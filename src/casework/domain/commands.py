"""Commands: what a caller asks of a case. Each is the body of `POST .../commands/{name}`.

A command is named by the aggregate method it calls (`request_handoff`); its body is the Struct of
the same name in CamelCase (`RequestHandoff`). Every string, list and map has a maximum, checked
when a body is decoded; what a type cannot declare (control characters, dates beyond the calendar)
is checked by `__post_init__` (`casework.domain.limits`), so every path that decodes a command
refuses the same values. Rules that need the case's state live in `casework.domain.rules`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Annotated, Literal, get_args
from uuid import UUID

import msgspec

from casework.domain import limits
from casework.domain.errors import ValidationFailed
from casework.domain.state import MAX_SICKNESS_DAYS


def _prose(min_length: int, max_length: int) -> msgspec.Meta:
    """Free text: the one kind of string that may hold line breaks and tabs."""
    return msgspec.Meta(
        min_length=min_length, max_length=max_length, extra={limits.FREE_TEXT: True}
    )


Score = Annotated[int, msgspec.Meta(ge=0, le=10)]
SLUG_MAX = 64
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=SLUG_MAX)]
"""A name from the reference data or the policy: an area, team, sector, partner, step, version."""
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
IdentityCode = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Reason = Annotated[str, _prose(1, 2000)]
Text = Annotated[str, _prose(1, 2000)]
"""A question or an answer between staff and a partner."""
ScreeningAnswer = Annotated[str, _prose(0, 1000)]
ItemId = Annotated[str, msgspec.Meta(pattern=r"^[a-z]+-\d+$", max_length=20)]
Role = Literal["staff", "coordinator", "partner", "auditor", "admin", "system"]
Channel = Literal["staff", "digital", "import"]
SharedField = Literal[
    "icd_chapter",
    "b_statement",
    "sickness_allowance",
    "work_history",
    "self_assessment",
    "identity_code",
]
"""What a consent may let a partner see; `identity_code` is read from the client register."""
Shares = Annotated[list[SharedField], msgspec.Meta(max_length=6)]
HandoffOutcome = Literal[
    "rehabilitation_granted", "rehabilitation_denied", "benefit_granted", "advice_given", "other"
]
CloseOutcome = Literal["employed", "rehabilitation", "pension", "municipal_pilot", "other"]
SubsidyKind = Literal["pay_subsidy", "work_arrangement_subsidy"]


class Actor(msgspec.Struct, frozen=True):
    """Who acts: the claims of the caller's token that the rules need."""

    id: ShortText
    role: Role
    area: Slug = "*"
    partner: Slug | None = None
    team: Slug | None = None

    def __post_init__(self) -> None:
        refuse_hostile(self)


TAG = "command"
"""The field naming a command when it travels among others (a tagged union)."""


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What travels with every command besides its body."""

    actor: Actor
    recorded_at: datetime
    correlation_id: str
    causation_id: str | None = None


@cache
def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Command(
    msgspec.Struct,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field=TAG,
    tag=_snake_case,
):
    """Fields every command may carry: why, and when the fact took effect if not now.

    Tagged with its name (`"command": "add_note"`), so a command travels as itself through
    Temporal and back (`CaseCommand`). A body sent to a command's own route may leave the tag out.
    """

    reason: Reason | None = None
    effective_at: datetime | None = None

    def __post_init__(self) -> None:
        refuse_hostile(self)

    @classmethod
    def name(cls) -> str:
        return _snake_case(cls.__name__)


def effective_time(cmd: Command, ctx: Context) -> datetime:
    """When the command's fact takes effect: when it says, or when it is recorded."""
    return cmd.effective_at or ctx.recorded_at


def refuse_hostile(struct: msgspec.Struct) -> None:
    """Refuse a decoded body holding control characters or dates beyond the calendar (call it
    from `__post_init__`)."""
    # Raised as the domain's own error: msgspec passes it through every decode unchanged.
    if errors := limits.struct_errors(struct):
        raise ValidationFailed(errors)


class OpenCase(Command, kw_only=True):
    identity_code: IdentityCode
    area: Slug
    team: Slug
    channel: Channel = "staff"
    assignee: ShortText | None = None


class RecordScreening(Command, kw_only=True):
    answers: Annotated[dict[Slug, ScreeningAnswer], msgspec.Meta(max_length=60)]
    concern: bool


class RecordSelfAssessment(Command, kw_only=True):
    overall: Score
    mental_wellbeing: Score
    social_participation: Score
    physical_functioning: Score
    skills: Score
    everyday_coping: Score


class AddTasmatyoTag(Command, kw_only=True):
    basis: Literal["screening", "b_statement", "self_report"]


class RemoveTasmatyoTag(Command, kw_only=True):
    reason: Reason


class DeclineTasmatyoTag(Command, kw_only=True):
    reason: Reason


class RecordDiagnosis(Command, kw_only=True):
    icd_chapter: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]$")]
    b_statement_on: date


class RecordWorkHistory(Command, kw_only=True):
    years: Annotated[int, msgspec.Meta(ge=0, le=60)]
    last_insured: Literal["public", "private", "none"]


class ReferToCoaching(Command, kw_only=True):
    pass


class StartCoaching(Command, kw_only=True):
    coaching_id: ItemId


class CompleteCoaching(Command, kw_only=True):
    coaching_id: ItemId


class InterruptCoaching(Command, kw_only=True):
    coaching_id: ItemId
    reason: Reason


class ProposeMatch(Command, kw_only=True):
    employer_id: UUID
    sector: Slug


class MakeJobReferral(Command, kw_only=True):
    employer_id: UUID
    vacancy_id: ShortText


class RecordReferralOutcome(Command, kw_only=True):
    referral_id: ItemId
    hired: bool


class ApplyForSubsidy(Command, kw_only=True):
    kind: SubsidyKind
    employer_id: UUID | None = None


class DecideSubsidy(Command, kw_only=True):
    subsidy_id: ItemId
    granted: bool


class RecordSicknessAllowance(Command, kw_only=True):
    days_used: Annotated[int, msgspec.Meta(ge=0, le=MAX_SICKNESS_DAYS)]


class Consent(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The client's recorded consent to share a minimised payload with named partners."""

    given_on: date
    partners: Annotated[list[Slug], msgspec.Meta(min_length=1, max_length=10)]
    shares: Shares = []
    expires_on: date | None = None
    """The last day the consent holds (none: until withdrawn)."""

    def __post_init__(self) -> None:
        if self.expires_on is not None and self.expires_on < self.given_on:
            raise ValidationFailed.field("consent.expires_on", "a consent cannot end before it")


class RequestHandoff(Command, kw_only=True):
    partner: Slug
    consent: Consent | None = None
    summary: Annotated[str, _prose(0, 2000)] = ""
    shares: Shares = []


class AcknowledgeHandoff(Command, kw_only=True):
    handoff_id: ItemId


class RequestHandoffInfo(Command, kw_only=True):
    handoff_id: ItemId
    question: Text


class SupplyHandoffInfo(Command, kw_only=True):
    handoff_id: ItemId
    answer: Text


class AcceptHandoff(Command, kw_only=True):
    handoff_id: ItemId


class RejectHandoff(Command, kw_only=True):
    handoff_id: ItemId
    reason: Reason


class RedirectHandoff(Command, kw_only=True):
    handoff_id: ItemId
    to_partner: Slug
    reason: Reason


class CompleteHandoff(Command, kw_only=True):
    handoff_id: ItemId
    outcome: HandoffOutcome


class WithdrawConsent(Command, kw_only=True):
    """The client withdraws the consent a handoff rests on (and any redirection of it)."""

    handoff_id: ItemId
    reason: Reason


class StartEmployment(Command, kw_only=True):
    starts_on: date
    employer_id: UUID | None = None
    subsidy_id: ItemId | None = None


class RecordFollowUp(Command, kw_only=True):
    month: Literal[3, 6]
    employed: bool


class FlagStall(Command, kw_only=True):
    step: Slug
    item: ItemId | None = None
    since: datetime
    due: datetime
    policy_version: Slug


class SendHandoffReminder(Command, kw_only=True):
    handoff_id: ItemId
    step: Slug


class EscalateStall(Command, kw_only=True):
    step: Slug
    item: ItemId | None = None


class AcknowledgeStall(Command, kw_only=True):
    """A coordinator has seen the stall and says what is being done about it."""

    step: Slug
    item: ItemId | None = None
    note: Annotated[str, _prose(1, 4000)]


class Reassign(Command, kw_only=True):
    assignee: ShortText
    team: Slug | None = None


class AddNote(Command, kw_only=True):
    text: Annotated[str, _prose(1, 4000)]


class CloseCase(Command, kw_only=True):
    outcome: CloseOutcome
    reason: Reason


CaseCommand = (
    RecordScreening | RecordSelfAssessment | AddTasmatyoTag | RemoveTasmatyoTag
    | DeclineTasmatyoTag | RecordDiagnosis | RecordWorkHistory | ReferToCoaching | StartCoaching
    | CompleteCoaching | InterruptCoaching | ProposeMatch | MakeJobReferral | RecordReferralOutcome
    | ApplyForSubsidy | DecideSubsidy | RecordSicknessAllowance | RequestHandoff
    | AcknowledgeHandoff | RequestHandoffInfo | SupplyHandoffInfo | AcceptHandoff | RejectHandoff
    | RedirectHandoff | CompleteHandoff | WithdrawConsent | StartEmployment | RecordFollowUp
    | FlagStall | EscalateStall | AcknowledgeStall | SendHandoffReminder | Reassign | AddNote
    | CloseCase
)  # fmt: skip
"""Any command on an existing case: decoded by its tag, so it travels typed."""

CASE_COMMANDS: dict[str, type[Command]] = {cls.name(): cls for cls in get_args(CaseCommand)}
"""Every command on an existing case, by name."""
