"""The programme's indicators (mittarit, DOMAIN.md "Indicators"): monthly, per area and in total.

The view keeps dated facts and intervals; every figure is computed when it is asked for, so a fact
recorded late (back-dated with `effective_at`) restates the month it took effect in, and the answer
says when it was computed and how far into the log the view had read.

Months are calendar months in Europe/Helsinki. A flow is placed in the month its fact took effect
(`meta.effective_at`). A stock is the state at the month's end: the facts that took effect before
the next month began, folded in the order they took effect (ties by version). A case belongs to the
area it was opened in (reassignment changes the team, not the area); an employer and a session
belong to the area they were registered or planned in. Stocks count open cases only: closing ends
them.

1. `job_referrals_target_group`: job referrals of clients in the target group when the referral
   took effect (`job_referrals`: of all clients). The target group: tagged (Täsmätyö) or diagnosed.
2. `target_group_{pay,work_arrangement}_subsidy_{granted,denied}`: subsidy decisions for clients in
   the target group when the decision took effect.
3. `tasmatyo_tags_added`, `tasmatyo_tags_removed`.
4. `target_group_at_month_end`: open cases tagged or diagnosed at the month's end.
5. `employer_interest_tags_added` (and `_removed`), in the employer's area.
6. `{pay,work_arrangement}_subsidy_{granted,denied}`: decisions, all clients.
7. `coaching_{referred,started,completed,interrupted}`: TyöDesign.
8. `employments_started`, split `employments_with_pay_subsidy` / `employments_without_pay_subsidy`.
9. `f05_at_month_end`: open cases whose employment has started and whose sickness allowance has
   reached 300 days, at the month's end.
10. `onboarding_sessions_held`; 11. `info_sessions_held`, `club_sessions_held` (by when held).
12. `session_participants` (of the sessions held), `feedback_answers` and the count and share
    (0–1, three decimals; null without answers) of each answer: useful, partly useful, not useful.

And what the programme lacked:

- `handoffs_{partner}_{requested,accepted,rejected,redirected,completed_{outcome}}`: handoffs per
  partner and outcome; a redirection is `redirected` for the partner it leaves and `requested` for
  the one it goes to.
- `partner_responses`, `partner_response_median_days` (and `_{partner}`): from a handoff's request
  (or the redirection that made it) to its acknowledgement, by the month of the acknowledgement.
- `stalled_{step}_at_month_end`, `stalled_cases_at_month_end`: cases with a stalled step at the
  month's end (a case stalled on two steps counts once in `stalled_cases`). A stall runs from its
  `StepStalled` to the `StallCleared` that ends it; a clearing fact back-dated before the stall
  means it never ran.
- `identifications`, `identification_median_days`: from opening to identification (the earliest
  Täsmätyö tag or diagnosis to take effect), by the month of the identification.

Medians are in days, one decimal; null when there is nothing to take the median of.

Tables: `facts` (one row per flow fact: kind, detail, area, when and its Helsinki month), `spans`
(a case in the target group, in F05 or stalled on a step, from `since` until `until`; a GiST index
finds the spans covering a month's end), `cases` and `tags` (the moments that bound a case's
target-group and F05 spans, which are recomputed from them whenever one changes, so a back-dated
fact lands in its place), `handoffs` (requested and acknowledged), `subsidies` (their kind) and
`entities` (an employer's or session's area).

Health data: the view keeps no diagnosis class and no day count, only when a case was first
diagnosed and first reached the 300-day maximum, as the bounds of its intervals.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cache
from itertools import groupby
from typing import Any, get_args
from zoneinfo import ZoneInfo

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from casework.domain import employer as emp
from casework.domain import events as e
from casework.domain import training as tr
from casework.domain.commands import HandoffOutcome
from casework.domain.reference import reference
from projections.view import View

HELSINKI = ZoneInfo("Europe/Helsinki")
TOTAL = "total"
MAX_MONTHS = 120
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SUBSIDY_KINDS = ("pay_subsidy", "work_arrangement_subsidy")
ANSWERS = ("useful", "partly_useful", "not_useful")
HANDOFF_MOVES = ("accepted", "rejected", "redirected")
MAXIMUM_SICKNESS_DAYS = 300


class IndicatorViews(View):
    name = "indicators"
    ddl = (
        # Where each case belongs, and the moments that bound its stocks (earliest to take effect).
        """CREATE TABLE IF NOT EXISTS {table}_cases (
            case_id uuid PRIMARY KEY,
            area text NOT NULL,
            opened_at timestamptz NOT NULL,
            identified_at timestamptz,
            diagnosed_at timestamptz,
            employed_at timestamptz,
            sickness_max_at timestamptz,
            closed_at timestamptz
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_cases_identified ON {table}_cases (identified_at)",
        """CREATE TABLE IF NOT EXISTS {table}_tags (
            case_id uuid NOT NULL,
            version integer NOT NULL,
            at timestamptz NOT NULL,
            added boolean NOT NULL,
            PRIMARY KEY (case_id, version)
        )""",
        # Stocks: a case is in a state from `since` until `until` (open-ended when null).
        """CREATE TABLE IF NOT EXISTS {table}_spans (
            case_id uuid NOT NULL,
            kind text NOT NULL,
            step text NOT NULL DEFAULT '',
            item text NOT NULL DEFAULT '',
            area text NOT NULL,
            since timestamptz NOT NULL,
            until timestamptz
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_spans_case ON {table}_spans (case_id, kind)",
        # A month's end is covered when since < the next month's start <= until.
        "CREATE INDEX IF NOT EXISTS {table}_spans_cover ON {table}_spans"
        " USING gist (tstzrange(since, until, '(]'))",
        # Flows: one row per fact, at the moment it took effect.
        """CREATE TABLE IF NOT EXISTS {table}_facts (
            entity_id uuid NOT NULL,
            version integer NOT NULL,
            kind text NOT NULL,
            detail text NOT NULL DEFAULT '',
            area text NOT NULL,
            at timestamptz NOT NULL,
            month date NOT NULL,
            amount integer NOT NULL DEFAULT 1,
            PRIMARY KEY (entity_id, version, kind)
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_facts_month ON {table}_facts (month, area)",
        "CREATE INDEX IF NOT EXISTS {table}_facts_at ON {table}_facts (kind, at)",
        """CREATE TABLE IF NOT EXISTS {table}_subsidies (
            case_id uuid NOT NULL,
            subsidy_id text NOT NULL,
            kind text NOT NULL,
            PRIMARY KEY (case_id, subsidy_id)
        )""",
        """CREATE TABLE IF NOT EXISTS {table}_handoffs (
            case_id uuid NOT NULL,
            handoff_id text NOT NULL,
            partner text NOT NULL,
            area text NOT NULL,
            requested_at timestamptz NOT NULL,
            acknowledged_at timestamptz,
            PRIMARY KEY (case_id, handoff_id)
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_handoffs_ack ON {table}_handoffs (acknowledged_at)",
        # Employers and training sessions: their area (and a session's kind).
        """CREATE TABLE IF NOT EXISTS {table}_entities (
            entity_id uuid PRIMARY KEY,
            area text NOT NULL,
            kind text NOT NULL DEFAULT ''
        )""",
    )

    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, curs, event)

    # Helpers

    def _area(self, curs: Cursor[DictRow], case_id: Any) -> str:
        curs.execute(self.sql("SELECT area FROM {table}_cases WHERE case_id = %s"), (case_id,))
        row = curs.fetchone()
        assert row is not None, f"case {case_id} has events before its opening"
        return row["area"]

    def _entity(self, curs: Cursor[DictRow], entity_id: Any) -> DictRow:
        curs.execute(self.sql("SELECT * FROM {table}_entities WHERE entity_id = %s"), (entity_id,))
        row = curs.fetchone()
        assert row is not None, f"{entity_id} has events before its creation"
        return row

    def _fact(
        self,
        curs: Cursor[DictRow],
        event: Any,
        kind: str,
        detail: str = "",
        area: str | None = None,
        amount: int = 1,
    ) -> None:
        if area is None:
            area = self._area(curs, event.originator_id)
        curs.execute(
            self.sql(
                "INSERT INTO {table}_facts"
                " (entity_id, version, kind, detail, area, at, month, amount)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (event.originator_id, event.originator_version, kind, detail, area,
             event.meta.effective_at, month_of(event.meta.effective_at), amount),
        )  # fmt: skip

    def _earliest(self, curs: Cursor[DictRow], event: Any, *columns: str) -> None:
        """Move the case's moments back to when this fact took effect, if it is earlier."""
        assignments = ", ".join(f"{c} = LEAST({c}, %(at)s)" for c in columns)
        curs.execute(
            self.sql(f"UPDATE {{table}}_cases SET {assignments} WHERE case_id = %(id)s"),
            {"at": event.meta.effective_at, "id": event.originator_id},
        )
        self._restate_stocks(curs, event.originator_id)

    def _restate_stocks(self, curs: Cursor[DictRow], case_id: Any) -> None:
        """Recompute the case's target-group and F05 intervals from all its facts so far."""
        curs.execute(self.sql("SELECT * FROM {table}_cases WHERE case_id = %s"), (case_id,))
        case = curs.fetchone()
        assert case is not None
        curs.execute(
            self.sql("SELECT version, at, added FROM {table}_tags WHERE case_id = %s"), (case_id,)
        )
        points = [(r["at"], r["version"], "tagged", r["added"]) for r in curs.fetchall()]
        for key, column in (
            ("open", "opened_at"), ("closed", "closed_at"), ("diagnosed", "diagnosed_at"),
            ("employed", "employed_at"), ("sickness_max", "sickness_max_at"),
        ):  # fmt: skip
            if case[column] is not None:
                points.append((case[column], 0, key, True))
        curs.execute(
            self.sql(
                "DELETE FROM {table}_spans WHERE case_id = %s AND kind IN ('target_group', 'f05')"
            ),
            (case_id,),
        )
        rows = [
            (case_id, kind, case["area"], since, until)
            for kind, holds in STOCKS.items()
            for since, until in spans(points, holds)
        ]
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_spans (case_id, kind, area, since, until)"
                    " VALUES (%s, %s, %s, %s, %s)"
                ),
                rows,
            )

    def _handoff(self, curs: Cursor[DictRow], event: Any) -> DictRow:
        curs.execute(
            self.sql("SELECT * FROM {table}_handoffs WHERE case_id = %s AND handoff_id = %s"),
            (event.originator_id, event.handoff_id),
        )
        row = curs.fetchone()
        assert row is not None, f"no handoff {event.handoff_id} in case {event.originator_id}"
        return row

    def _new_handoff(
        self, curs: Cursor[DictRow], event: Any, handoff_id: str, partner: str, area: str
    ) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {table}_handoffs (case_id, handoff_id, partner, area, requested_at)"
                " VALUES (%s, %s, %s, %s, %s)"
            ),
            (event.originator_id, handoff_id, partner, area, event.meta.effective_at),
        )
        self._fact(curs, event, "handoff_requested", partner, area)

    # Case events

    def _opened(self, curs: Cursor[DictRow], event: e.CaseOpened) -> None:
        curs.execute(
            self.sql("INSERT INTO {table}_cases (case_id, area, opened_at) VALUES (%s, %s, %s)"),
            (event.originator_id, event.area, event.meta.effective_at),
        )

    def _tag(self, curs: Cursor[DictRow], event: Any) -> None:
        added = isinstance(event, e.TasmatyoTagAdded)
        curs.execute(
            self.sql(
                "INSERT INTO {table}_tags (case_id, version, at, added) VALUES (%s, %s, %s, %s)"
            ),
            (event.originator_id, event.originator_version, event.meta.effective_at, added),
        )
        self._fact(curs, event, "tag_added" if added else "tag_removed")
        if added:
            self._earliest(curs, event, "identified_at")
        else:
            self._restate_stocks(curs, event.originator_id)

    def _diagnosis(self, curs: Cursor[DictRow], event: e.DiagnosisRecorded) -> None:
        # Only that (and when) a diagnosis took effect: never its class or the B statement's date.
        self._earliest(curs, event, "identified_at", "diagnosed_at")

    def _sickness(self, curs: Cursor[DictRow], event: e.SicknessAllowanceRecorded) -> None:
        days = event.days_used  # an erased client's comes back withheld, not as a number
        if isinstance(days, int) and days >= MAXIMUM_SICKNESS_DAYS:
            self._earliest(curs, event, "sickness_max_at")

    def _employment(self, curs: Cursor[DictRow], event: e.EmploymentStarted) -> None:
        paid = "with_pay_subsidy" if event.subsidy_id else "without_pay_subsidy"
        self._fact(curs, event, "employment", paid)
        self._earliest(curs, event, "employed_at")

    def _closed(self, curs: Cursor[DictRow], event: e.CaseClosed) -> None:
        self._earliest(curs, event, "closed_at")

    def _coaching(self, curs: Cursor[DictRow], event: Any) -> None:
        kind = {
            e.CoachingReferred: "referred",
            e.CoachingStarted: "started",
            e.CoachingCompleted: "completed",
            e.CoachingInterrupted: "interrupted",
        }[type(event)]
        self._fact(curs, event, "coaching", kind)

    def _referral(self, curs: Cursor[DictRow], event: e.JobReferralMade) -> None:
        self._fact(curs, event, "job_referral")

    def _subsidy_applied(self, curs: Cursor[DictRow], event: e.SubsidyApplied) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {table}_subsidies (case_id, subsidy_id, kind) VALUES (%s, %s, %s)"
            ),
            (event.originator_id, event.subsidy_id, event.kind),
        )

    def _subsidy_decided(self, curs: Cursor[DictRow], event: e.SubsidyDecided) -> None:
        curs.execute(
            self.sql("SELECT kind FROM {table}_subsidies WHERE case_id = %s AND subsidy_id = %s"),
            (event.originator_id, event.subsidy_id),
        )
        row = curs.fetchone()
        assert row is not None, f"no subsidy {event.subsidy_id} in case {event.originator_id}"
        decision = "granted" if event.granted else "denied"
        self._fact(curs, event, "subsidy_decision", f"{row['kind']}_{decision}")

    def _handoff_requested(self, curs: Cursor[DictRow], event: e.HandoffRequested) -> None:
        area = self._area(curs, event.originator_id)
        self._new_handoff(curs, event, event.handoff_id, event.partner, area)

    def _handoff_acknowledged(self, curs: Cursor[DictRow], event: e.HandoffAcknowledged) -> None:
        curs.execute(
            self.sql(
                "UPDATE {table}_handoffs SET acknowledged_at = %s"
                " WHERE case_id = %s AND handoff_id = %s"
            ),
            (event.meta.effective_at, event.originator_id, event.handoff_id),
        )

    def _handoff_moved(self, curs: Cursor[DictRow], event: Any) -> None:
        handoff = self._handoff(curs, event)
        partner, area = handoff["partner"], handoff["area"]
        if isinstance(event, e.HandoffCompleted):
            self._fact(curs, event, "handoff_completed", f"{partner}:{event.outcome}", area)
            return
        move = {
            e.HandoffAccepted: "accepted",
            e.HandoffRejected: "rejected",
            e.HandoffRedirected: "redirected",
        }[type(event)]
        self._fact(curs, event, f"handoff_{move}", partner, area)
        if isinstance(event, e.HandoffRedirected):
            self._new_handoff(curs, event, event.new_handoff_id, event.to_partner, area)

    def _stalled(self, curs: Cursor[DictRow], event: e.StepStalled) -> None:
        curs.execute(
            self.sql(
                "INSERT INTO {table}_spans (case_id, kind, step, item, area, since)"
                " VALUES (%s, 'stalled', %s, %s, %s, %s)"
            ),
            (event.originator_id, event.step, event.item or "",
             self._area(curs, event.originator_id), event.meta.effective_at),
        )  # fmt: skip

    def _stall_cleared(self, curs: Cursor[DictRow], event: e.StallCleared) -> None:
        curs.execute(
            self.sql(
                # Cleared by a fact back-dated before the stall: it never ran (an empty span).
                "UPDATE {table}_spans SET until = GREATEST(since, %s)"
                " WHERE case_id = %s AND kind = 'stalled'"
                " AND step = %s AND item = %s AND until IS NULL"
            ),
            (event.meta.effective_at, event.originator_id, event.step, event.item or ""),
        )

    # Employers and training sessions

    def _employer(self, curs: Cursor[DictRow], event: emp.EmployerRegistered) -> None:
        curs.execute(
            self.sql("INSERT INTO {table}_entities (entity_id, area) VALUES (%s, %s)"),
            (event.originator_id, event.area),
        )

    def _interest(self, curs: Cursor[DictRow], event: Any) -> None:
        kind = "added" if isinstance(event, emp.InterestTagAdded) else "removed"
        area = self._entity(curs, event.originator_id)["area"]
        self._fact(curs, event, f"interest_tag_{kind}", area=area)

    def _session(self, curs: Cursor[DictRow], event: tr.SessionPlanned) -> None:
        curs.execute(
            self.sql("INSERT INTO {table}_entities (entity_id, area, kind) VALUES (%s, %s, %s)"),
            (event.originator_id, event.area, event.kind),
        )

    def _held(self, curs: Cursor[DictRow], event: tr.SessionHeld) -> None:
        session = self._entity(curs, event.originator_id)
        self._fact(
            curs, event, "session_held", session["kind"], session["area"], event.participants
        )

    def _feedback(self, curs: Cursor[DictRow], event: tr.FeedbackRecorded) -> None:
        area = self._entity(curs, event.originator_id)["area"]
        self._fact(curs, event, "feedback", event.answer, area)


