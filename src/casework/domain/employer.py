"""Employers willing to hire people with partial work ability, and their vacancies.

Employer commands need no journey workflow: they go straight to the application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from stdnum.fi import ytunnus

from casework.domain.commands import Command, Context, Reason, ShortText, Slug
from casework.domain.errors import IllegalStep, NotPermitted, ValidationFailed
from casework.domain.events import EventMeta, Fact, meta_for
from casework.domain.reference import reference

EMPLOYER_ROLES = frozenset({"staff", "coordinator"})


class RegisterEmployer(Command, kw_only=True):
    business_id: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    # Shadows Command.name(): employer commands are run by method, never looked up by name.
    name: ShortText  # type: ignore[assignment]
    sector: Slug
    area: Slug


class AddInterestTag(Command, kw_only=True):
    pass


class RemoveInterestTag(Command, kw_only=True):
    reason: Reason


class SendServicePackage(Command, kw_only=True):
    package: ShortText


class OpenVacancy(Command, kw_only=True):
    title: ShortText
    sector: Slug


class FillVacancy(Command, kw_only=True):
    vacancy_id: ShortText


class CloseVacancy(Command, kw_only=True):
    vacancy_id: ShortText
    reason: Reason


def normalise_business_id(value: str) -> str:
    """The Y-tunnus in its standard form; a ValidationFailed naming the field if it is invalid."""
    try:
        return ytunnus.format(ytunnus.validate(value))
    except Exception:  # stdnum raises several ValidationError subclasses
        raise ValidationFailed.field(
            "business_id", f"{value!r} is not a valid Finnish business id (Y-tunnus)"
        ) from None


class EmployerRegistered(Aggregate.Created):
    meta: EventMeta
    reason: str | None
    business_id: str
    name: str
    sector: str
    area: str

    def apply(self, aggregate: Any) -> None:
        aggregate.business_id = self.business_id
        aggregate.name = self.name
        aggregate.sector = self.sector
        aggregate.area = self.area
        aggregate.interested = False
        aggregate.packages = []
        aggregate.vacancies = {}


class InterestTagAdded(Fact):
    def apply(self, aggregate: Any) -> None:
        aggregate.interested = True


class InterestTagRemoved(Fact):
    def apply(self, aggregate: Any) -> None:
        aggregate.interested = False


class ServicePackageSent(Fact):
    package: str

    def apply(self, aggregate: Any) -> None:
        aggregate.packages.append(self.package)


class VacancyOpened(Fact):
    vacancy_id: str
    title: str
    sector: str

    def apply(self, aggregate: Any) -> None:
        aggregate.vacancies[self.vacancy_id] = "open"


class VacancyFilled(Fact):
    vacancy_id: str

    def apply(self, aggregate: Any) -> None:
        aggregate.vacancies[self.vacancy_id] = "filled"


class VacancyClosed(Fact):
    vacancy_id: str

    def apply(self, aggregate: Any) -> None:
        aggregate.vacancies[self.vacancy_id] = "closed"


def _check_role(ctx: Context) -> None:
    if ctx.actor.role not in EMPLOYER_ROLES:
        raise NotPermitted(f"a {ctx.actor.role} may not change employer records")


class Employer(Aggregate):
    # Attributes are set by EmployerRegistered.apply; declared for the type checker only, or
    # eventsourcing would make them constructor arguments.
    if TYPE_CHECKING:
        business_id: str
        name: str
        sector: str
        area: str
        interested: bool
        packages: list[str]
        vacancies: dict[str, str]

    @classmethod
    def register(cls, employer_id: UUID, cmd: RegisterEmployer, ctx: Context) -> Employer:
        _check_role(ctx)
        business_id = normalise_business_id(cmd.business_id)
        ref = reference()
        if cmd.sector not in ref.sectors:
            raise ValidationFailed.field("sector", f"unknown sector {cmd.sector!r}")
        if cmd.area not in ref.areas:
            raise ValidationFailed.field("area", f"unknown area {cmd.area!r}")
        return cls._create(
            EmployerRegistered, id=employer_id, timestamp=ctx.recorded_at,
            meta=meta_for(cmd, ctx), reason=cmd.reason, business_id=business_id, name=cmd.name,
            sector=cmd.sector, area=cmd.area,
        )  # fmt: skip

    def execute(self, cmd: Command, ctx: Context) -> None:
        _check_role(ctx)
        getattr(self, cmd.name())(cmd, ctx)

    def _record(self, event: type[Fact], cmd: Command, ctx: Context, **data: Any) -> None:
        self.trigger_event(
            event, timestamp=ctx.recorded_at, meta=meta_for(cmd, ctx), reason=cmd.reason, **data
        )

    def _vacancy(self, vacancy_id: str, wanted: Literal["open"]) -> None:
        status = self.vacancies.get(vacancy_id)
        if status is None:
            raise IllegalStep(f"{self.name} has no vacancy {vacancy_id}")
        if status != wanted:
            raise IllegalStep(f"vacancy {vacancy_id} is already {status}")

    def add_interest_tag(self, cmd: AddInterestTag, ctx: Context) -> None:
        if self.interested:
            raise IllegalStep(f"{self.name} already carries the interest tag")
        self._record(InterestTagAdded, cmd, ctx)

    def remove_interest_tag(self, cmd: RemoveInterestTag, ctx: Context) -> None:
        if not self.interested:
            raise IllegalStep(f"{self.name} does not carry the interest tag")
        self._record(InterestTagRemoved, cmd, ctx)

    def send_service_package(self, cmd: SendServicePackage, ctx: Context) -> None:
        self._record(ServicePackageSent, cmd, ctx, package=cmd.package)

    def open_vacancy(self, cmd: OpenVacancy, ctx: Context) -> None:
        if cmd.sector not in reference().sectors:
            raise ValidationFailed.field("sector", f"unknown sector {cmd.sector!r}")
        vacancy_id = f"vacancy-{self.version + 1}"
        self._record(
            VacancyOpened, cmd, ctx, vacancy_id=vacancy_id, title=cmd.title, sector=cmd.sector
        )

    def fill_vacancy(self, cmd: FillVacancy, ctx: Context) -> None:
        self._vacancy(cmd.vacancy_id, "open")
        self._record(VacancyFilled, cmd, ctx, vacancy_id=cmd.vacancy_id)

    def close_vacancy(self, cmd: CloseVacancy, ctx: Context) -> None:
        self._vacancy(cmd.vacancy_id, "open")
        self._record(VacancyClosed, cmd, ctx, vacancy_id=cmd.vacancy_id)
