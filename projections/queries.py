"""Reads of the case views: the lists people work from. Plain SQL over the view tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from casework.domain.calendar import add_working_days
from casework.paging import decode_cursor, encode_cursor
from projections.cases import CaseViews
from projections.employers import EmployerViews

_Cursor = tuple[Annotated[datetime, msgspec.Meta(tz=True)], UUID]
"""Where a page ended: the last case's activity and id."""


class Page(msgspec.Struct):
    items: list[dict[str, Any]]
    next: str | None


def list_cases(
    views: CaseViews,
    *,
    area: str | None = None,
    team: str | None = None,
    stage: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Cases, most recently active first, with keyset paging."""
    where, params = ["true"], []
    for column, value in (("area", area), ("team", team), ("stage", stage)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if tag == "tasmatyo":
        where.append("tasmatyo")
    if q:
        where.append("search LIKE %s")
        params.append(f"%{q.lower()}%")
    if cursor:
        where.append("(last_activity, case_id) < (%s, %s)")
        params += decode_cursor(cursor, _Cursor)
    query = views.sql(
        "SELECT case_id, area, team, assignee, stage, tasmatyo, grp, tracks, opened_at,"
        " last_activity, version FROM {table} WHERE " + " AND ".join(where) +
        " ORDER BY last_activity DESC, case_id DESC LIMIT %s"
    )  # fmt: skip
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit + 1])
        rows = curs.fetchall()
    more = rows[limit:]
    rows = rows[:limit]
    items = [
        {
            "id": str(r["case_id"]), "area": r["area"], "team": r["team"],
            "assignee": r["assignee"], "stage": r["stage"], "tasmatyo": r["tasmatyo"],
            "group": r["grp"], "tracks": r["tracks"], "opened_at": r["opened_at"].isoformat(),
            "last_activity": r["last_activity"].isoformat(), "version": r["version"],
        }
        for r in rows
    ]  # fmt: skip
    last = rows[-1] if rows and more else None
    position = [last["last_activity"].isoformat(), str(last["case_id"])] if last else None
    return Page(items, encode_cursor(position) if position else None)


def stalled_queue(
    views: CaseViews,
    now: datetime,
    *,
    area: str | None = None,
    team: str | None = None,
    step: str | None = None,
    partner: str | None = None,
    at_risk_days: int = 0,
    limit: int = 50,
) -> Page:
    """Stalled steps, oldest first, with how late they are; plus steps due within `at_risk_days`."""
    where, params = ["(stalled OR due <= %s)"], [add_working_days(now, at_risk_days)]
    for column, value in (("area", area), ("team", team), ("step", step), ("partner", partner)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    query = views.sql(
        "SELECT * FROM {table}_waits WHERE " + " AND ".join(where) +
        " ORDER BY stalled DESC, since ASC, case_id LIMIT %s"
    )  # fmt: skip
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit])
        rows = curs.fetchall()
    items = []
    for r in rows:
        late = (now - r["due"]).total_seconds()
        items.append({
            "case_id": str(r["case_id"]), "step": r["step"], "item": r["item"] or None,
            "area": r["area"], "team": r["team"], "partner": r["partner"],
            "waiting_on": r["waiting_on"], "since": r["since"].isoformat(),
            "due": r["due"].isoformat(), "stalled": r["stalled"], "escalated": r["escalated"],
            "days_late": round(late / 86400, 1) if late > 0 else 0,
            "reason": f"{r['step'].replace('_', ' ')}: waiting on {r['waiting_on']}"
                      f" since {r['since']:%Y-%m-%d}",
        })  # fmt: skip
    return Page(items, None)


def faulted_journeys(views: CaseViews, case_ids: list[UUID]) -> list[dict[str, Any]]:
    """Queue items for cases whose journey cannot run (its workflow task keeps failing): no
    deadline of theirs is being watched until the fault is fixed."""
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(
            views.sql("SELECT case_id, area, team, last_activity FROM {table}"
                      " WHERE case_id = ANY(%s) ORDER BY last_activity, case_id"),
            (case_ids,),
        )  # fmt: skip
        rows = curs.fetchall()
    items = []
    for r in rows:
        since = r["last_activity"].isoformat()
        items.append({
            "case_id": str(r["case_id"]), "step": "journey", "item": None, "area": r["area"],
            "team": r["team"], "partner": None, "waiting_on": "casework", "since": since,
            "due": since, "stalled": True, "escalated": True, "days_late": 0,
            "reason": "the journey cannot run: its deadlines are not watched until the"
                      " operators fix it (Temporal reports its workflow task failing)",
        })  # fmt: skip
    return items


def partner_inbox(views: CaseViews, partner: str, limit: int = 50) -> list[dict[str, Any]]:
    """Open handoff tasks of one partner, oldest first."""
    query = views.sql(
        "SELECT * FROM {table}_inbox WHERE partner = %s ORDER BY since ASC, case_id LIMIT %s"
    )
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, (partner, limit))
        return list(curs.fetchall())


def employers_for_matching(
    views: EmployerViews, *, sector: str | None = None, area: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Employers carrying the interest tag, those with open vacancies first."""
    where, params = ["interested"], []
    for column, value in (("sector", sector), ("area", area)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    query = views.sql(
        "SELECT employer_id, business_id, name, sector, area, open_vacancies FROM {table}"
        " WHERE " + " AND ".join(where) + " ORDER BY open_vacancies DESC, name LIMIT %s"
    )
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit])
        return [dict(row) | {"employer_id": str(row["employer_id"])} for row in curs.fetchall()]