_HANDLERS: dict[type, Callable[[IndicatorViews, Cursor[DictRow], Any], None]] = {
    e.CaseOpened: IndicatorViews._opened,
    e.TasmatyoTagAdded: IndicatorViews._tag,
    e.TasmatyoTagRemoved: IndicatorViews._tag,
    e.DiagnosisRecorded: IndicatorViews._diagnosis,
    e.SicknessAllowanceRecorded: IndicatorViews._sickness,
    e.EmploymentStarted: IndicatorViews._employment,
    e.CaseClosed: IndicatorViews._closed,
    e.CoachingReferred: IndicatorViews._coaching,
    e.CoachingStarted: IndicatorViews._coaching,
    e.CoachingCompleted: IndicatorViews._coaching,
    e.CoachingInterrupted: IndicatorViews._coaching,
    e.JobReferralMade: IndicatorViews._referral,
    e.SubsidyApplied: IndicatorViews._subsidy_applied,
    e.SubsidyDecided: IndicatorViews._subsidy_decided,
    e.HandoffRequested: IndicatorViews._handoff_requested,
    e.HandoffAcknowledged: IndicatorViews._handoff_acknowledged,
    e.HandoffAccepted: IndicatorViews._handoff_moved,
    e.HandoffRejected: IndicatorViews._handoff_moved,
    e.HandoffRedirected: IndicatorViews._handoff_moved,
    e.HandoffCompleted: IndicatorViews._handoff_moved,
    e.StepStalled: IndicatorViews._stalled,
    e.StallCleared: IndicatorViews._stall_cleared,
    emp.EmployerRegistered: IndicatorViews._employer,
    emp.InterestTagAdded: IndicatorViews._interest,
    emp.InterestTagRemoved: IndicatorViews._interest,
    tr.SessionPlanned: IndicatorViews._session,
    tr.SessionHeld: IndicatorViews._held,
    tr.FeedbackRecorded: IndicatorViews._feedback,
}


