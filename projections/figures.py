"""Reading the indicators: every figure of `projections.indicators` for a range of months.

The flows are the months' totals; a stock at a month's end is the sum of its changes up to that
month; the medians are those the view keeps, taken again from its handoffs and cases when a
month in range has moved since. All in one repeatable-read snapshot, with the log position it
includes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from functools import cache
from typing import Any, get_args

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from casework.domain.commands import HandoffOutcome
from casework.domain.reference import reference
from projections.indicators import (
    ANSWERS,
    AT_MONTH_END,
    HANDOFF_MOVES,
    SUBSIDY_KINDS,
    TOTAL,
    IndicatorViews,
    medians,
)
from projections.months import month_start, next_month

MAX_MONTHS = 120
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@cache
def indicator_names() -> tuple[str, ...]:
    """Every indicator, in the order of DOMAIN.md; the columns of the CSV."""
    ref = reference()
    decisions = [f"{k}_{d}" for k in SUBSIDY_KINDS for d in ("granted", "denied")]
    outcomes = get_args(HandoffOutcome)
    handoffs = [
        f"handoffs_{p}_{what}"
        for p in ref.partners
        for what in ("requested", *HANDOFF_MOVES, *(f"completed_{o}" for o in outcomes))
    ]
    return (
        "job_referrals_target_group", "job_referrals",
        *(f"target_group_{d}" for d in decisions),
        "tasmatyo_tags_added", "tasmatyo_tags_removed",
        "target_group_at_month_end",
        "employer_interest_tags_added", "employer_interest_tags_removed",
        *decisions,
        "coaching_referred", "coaching_started", "coaching_completed", "coaching_interrupted",
        "employments_started", "employments_with_pay_subsidy", "employments_without_pay_subsidy",
        "f05_at_month_end",
        "onboarding_sessions_held",
        "info_sessions_held", "club_sessions_held",
        "session_participants", "feedback_answers",
        *(f"feedback_{a}" for a in ANSWERS), *(f"feedback_{a}_share" for a in ANSWERS),
        *handoffs,
        "partner_responses", "partner_response_median_days",
        *(f"partner_response_median_days_{p}" for p in ref.partners),
        "stalled_cases_at_month_end", *(f"stalled_{s}_at_month_end" for s in ref.steps),
        "identifications", "identification_median_days",
    )  # fmt: skip


NULLABLE = frozenset(n for n in indicator_names() if n.endswith("_share") or "median_days" in n)
"""The indicators that are fractions (shares and medians); null when there is nothing to count."""


def parse_month(value: str) -> date | None:
    """`YYYY-MM` as the first day of that month, or None if it is not one."""
    match = MONTH.match(value)
    if match is None or match[1] == "0000":  # there was no year 0
        return None
    return date(int(match[1]), int(match[2]), 1)


def months_between(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def label(month: date) -> str:
    return f"{month:%Y-%m}"


def _medians(
    curs: Cursor[DictRow], view: IndicatorViews, params: dict[str, Any], where_area: str
) -> list[DictRow]:
    """The months' medians (`indicators.medians`): as kept by the view, unless a month in range
    changed since they were taken; then taken from the view's handoffs and cases now."""
    curs.execute(
        view.sql(
            "SELECT EXISTS (SELECT 1 FROM {table}_stale_months"
            " WHERE month BETWEEN %(first)s AND %(last)s) AS stale"
        ),
        params,
    )
    if (curs.fetchone() or {})["stale"]:
        curs.execute(view.sql(medians(where_area)), params)
    else:
        curs.execute(
            view.sql(
                "SELECT kind, month, area, partner, n, median FROM {table}_medians"
                " WHERE month BETWEEN %(first)s AND %(last)s" + where_area
            ),
            params,
        )
    return curs.fetchall()


def median_days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 1)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


class Figures(msgspec.Struct, frozen=True):
    """The indicators as one consistent snapshot of the view."""

    position: int
    """The last notification the view had applied: the figures include every event up to it."""
    areas: dict[str, dict[str, dict[str, Any]]]
    """`{area | "total": {"YYYY-MM": {indicator: value}}}`."""


def compute(view: IndicatorViews, first: date, last: date, area: str | None = None) -> Figures:
    """Every indicator for each month from `first` to `last`.

    Without an area: every area of the reference data and `total` (which also counts any area
    no longer in the reference data); with one: that area only.
    """
    months = months_between(first, last)
    labels = [label(m) for m in months]
    areas = [area] if area else [*reference().areas, TOTAL]
    counts: dict[tuple[str, str], defaultdict[str, int]] = {
        (a, m): defaultdict(int) for a in areas for m in labels
    }
    # A median is not a sum of medians: the queries give the total rows of its own (area '').
    median_values: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    params: dict[str, Any] = {
        "lo": month_start(months[0]),
        "hi": month_start(next_month(months[-1])),
        "area": area,
        "first": months[0],
        "last": months[-1],
    }

    def where_area(column: str = "area") -> str:
        return f" AND {column} = %(area)s" if area else ""

    def add(row: dict[str, Any], name: str, value: int) -> None:
        for where in (row["area"], TOTAL):
            if (where, row["month"]) in counts:
                counts[(where, row["month"])][name] += value

    with view.datastore.transaction(commit=False) as curs:
        # One snapshot for every query, and the position it includes.
        curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        curs.execute(
            SQL("SELECT max(notification_id) AS position FROM {}").format(
                Identifier(view.tracking_table_name)
            )
        )
        position = (curs.fetchone() or {}).get("position") or 0
        # Flows: the months' totals. Stocks: the sum of their changes up to each month's end.
        curs.execute(
            view.sql(
                "SELECT area, month, name, value FROM {table}_totals"
                " WHERE month <= %(last)s" + where_area() + " ORDER BY month"
            ),
            params,
        )  # fmt: skip
        changes = []
        for row in curs.fetchall():
            if row["name"].endswith(AT_MONTH_END):
                changes.append(row)
            elif row["month"] >= months[0]:
                add(row | {"month": label(row["month"])}, row["name"], row["value"])
        stocks: defaultdict[tuple[str, str], int] = defaultdict(int)
        for month in months:
            while changes and changes[0]["month"] <= month:
                change = changes.pop(0)
                stocks[(change["area"], change["name"])] += change["value"]
            for (where, name), value in stocks.items():
                add({"area": where, "month": label(month)}, name, value)
        # Medians: from request to acknowledgement, and from opening to identification. A row
        # of every area ('') is the total (or the one area asked for); the count of each
        # area's responses is that of its row of every partner.
        for row in _medians(curs, view, params, where_area()):
            month = label(row["month"])
            if row["kind"] == "identification":
                name, counted = "identification_median_days", "identifications"
            elif row["partner"]:
                name, counted = f"partner_response_median_days_{row['partner']}", None
            else:
                name, counted = "partner_response_median_days", "partner_responses"
            median_values[(row["area"] or area or TOTAL, month)][name] = median_days(row["median"])
            if counted and row["area"]:
                add({"area": row["area"], "month": month}, counted, row["n"])

    names = indicator_names()
    result: dict[str, dict[str, dict[str, Any]]] = {a: {} for a in areas}
    for a in areas:
        for m in labels:
            row: dict[str, Any] = {n: counts[(a, m)][n] for n in names if n not in NULLABLE}
            for answer in ANSWERS:
                part = row[f"feedback_{answer}"]
                row[f"feedback_{answer}_share"] = share(part, row["feedback_answers"])
            found = median_values.get((a, m), {})
            row |= {n: found.get(n) for n in names if "median_days" in n}
            result[a][m] = {n: row[n] for n in names}
    return Figures(position, result)
