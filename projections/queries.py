"""Reads of the case views: the lists people work from. Plain SQL over the view tables; each item
is the Struct the API answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

from casework.domain.calendar import add_working_days
from casework.domain.commands import ItemId
from casework.domain.permissions import Withheld
from casework.domain.state import Stage
from casework.domain.tasks import TaskState
from casework.paging import decode_cursor, encode_cursor
from projections.cases import CaseViews
from projections.employers import EmployerViews

_Moment = Annotated[datetime, msgspec.Meta(tz=True)]
_CaseCursor = tuple[_Moment, UUID]
"""Where a page of the case list ended: the last case's activity and id."""
_QueueCursor = tuple[bool, _Moment, UUID, str, str]
"""… of the stalled queue: stalled, since, case, step, item."""
_EmployerCursor = tuple[int, str, UUID]
"""… of the employers: open vacancies, name, id."""
_InboxCursor = tuple[_Moment, UUID, ItemId]
"""… of an inbox: the last task's time, case and handoff."""
T = TypeVar("T")


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


class Acknowledged(msgspec.Struct, frozen=True):
    """Who of the coordinators saw a stall, and when."""

    by: str
    at: datetime


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
    acknowledged: Acknowledged | None
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


def _after(descending: str, *ascending: str) -> str:
    """The keyset condition for `ORDER BY descending DESC, ascending…`: the rows after a cursor,
    given the cursor's first value twice and then the rest."""
    rest = ", ".join(ascending)
    marks = ", ".join(["%s"] * len(ascending))
    return f"({descending} < %s OR ({descending} = %s AND ({rest}) > ({marks})))"


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
        params += list(decode_cursor(cursor, _CaseCursor))
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
    cursor: str | None = None,
) -> Page[QueueItem]:
    """Stalled steps, oldest first, with how late they are; plus steps due within `at_risk_days`.
    Keyset-paged."""
    where, params = ["(stalled OR due <= %s)"], [add_working_days(now, at_risk_days)]
    for column, value in (("area", area), ("team", team), ("step", step), ("partner", partner)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if cursor:
        stalled, *rest = decode_cursor(cursor, _QueueCursor)
        where.append(_after("stalled", "since", "case_id", "step", "item"))
        params += [stalled, stalled, *rest]
    query = views.sql(
        "SELECT * FROM {table}_waits WHERE " + " AND ".join(where) +
        " ORDER BY stalled DESC, since, case_id, step, item LIMIT %s"
    )  # fmt: skip
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit + 1])
        rows = curs.fetchall()
    more, rows = rows[limit:], rows[:limit]
    last = rows[-1] if rows and more else None
    after = [last["stalled"], last["since"].isoformat(), str(last["case_id"]), last["step"],
             last["item"]] if last else None  # fmt: skip
    items = []
    for r in rows:
        late = (now - r["due"]).total_seconds()
        items.append(QueueItem(
            case_id=r["case_id"], step=r["step"], item=r["item"] or None, area=r["area"],
            team=r["team"], partner=r["partner"], waiting_on=r["waiting_on"], since=r["since"],
            due=r["due"], stalled=r["stalled"], escalated=r["escalated"],
            acknowledged=Acknowledged(r["acknowledged_by"], r["acknowledged_at"])
                         if r["acknowledged_by"] else None,
            days_late=round(late / 86400, 1) if late > 0 else 0,
            reason=f"{r['step'].replace('_', ' ')}: waiting on {r['waiting_on']}"
                   f" since {r['since']:%Y-%m-%d}",
        ))  # fmt: skip
    return Page(items, encode_cursor(after) if after else None)


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
            due=r["last_activity"], stalled=True, escalated=True, acknowledged=None, days_late=0,
            reason="the journey cannot run: its deadlines are not watched until the operators"
                   " fix it (Temporal reports its workflow task failing)",
        )
        for r in rows
    ]  # fmt: skip


def partner_inbox(
    views: CaseViews,
    partner: str,
    state: TaskState | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """One partner's tasks in one state (None: every state but closed), keyset-paged: the work in
    hand oldest first, closed tasks the most recently closed first. Items hold the view's row."""
    where, params = ["partner = %s"], [partner]
    if state is None:
        where.append("active")
    else:
        where.append("state = %s")
        params.append(state)
    newest_first = state == "closed"
    if cursor:
        where.append(f"(since, case_id, handoff_id) {'<' if newest_first else '>'} (%s, %s, %s)")
        params += list(decode_cursor(cursor, _InboxCursor))
    order = "DESC" if newest_first else "ASC"
    query = views.sql(
        "SELECT * FROM {table}_inbox WHERE " + " AND ".join(where) +
        f" ORDER BY since {order}, case_id {order}, handoff_id {order} LIMIT %s"
    )  # fmt: skip
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit + 1])
        rows = [dict(row) for row in curs.fetchall()]
    last = rows[limit - 1] if len(rows) > limit else None
    position = last and [last["since"].isoformat(), str(last["case_id"]), last["handoff_id"]]
    return Page(rows[:limit], encode_cursor(position) if position else None)


def employers_for_matching(
    views: EmployerViews,
    *,
    sector: str | None = None,
    area: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[EmployerItem]:
    """Employers carrying the interest tag, those with open vacancies first. Keyset-paged."""
    where, params = ["interested"], []
    for column, value in (("sector", sector), ("area", area)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if cursor:
        vacancies, *rest = decode_cursor(cursor, _EmployerCursor)
        where.append(_after("open_vacancies", "name", "employer_id"))
        params += [vacancies, vacancies, *rest]
    query = views.sql(
        "SELECT employer_id, business_id, name, sector, area, open_vacancies FROM {table}"
        " WHERE " + " AND ".join(where) +
        " ORDER BY open_vacancies DESC, name, employer_id LIMIT %s"
    )  # fmt: skip
    with views.datastore.transaction(commit=False) as curs:
        curs.execute(query, [*params, limit + 1])
        rows = curs.fetchall()
    more, rows = rows[limit:], rows[:limit]
    last = rows[-1] if rows and more else None
    after = [last["open_vacancies"], last["name"], str(last["employer_id"])] if last else None
    items = [EmployerItem(**row) for row in rows]
    return Page(items, encode_cursor(after) if after else None)