# Stocks: which intervals a case's facts make.

Point = tuple[datetime, int, str, bool]
"""A fact bounding a stock: when it took effect, its version, what it sets and to what."""

STOCKS: dict[str, Callable[[dict[str, bool]], bool]] = {
    "target_group": lambda s: (
        s.get("open", False) and not s.get("closed") and (s.get("tagged") or s.get("diagnosed"))
    ),
    "f05": lambda s: (
        s.get("open", False) and not s.get("closed") and s.get("employed", False)
        and s.get("sickness_max", False)
    ),
}  # fmt: skip


def spans(
    points: Iterable[Point], holds: Callable[[dict[str, bool]], bool]
) -> list[tuple[datetime, datetime | None]]:
    """The intervals in which `holds` is true, the points folded in the order they took effect.

    Points taking effect at the same moment apply together, so an interval is never empty.
    """
    state: dict[str, bool] = {}
    found: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for at, group in groupby(sorted(points, key=lambda p: (p[0], p[1])), key=lambda p: p[0]):
        for _, _, key, value in group:
            state[key] = value
        if holds(state):
            since = since or at
        elif since is not None:
            found.append((since, at))
            since = None
    if since is not None:
        found.append((since, None))
    return found


# Reading: every indicator for a range of months.


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
    return date(int(match[1]), int(match[2]), 1) if match else None


