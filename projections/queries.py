"""Reads of the case views: the lists people work from. Plain SQL over the view tables."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

from casework.domain.calendar import add_working_days
from casework.domain.errors import CaseworkError
from casework.domain.permissions import Withheld
from casework.domain.state import Stage
from projections.cases import CaseViews
from projections.employers import EmployerViews

MAX_LIMIT = 500
T = TypeVar("T")
_Cursor = tuple[Annotated[datetime, msgspec.Meta(tz=True)], UUID]
"""Where a page ended: the last case's activity and id."""


class Tracks(msgspec.Struct, frozen=True):
    """Where each of a case's tracks stands, for a list to show at a glance."""

    coaching: list[str]
    referrals: list[str]
    subsidies: list[str]
    """`kind:status`"""
    handoffs: list[str]
    """`partner:status`"""
    employed: bool


class CaseListItem(msgspec.Struct):
    id: UUID
    area: str
    team: str
    assignee: str | None
    stage: Stage
    tasmatyo: bool
    group: Literal["A", "B"] | Withheld | None
    tracks: Tracks
    opened_at: datetime
    last_activity: datetime
    version: int


class QueueItem(msgspec.Struct, frozen=True):
    """A step of a case that waits: on whom, since when, by when, how late."""

    case_id: UUID
    step: str
    item: str | None
    area: str
    team: str
    partner: str | None
    waiting_on: str
    since: datetime
    due: datetime
    stalled: bool
    escalated: bool
    days_late: float
    reason: str


class EmployerItem(msgspec.Struct, frozen=True):
    employer_id: UUID
    business_id: str
    name: str
    sector: str
    area: str
    open_vacancies: int


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next: str | None


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode()


class InvalidCursor(CaseworkError):
    code = "malformed"

    def __init__(self) -> None:
        super().__init__("the cursor is not one this list gave out: start again without it")


def _uncursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()), type=_Cursor)
    except ValueError:  # not base64, not JSON or not a position: each is a ValueError
        raise InvalidCursor() from None


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
) -> Page[CaseListItem]:
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
        params += _uncursor(cursor)
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
        CaseListItem(
            id=r["case_id"], area=r["area"], team=r["team"], assignee=r["assignee"],
            stage=r["stage"], tasmatyo=r["tasmatyo"], group=r["grp"],
            tracks=msgspec.convert(r["tracks"], Tracks), opened_at=r["opened_at"],
            last_activity=r["last_activity"], version=r["version"],
        )
        for r in rows
    ]  # fmt: skip
    last = rows[-1] if rows and more else None
    return Page(
        items, _cursor([last["last_activity"].isoformat(), str(last["case_id"])]) if last else None
    )


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
) -> Page[QueueItem]:
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
        items.append(QueueItem(
            case_id=r["case_id"], step=r["step"], item=r["item"] or None, area=r["area"],
            team=r["team"], partner=r["partner"], waiting_on=r["waiting_on"], since=r["since"],
            due=r["due"], stalled=r["stalled"], escalated=r["escalated"],
            days_late=round(late / 86400, 1) if late > 0 else 0,
            reason=f"{r['step'].replace('_', ' ')}: waiting on {r['waiting_on']}"
                   f" since {r['since']:%Y-%m-%d}",
        ))  # fmt: skip
    return Page(items, None)


def faulted_journeys(views: CaseViews, case_ids: list[UUID]) -> list[QueueItem]:
    """Queue items for cases whose journey cannot run (its workflow task keeps failing): no
    deadline of theirs is being watched until the fault is fixed."""
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(
            views.sql("SELECT case_id, area, team, last_activity FROM {table}"
                      " WHERE case_id = ANY(%s) ORDER BY last_activity, case_id"),
            (case_ids,),
        )  # fmt: skip
        rows = curs.fetchall()
    return [
        QueueItem(
            case_id=r["case_id"], step="journey", item=None, area=r["area"], team=r["team"],
            partner=None, waiting_on="casework", since=r["last_activity"],
            due=r["last_activity"], stalled=True, escalated=True, days_late=0,
            reason="the journey cannot run: its deadlines are not watched until the operators"
                   " fix it (Temporal reports its workflow task failing)",
        )
        for r in rows
    ]  # fmt: skip


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
) -> list[EmployerItem]:
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
        return [EmployerItem(**row) for row in curs.fetchall()]
