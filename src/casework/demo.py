"""Sample journeys through the application, for `casework demo` and a first look at the service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from casework.app import CaseworkApp
from casework.domain import commands as c
from casework.domain.errors import OpenCaseExists

STAFF = c.Actor("demo-staff", "staff", "helsinki")
CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def sample_identity_code(born: date, number: int) -> str:
    """A valid personal identity code; individual numbers 900–999 are reserved for temporary use."""
    assert 900 <= number <= 999
    sign = {18: "+", 19: "-", 20: "A"}[born.year // 100]
    check = CHECK_CHARS[int(f"{born:%d%m%y}{number:03d}") % 31]
    return f"{born:%d%m%y}{sign}{number:03d}{check}"


def partner(slug: str) -> c.Actor:
    return c.Actor(f"demo-{slug}", "partner", partner=slug)


class Journey:
    """One sample client's case, driven command by command."""

    def __init__(self, app: CaseworkApp, number: int, team: str, opened: datetime) -> None:
        self.app = app
        code = sample_identity_code(date(1960, 1, 1) + timedelta(days=(number - 900) * 397), number)
        cmd = c.OpenCase(identity_code=code, area="helsinki", team=team, effective_at=opened)
        try:
            self.case_id = app.open_case(cmd, app.context(STAFF)).case_id
        except OpenCaseExists as exists:  # the demo ran before on this data dir
            self.case_id = exists.existing_case_id

    @property
    def fresh(self) -> bool:
        return self.app.get_case(self.case_id).version == 1

    def run(self, cmd: c.Command, actor: c.Actor = STAFF) -> None:
        self.app.execute(self.case_id, cmd, self.app.context(actor))

    def last_item(self, track: str) -> str:
        return getattr(self.app.get_case(self.case_id).state, track)[-1].id


def run_journeys(app: CaseworkApp) -> list[UUID]:
    """Three clients: one employed with pay subsidy, one handed over to Keva, one just opened."""
    opened = datetime.now(UTC) - timedelta(days=40)
    today = date.today()

    anna = Journey(app, 901, "helsinki-sote", opened)
    if anna.fresh:
        anna.run(c.RecordScreening(answers={"work_ability": "lifting is hard"}, concern=True))
        anna.run(c.AddTasmatyoTag(basis="screening"))
        anna.run(c.ApplyForSubsidy(kind="pay_subsidy"))
        anna.run(c.DecideSubsidy(subsidy_id=anna.last_item("subsidies"), granted=True))
        anna.run(c.StartEmployment(starts_on=today, subsidy_id=anna.last_item("subsidies")))

    ben = Journey(app, 902, "helsinki-it", opened)
    if ben.fresh:
        keva = partner("keva")
        ben.run(c.RecordScreening(answers={"work_ability": "fatigue"}, concern=True))
        ben.run(c.RecordDiagnosis(icd_chapter="F", b_statement_on=today))
        ben.run(c.AddTasmatyoTag(basis="b_statement"))
        ben.run(c.RecordWorkHistory(years=12, last_insured="public"))
        consent = c.Consent(given_on=today, partners=["keva", "kela"])
        ben.run(c.RequestHandoff(partner="keva", consent=consent, summary="Rehabilitation need"))
        handoff = ben.last_item("handoffs")
        ben.run(c.AcknowledgeHandoff(handoff_id=handoff), keva)
        ben.run(c.RequestHandoffInfo(handoff_id=handoff, question="Latest statement?"), keva)
        ben.run(c.SupplyHandoffInfo(handoff_id=handoff, answer="Sent by post"))
        ben.run(c.AcceptHandoff(handoff_id=handoff), keva)

    carla = Journey(app, 903, "helsinki-services", opened)
    return [anna.case_id, ben.case_id, carla.case_id]