def months_between(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """The first instant of the month in Helsinki, as a UTC time."""
    return datetime(month.year, month.month, 1, tzinfo=HELSINKI).astimezone(UTC)


def month_of(at: datetime) -> date:
    """The Helsinki month a moment falls in, as its first day."""
    return at.astimezone(HELSINKI).date().replace(day=1)


def label(month: date) -> str:
    return f"{month:%Y-%m}"


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
    # A median is not a sum of medians: the queries give the total rows of its own (area NULL).
    medians: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    month_sql = "to_char({col} AT TIME ZONE 'Europe/Helsinki', 'YYYY-MM')"
    params: dict[str, Any] = {
        "lo": month_start(months[0]),
        "hi": month_start(next_month(months[-1])),
        "area": area,
        "first": months[0],
        "last": months[-1],
        "labels": labels,
        "bounds": [month_start(next_month(m)) for m in months],
    }

    def where_area(column: str = "area") -> str:
        return f" AND {column} = %(area)s" if area else ""

    def add(row: DictRow, name: str, value: int) -> None:
        for where in (row["area"], TOTAL):
            if (where, row["month"]) in counts:
                counts[(where, row["month"])][name] += value

    def median(row: DictRow, name: str) -> None:
        where = TOTAL if row["every_area"] and not area else row["area"] or area
        medians[(where, row["month"])][name] = median_days(row["median"])

    with view.datastore.transaction(commit=False) as curs:
        # One snapshot for every query, and the position it includes.
        curs.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        curs.execute(
            SQL("SELECT max(notification_id) AS position FROM {}").format(
                Identifier(view.tracking_table_name)
            )
        )
        position = (curs.fetchone() or {}).get("position") or 0
        curs.execute(
            view.sql(
                "SELECT area, to_char(month, 'YYYY-MM') AS month, kind, detail,"
                " count(*) AS n, sum(amount) AS amount FROM {table}_facts"
                " WHERE month BETWEEN %(first)s AND %(last)s" + where_area() +
                " GROUP BY area, {table}_facts.month, kind, detail"
            ),
            params,
        )  # fmt: skip
        for row in curs.fetchall():
            for name, value in _flow(row["kind"], row["detail"], row["n"], row["amount"]):
                add(row, name, value)
        # Referrals and subsidy decisions of clients in the target group when they took effect.
        curs.execute(
            view.sql(
                "SELECT f.area, to_char(f.month, 'YYYY-MM') AS month, f.kind, f.detail,"
                " count(*) AS n FROM {table}_facts f"
                " WHERE f.kind IN ('job_referral', 'subsidy_decision')"
                " AND f.at >= %(lo)s AND f.at < %(hi)s" + where_area("f.area") +
                " AND EXISTS (SELECT 1 FROM {table}_spans s WHERE s.case_id = f.entity_id"
                " AND s.kind = 'target_group' AND s.since <= f.at"
                " AND (s.until IS NULL OR s.until > f.at))"
                " GROUP BY f.area, f.month, f.kind, f.detail"
            ),
            params,
        )  # fmt: skip
        for row in curs.fetchall():
            if row["kind"] == "job_referral":
                add(row, "job_referrals_target_group", row["n"])
            else:
                add(row, f"target_group_{row['detail']}", row["n"])
        # Stocks: the intervals that cover each month's last instant (a case is in one area, so
        # the distinct counts of the areas add up to the total's).
        curs.execute(
            view.sql(
                "SELECT s.area, me.month, s.kind, s.step, GROUPING(s.step) AS every_step,"
                " count(DISTINCT s.case_id) AS n"
                " FROM unnest(%(labels)s::text[], %(bounds)s::timestamptz[]) AS me(month, bound)"
                " JOIN {table}_spans s ON tstzrange(s.since, s.until, '(]') @> me.bound" +
                where_area("s.area") +
                " GROUP BY GROUPING SETS ((s.area, me.month, s.kind, s.step),"
                " (s.area, me.month, s.kind))"
            ),
            params,
        )  # fmt: skip
        for row in curs.fetchall():
            if row["kind"] != "stalled":
                if not row["every_step"]:
                    add(row, f"{row['kind']}_at_month_end", row["n"])
            elif row["every_step"]:
                add(row, "stalled_cases_at_month_end", row["n"])
            else:
                add(row, f"stalled_{row['step']}_at_month_end", row["n"])
        # Medians: from request to acknowledgement, and from opening to identification.
        curs.execute(
            view.sql(
                f"SELECT area, {month_sql.format(col='acknowledged_at')} AS month, partner,"
                " GROUPING(area) AS every_area, GROUPING(partner) AS every_partner,"
                " count(*) AS n, percentile_cont(0.5) WITHIN GROUP"
                " (ORDER BY extract(epoch FROM acknowledged_at - requested_at)) AS median"
                " FROM {table}_handoffs"
                " WHERE acknowledged_at >= %(lo)s AND acknowledged_at < %(hi)s" + where_area() +
                " GROUP BY GROUPING SETS ((area, month), (month), (area, month, partner),"
                " (month, partner))"
            ),
            params,
        )  # fmt: skip
        for row in curs.fetchall():
            if not row["every_partner"]:
                median(row, f"partner_response_median_days_{row['partner']}")
            else:
                median(row, "partner_response_median_days")
                if not row["every_area"]:
                    add(row, "partner_responses", row["n"])
        curs.execute(
            view.sql(
                f"SELECT area, {month_sql.format(col='identified_at')} AS month,"
                " GROUPING(area) AS every_area, count(*) AS n, percentile_cont(0.5) WITHIN GROUP"
                " (ORDER BY extract(epoch FROM identified_at - opened_at)) AS median"
                " FROM {table}_cases WHERE identified_at >= %(lo)s AND identified_at < %(hi)s" +
                where_area() + " GROUP BY GROUPING SETS ((area, month), (month))"
            ),
            params,
        )  # fmt: skip
        for row in curs.fetchall():
            median(row, "identification_median_days")
            if not row["every_area"]:
                add(row, "identifications", row["n"])

    names = indicator_names()
    result: dict[str, dict[str, dict[str, Any]]] = {a: {} for a in areas}
    for a in areas:
        for m in labels:
            row: dict[str, Any] = {n: counts[(a, m)][n] for n in names if n not in NULLABLE}
            for answer in ANSWERS:
                part = row[f"feedback_{answer}"]
                row[f"feedback_{answer}_share"] = share(part, row["feedback_answers"])
            found = medians.get((a, m), {})
            row |= {n: found.get(n) for n in names if "median_days" in n}
            result[a][m] = {n: row[n] for n in names}
    return Figures(position, result)


def _flow(kind: str, detail: str, n: int, amount: int) -> list[tuple[str, int]]:
    """The indicators one group of facts adds to."""
    if kind == "job_referral":
        return [("job_referrals", n)]
    if kind == "subsidy_decision":
        return [(detail, n)]
    if kind in ("tag_added", "tag_removed"):
        return [("tasmatyo_tags_" + kind.removeprefix("tag_"), n)]
    if kind.startswith("interest_tag_"):
        return [(f"employer_interest_tags_{kind.removeprefix('interest_tag_')}", n)]
    if kind == "coaching":
        return [(f"coaching_{detail}", n)]
    if kind == "employment":
        return [("employments_started", n), (f"employments_{detail}", n)]
    if kind == "session_held":
        return [(f"{detail}_sessions_held", n), ("session_participants", amount)]
    if kind == "feedback":
        return [("feedback_answers", n), (f"feedback_{detail}", n)]
    if kind.startswith("handoff_"):
        what = kind.removeprefix("handoff_")
        if what == "completed":
            partner, outcome = detail.split(":", 1)
            return [(f"handoffs_{partner}_completed_{outcome}", n)]
        return [(f"handoffs_{detail}_{what}", n)]
    raise ValueError(f"unknown fact {kind!r}")
