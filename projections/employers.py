"""Employers for matching: who carries the interest tag, by sector and area, with open vacancies."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow

from casework.domain import employer as emp
from projections.view import View, topics_of

CHANGES = {
    emp.InterestTagAdded: "interested = true",
    emp.InterestTagRemoved: "interested = false",
    emp.ServicePackageSent: "packages = packages + 1",
    emp.VacancyOpened: "open_vacancies = open_vacancies + 1",
    emp.VacancyFilled: "open_vacancies = open_vacancies - 1",
    emp.VacancyClosed: "open_vacancies = open_vacancies - 1",
}


class EmployerViews(View):
    name = "employers"
    topics = topics_of(emp.EmployerRegistered, *CHANGES)
    ddl = (
        """CREATE TABLE IF NOT EXISTS {table} (
            employer_id uuid PRIMARY KEY,
            business_id text NOT NULL,
            name text NOT NULL,
            sector text NOT NULL,
            area text NOT NULL,
            interested boolean NOT NULL DEFAULT false,
            open_vacancies integer NOT NULL DEFAULT 0,
            packages integer NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_match ON {table} (interested, sector, area)",
    )

    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        oid = event.originator_id
        if isinstance(event, emp.EmployerRegistered):
            curs.execute(
                self.sql(
                    "INSERT INTO {table} (employer_id, business_id, name, sector, area)"
                    " VALUES (%s, %s, %s, %s, %s)"
                ),
                (oid, event.business_id, event.name, event.sector, event.area),
            )
            return
        change = CHANGES.get(type(event))
        if change:
            curs.execute(self.sql(f"UPDATE {{table}} SET {change} WHERE employer_id = %s"), (oid,))
