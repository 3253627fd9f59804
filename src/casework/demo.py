"""Sample journeys, sent through the journey workflows like any staff member's commands.

Every step carries an idempotency key, so loading the demo again on the same data changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from casework.domain import commands as c
from casework.domain.commands import Actor
from workflows.client import Journeys
from workflows.messages import Caller, CommandOutcome

STAFF = Caller(Actor("demo-staff", "staff", "helsinki"), correlation_id="demo")
CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def sample_identity_code(born: date, number: int) -> str:
    """A valid personal identity code; individual numbers 900–999 are reserved for temporary use."""
    assert 900 <= number <= 999
    sign = {18: "+", 19: "-", 20: "A"}[born.year // 100]
    check = CHECK_CHARS[int(f"{born:%d%m%y}{number:03d}") % 31]
    return f"{born:%d%m%y}{sign}{number:03d}{check}"


def sample_business_id(n: int) -> str:
    """A valid business id (Y-tunnus): the first with a valid check digit from `n` on."""
    while True:
        digits = f"{n:07d}"
        rest = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if rest != 1:
            return f"{digits}-{0 if rest == 0 else 11 - rest}"
        n += 1


def partner(slug: str) -> Caller:
    return Caller(Actor(f"demo-{slug}", "partner", partner=slug), correlation_id="demo")


class Journey:
    """One sample client's case, driven command by command."""

    def __init__(self, journeys: Journeys, number: int) -> None:
        self.journeys, self.number, self.step = journeys, number, 0
        self.case_id: UUID | None = None

    async def open(self, team: str, opened: datetime) -> CommandOutcome:
        code = sample_identity_code(
            date(1960, 1, 1) + timedelta(days=(self.number - 900) * 397), self.number
        )
        opening = c.OpenCase(identity_code=code, area="helsinki", team=team, effective_at=opened)
        outcome = await self.journeys.open_case(opening, STAFF, f"demo-{self.number}")
        self.case_id = outcome.case_id
        return outcome

    async def run(self, command: c.CaseCommand, caller: Caller = STAFF) -> CommandOutcome:
        assert self.case_id is not None
        self.step += 1
        key = f"demo-{self.number}-{self.step}"
        return await self.journeys.run(self.case_id, command, caller, idempotency_key=key)


async def run_journeys(journeys: Journeys) -> list[UUID]:
    """Three clients: one employed with pay subsidy, one handed over to Keva, one just opened."""
    opened = datetime.now(UTC) - timedelta(days=40)
    today = date.today()

    anna = Journey(journeys, 901)
    await anna.open("helsinki-sote", opened)
    await anna.run(c.RecordScreening(answers={"work_ability": "lifting is hard"}, concern=True))
    await anna.run(c.AddTasmatyoTag(basis="screening"))
    applied = await anna.run(c.ApplyForSubsidy(kind="pay_subsidy"))
    subsidy = applied.created["subsidy"]
    await anna.run(c.DecideSubsidy(subsidy_id=subsidy, granted=True))
    await anna.run(c.StartEmployment(starts_on=today, subsidy_id=subsidy))

    ben, keva = Journey(journeys, 902), partner("keva")
    await ben.open("helsinki-it", opened)
    await ben.run(c.RecordScreening(answers={"work_ability": "fatigue"}, concern=True))
    await ben.run(c.RecordDiagnosis(icd_chapter="F", b_statement_on=today))
    await ben.run(c.AddTasmatyoTag(basis="b_statement"))
    await ben.run(c.RecordWorkHistory(years=12, last_insured="public"))
    consent = c.Consent(given_on=today, partners=["keva", "kela"])
    requested = await ben.run(
        c.RequestHandoff(partner="keva", consent=consent, summary="Rehabilitation need")
    )
    handoff = requested.created["handoff"]
    await ben.run(c.AcknowledgeHandoff(handoff_id=handoff), keva)
    await ben.run(c.RequestHandoffInfo(handoff_id=handoff, question="Latest statement?"), keva)
    await ben.run(c.SupplyHandoffInfo(handoff_id=handoff, answer="Sent by post"))
    await ben.run(c.AcceptHandoff(handoff_id=handoff), keva)

    carla = Journey(journeys, 903)
    await carla.open("helsinki-services", opened)
    return [j.case_id for j in (anna, ben, carla) if j.case_id]
