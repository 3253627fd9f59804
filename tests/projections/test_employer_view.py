"""Employers for matching: the interest tag, sector and area, open vacancies first."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from casework.domain import commands as c
from casework.domain import employer as emp

pytest_plugins = ["tests.api.conftest"]

COORDINATOR = c.Actor("kaisa", "coordinator", "*")


def register(app, name: str, business_id: str, sector: str, *cmds: c.Command) -> str:
    ctx = app.context(COORDINATOR)
    cmd = emp.RegisterEmployer(business_id=business_id, name=name, sector=sector, area="keskinen")
    employer = emp.Employer.register(uuid4(), cmd, ctx)
    for step in cmds:
        employer.execute(step, ctx)
    app.save(employer)
    return str(employer.id)


async def test_interested_employers_in_a_sector_are_found_with_open_vacancies_first(
    app, http, token
):
    tag = emp.AddInterestTag()
    vacancy = emp.OpenVacancy(title="Varastotyöntekijä", sector="logistics")
    quiet = register(app, "Oy Hiljainen Ab", "0112038-9", "logistics", tag)
    hiring = register(app, "Kuljetus Oy", "1572860-0", "logistics", tag, vacancy)
    register(app, "Ei kiinnostunut Oy", "0737546-2", "logistics")  # no interest tag
    untagged = register(
        app, "Entinen Oy", "2617416-4", "logistics", tag,
        emp.RemoveInterestTag(reason="stopped hiring"),
    )  # fmt: skip

    async def found() -> list[str]:
        response = await http.get(
            "/api/employers", params={"sector": "logistics", "area": "keskinen"}, headers=token()
        )
        return [e["employer_id"] for e in response.json()["items"]]

    for _ in range(150):
        if len(ids := await found()) == 2:
            break
        await asyncio.sleep(0.1)
    assert ids == [hiring, quiet]
    assert untagged not in ids
    partner = token("partner", "*", partner="kela")
    assert (await http.get("/api/employers", headers=partner)).status_code == 403
