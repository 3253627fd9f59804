"""A match, job referral, subsidy or employment names an employer (and vacancy) that exists.

The application checks it before anything is written (the journey's rules do no I/O); a name
that does not resolve is a 422 naming the field, never a 404 for the case.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from casework.application import CaseworkApp
from casework.demo import sample_business_id
from casework.domain import commands as c
from casework.domain.employer import Employer, FillVacancy, OpenVacancy, RegisterEmployer
from casework.domain.errors import FieldError, ValidationFailed
from tests.store.test_event_store import STAFF, event_count, open_case

_numbers = iter(range(3_000_000, 4_000_000, 17))


def register_employer(app: CaseworkApp, vacancies: int = 0) -> Employer:
    """A registered employer with `vacancies` open vacancies (`vacancy-2`, `vacancy-3`, …)."""
    ctx = app.context(STAFF)
    cmd = RegisterEmployer(
        business_id=sample_business_id(next(_numbers)), name="Oy Esimerkki Ab", sector="it",
        area="helsinki",
    )  # fmt: skip
    employer = Employer.register(uuid4(), cmd, ctx)
    for _ in range(vacancies):
        employer.execute(OpenVacancy(title="Ohjelmoija", sector="it"), ctx)
    app.save(employer)
    return employer


def identified_case(app: CaseworkApp) -> UUID:
    case_id = open_case(app)
    ctx = app.context(STAFF)
    app.execute(case_id, c.RecordScreening(answers={"q1": "a"}, concern=True), ctx)
    app.execute(case_id, c.AddTasmatyoTag(basis="screening"), ctx)
    return case_id


def refused_field(app: CaseworkApp, database, case_id: UUID, cmd: c.Command) -> FieldError:
    before = event_count(database)
    with pytest.raises(ValidationFailed) as refused:
        app.execute(case_id, cmd, app.context(STAFF))
    assert event_count(database) == before
    [error] = refused.value.errors
    return error


NO_EMPLOYER = FieldError("employer_id", "no employer registered with this id")


def test_a_match_names_a_registered_employer(app, database):
    case_id = identified_case(app)
    match = c.ProposeMatch(employer_id=uuid4(), sector="it")
    assert refused_field(app, database, case_id, match) == NO_EMPLOYER
    employer = register_employer(app)
    result = app.execute(case_id, c.ProposeMatch(employer_id=employer.id, sector="it"),
                         app.context(STAFF))  # fmt: skip
    assert result.events == ["MatchProposed"]


def test_the_id_of_a_case_is_no_employer(app, database):
    case_id = identified_case(app)
    match = c.ProposeMatch(employer_id=open_case(app), sector="it")
    assert refused_field(app, database, case_id, match) == NO_EMPLOYER


def test_a_job_referral_names_an_open_vacancy_of_the_employer(app, database):
    case_id = identified_case(app)
    employer = register_employer(app, vacancies=2)

    def referral(vacancy_id: str, employer_id: UUID = employer.id) -> c.MakeJobReferral:
        return c.MakeJobReferral(employer_id=employer_id, vacancy_id=vacancy_id)

    assert refused_field(app, database, case_id, referral("vacancy-2", uuid4())) == NO_EMPLOYER
    assert refused_field(app, database, case_id, referral("vacancy-9")) == FieldError(
        "vacancy_id", "the employer has no vacancy with this id"
    )
    other = register_employer(app, vacancies=3)  # its vacancy-4 is not `employer`'s
    assert refused_field(app, database, case_id, referral("vacancy-4")).field == "vacancy_id"
    assert app.execute(case_id, referral("vacancy-4", other.id), app.context(STAFF)).events == [
        "JobReferralMade"
    ]
    employer.execute(FillVacancy(vacancy_id="vacancy-3"), app.context(STAFF))
    app.save(employer)
    assert refused_field(app, database, case_id, referral("vacancy-3")) == FieldError(
        "vacancy_id", "the vacancy is filled, not open"
    )
    assert app.execute(case_id, referral("vacancy-2"), app.context(STAFF)).events == [
        "JobReferralMade"
    ]


def test_a_subsidy_or_an_employment_naming_an_employer_names_a_registered_one(app, database):
    case_id = open_case(app)
    ctx = app.context(STAFF)
    unknown = uuid4()
    applying = c.ApplyForSubsidy(kind="work_arrangement_subsidy", employer_id=unknown)
    assert refused_field(app, database, case_id, applying) == NO_EMPLOYER
    starting = c.StartEmployment(starts_on=date(2026, 1, 5), employer_id=unknown)
    assert refused_field(app, database, case_id, starting) == NO_EMPLOYER
    # Without an employer (not yet known) both go through, as with a registered one.
    app.execute(case_id, c.ApplyForSubsidy(kind="pay_subsidy"), ctx)
    employer = register_employer(app)
    assert app.execute(
        case_id, c.StartEmployment(starts_on=date(2026, 1, 5), employer_id=employer.id), ctx
    ).events == ["EmploymentStarted"]
