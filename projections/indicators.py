"""The programme's indicators (mittarit, DOMAIN.md "Indicators"): monthly, per area and in total.

The view keeps dated facts and intervals, and from them each indicator's monthly total per area,
kept up to date event by event: a fact recorded late (back-dated with `effective_at`) restates the
month it took effect in, and the answer says how far into the log the view had read. A year of
one area is then a read of a few hundred rows, whatever the number of cases.

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

Tables: `totals` (area, month, indicator, value: what is read; for a stock, the month's change,
summed up to each month's end when read), `facts` (one row per flow fact: kind, detail, area, when,
its Helsinki month and, for referrals and decisions, whether the client was in the target group
then), `spans` (a case in the target group, in F05 or stalled on a step, from `since` until
`until`), `stock_changes` (each case's share of the stocks' changes: a stock is in a month-end
when since < the next month's start <= until, so a span adds one in the month of `since` and
takes it back in the month of `until`; a case's stalls are merged first, so it counts once),
`cases` and `tags` (the moments that bound a case's target-group and F05 spans, which are
recomputed from them whenever one changes, so a back-dated fact lands in its place, and the
case's referrals, decisions and stock changes are recounted with them), `handoffs` (requested and
acknowledged), `medians` (each month's, per area and partner and across them; a month whose
identifications or acknowledgements moved is listed in `stale_months` and its medians are taken
again by `settle`, once the view has caught up with the log), `subsidies` (their kind) and
`entities` (an employer's or session's area).

Health data: the view keeps no diagnosis class and no day count, only when a case was first
diagnosed and first reached the 300-day maximum, as the bounds of its intervals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Cursor
from psycopg.rows import DictRow

from casework.domain import employer as emp
from casework.domain import events as e
from casework.domain import training as tr
from projections.view import View

HELSINKI = ZoneInfo("Europe/Helsinki")
TOTAL = "total"
SUBSIDY_KINDS = ("pay_subsidy", "work_arrangement_subsidy")
ANSWERS = ("useful", "partly_useful", "not_useful")
HANDOFF_MOVES = ("accepted", "rejected", "redirected")
MAXIMUM_SICKNESS_DAYS = 300
AT_MONTH_END = "_at_month_end"


class IndicatorViews(View):
    name = "indicators"
    version = 2  # v2: monthly totals kept by the view, not summed when read
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
        "CREATE INDEX IF NOT EXISTS {table}_cases_identified"
        " ON {table}_cases (area, identified_at)",
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
            in_group boolean,
            PRIMARY KEY (entity_id, version, kind)
        )""",
        # What is read: each indicator's monthly total per area; a stock's as its changes.
        """CREATE TABLE IF NOT EXISTS {table}_totals (
            area text NOT NULL,
            month date NOT NULL,
            name text NOT NULL,
            value bigint NOT NULL,
            PRIMARY KEY (area, month, name)
        )""",
        # The medians of each month (area '' = every area, partner '' = every partner), and the
        # months whose medians changed since they were last taken.
        """CREATE TABLE IF NOT EXISTS {table}_medians (
            kind text NOT NULL,
            month date NOT NULL,
            area text NOT NULL,
            partner text NOT NULL,
            n integer NOT NULL,
            median double precision,
            PRIMARY KEY (kind, month, area, partner)
        )""",
        "CREATE TABLE IF NOT EXISTS {table}_stale_months (month date PRIMARY KEY)",
        # Each case's share of the stocks' changes, so a restated case can take its share back.
        """CREATE TABLE IF NOT EXISTS {table}_stock_changes (
            case_id uuid NOT NULL,
            name text NOT NULL,
            month date NOT NULL,
            delta integer NOT NULL,
            PRIMARY KEY (case_id, name, month)
        )""",
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
        "CREATE INDEX IF NOT EXISTS {table}_handoffs_ack"
        " ON {table}_handoffs (area, acknowledged_at)",
        # A month's medians are taken across the areas.
        "CREATE INDEX IF NOT EXISTS {table}_cases_identified_at ON {table}_cases (identified_at)",
        "CREATE INDEX IF NOT EXISTS {table}_handoffs_ack_at ON {table}_handoffs (acknowledged_at)",
        # Employers and training sessions: their area (and a session's kind).
        """CREATE TABLE IF NOT EXISTS {table}_entities (
            entity_id uuid PRIMARY KEY,
            area text NOT NULL,
            kind text NOT NULL DEFAULT ''
        )""",
    )

    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        self.apply_batch(curs, [event])

    def apply_batch(self, curs: Cursor[DictRow], events: list[Any]) -> None:
        """Apply the events; add what they change in the totals once for the batch."""
        self._changes: Counter[tuple[str, date, str]] = Counter()
        self._stale: set[date] = set()
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, curs, event)
        if self._stale:
            curs.executemany(
                self.sql("INSERT INTO {table}_stale_months VALUES (%s) ON CONFLICT DO NOTHING"),
                [(month,) for month in self._stale],
            )
        rows = [(area, month, name, n) for (area, month, name), n in self._changes.items() if n]
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_totals (area, month, name, value)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (area, month, name)"
                    " DO UPDATE SET value = {table}_totals.value + EXCLUDED.value"
                ),
                rows,
            )

    def _count(self, area: str, month: date, name: str, n: int = 1) -> None:
        self._changes[(area, month, name)] += n

    def _moved(self, *moments: datetime | None) -> None:
        """A median's input moved: the months of these moments need their medians taken again."""
        self._stale |= {month_of(at) for at in moments if at is not None}

    def settle(self, curs: Cursor[DictRow]) -> None:
        """Take the medians of the months marked stale again, each month in one pass."""
        curs.execute(self.sql("DELETE FROM {table}_stale_months RETURNING month"))
        for month in sorted(row["month"] for row in curs.fetchall()):
            lo, hi = month_start(month), month_start(next_month(month))
            bounds = {"month": month, "lo": lo, "hi": hi}
            curs.execute(self.sql("DELETE FROM {table}_medians WHERE month = %(month)s"), bounds)
            curs.execute(self.sql(MEDIANS_OF_MONTH), bounds)

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
        at = event.meta.effective_at
        month = month_of(at)
        in_group = None
        if kind in GROUP_FLOWS:  # counted apart for clients in the target group at the time
            curs.execute(
                self.sql(
                    "SELECT EXISTS (SELECT 1 FROM {table}_spans WHERE case_id = %s"
                    " AND kind = 'target_group' AND since <= %s"
                    " AND (until IS NULL OR until > %s)) AS in_group"
                ),
                (event.originator_id, at, at),
            )
            in_group = (curs.fetchone() or {})["in_group"]
            if in_group:
                self._count(area, month, _group_flow(kind, detail))
        curs.execute(
            self.sql(
                "INSERT INTO {table}_facts"
                " (entity_id, version, kind, detail, area, at, month, amount, in_group)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (event.originator_id, event.originator_version, kind, detail, area, at, month,
             amount, in_group),
        )  # fmt: skip
        for name, n in _flow(kind, detail, 1, amount):
            self._count(area, month, name, n)

    def _earliest(self, curs: Cursor[DictRow], event: Any, *columns: str) -> None:
        """Move the case's moments back to when this fact took effect, if it is earlier."""
        assignments = ", ".join(f"{c} = LEAST(c.{c}, %(at)s)" for c in columns)
        curs.execute(
            self.sql(
                f"UPDATE {{table}}_cases c SET {assignments}"
                " FROM (SELECT identified_at FROM {table}_cases WHERE case_id = %(id)s) AS was"
                " WHERE c.case_id = %(id)s"
                " RETURNING was.identified_at AS old, c.identified_at AS new"
            ),
            {"at": event.meta.effective_at, "id": event.originator_id},
        )
        identified = curs.fetchone()
        if identified and identified["old"] != identified["new"]:
            self._moved(identified["old"], identified["new"])
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
        group = [(since, until) for _, kind, _, since, until in rows if kind == "target_group"]
        self._regroup(curs, case_id, group)
        self._restate_changes(curs, case_id, case["area"])

    def _regroup(
        self, curs: Cursor[DictRow], case_id: Any, group: list[tuple[datetime, datetime | None]]
    ) -> None:
        """Recount the case's referrals and decisions whose target-group membership moved."""
        curs.execute(
            self.sql(
                "SELECT version, kind, detail, area, at, month, in_group FROM {table}_facts"
                " WHERE entity_id = %s AND kind = ANY(%s)"
            ),
            (case_id, list(GROUP_FLOWS)),
        )
        for fact in curs.fetchall():
            now_in = any(since <= fact["at"] and (until is None or until > fact["at"])
                         for since, until in group)  # fmt: skip
            if now_in != fact["in_group"]:
                name = _group_flow(fact["kind"], fact["detail"])
                self._count(fact["area"], fact["month"], name, 1 if now_in else -1)
                curs.execute(
                    self.sql(
                        "UPDATE {table}_facts SET in_group = %s"
                        " WHERE entity_id = %s AND version = %s AND kind = %s"
                    ),
                    (now_in, case_id, fact["version"], fact["kind"]),
                )

    def _restate_changes(self, curs: Cursor[DictRow], case_id: Any, area: str) -> None:
        """Replace the case's share of the stocks' monthly changes, and the totals with it."""
        curs.execute(
            self.sql("SELECT kind, step, since, until FROM {table}_spans WHERE case_id = %s"),
            (case_id,),
        )
        intervals: defaultdict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for span in curs.fetchall():
            if span["until"] is not None and span["until"] <= span["since"]:
                continue  # a stall cleared by a fact back-dated before it: it never ran
            if span["kind"] == "stalled":
                intervals[f"stalled_{span['step']}_at_month_end"].append(
                    (span["since"], span["until"])
                )
                intervals["stalled_cases_at_month_end"].append((span["since"], span["until"]))
            else:
                intervals[f"{span['kind']}_at_month_end"].append((span["since"], span["until"]))
        new: Counter[tuple[str, date]] = Counter()
        for name, found in intervals.items():
            for since, until in merged(found):
                new[(name, month_of(since))] += 1
                if until is not None:
                    new[(name, month_of(until))] -= 1
        curs.execute(
            self.sql(
                "DELETE FROM {table}_stock_changes WHERE case_id = %s RETURNING name, month, delta"
            ),
            (case_id,),
        )
        old = Counter({(r["name"], r["month"]): r["delta"] for r in curs.fetchall()})
        for key in new.keys() | old.keys():
            if difference := new[key] - old[key]:
                self._count(area, key[1], key[0], difference)
        rows = [(case_id, name, month, delta) for (name, month), delta in new.items() if delta]
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_stock_changes (case_id, name, month, delta)"
                    " VALUES (%s, %s, %s, %s)"
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
                "UPDATE {table}_handoffs h SET acknowledged_at = %(at)s"
                " FROM (SELECT acknowledged_at FROM {table}_handoffs"
                " WHERE case_id = %(id)s AND handoff_id = %(handoff)s) AS was"
                " WHERE h.case_id = %(id)s AND h.handoff_id = %(handoff)s"
                " RETURNING was.acknowledged_at AS old"
            ),
            {"at": event.meta.effective_at, "id": event.originator_id,
             "handoff": event.handoff_id},
        )  # fmt: skip
        acknowledged = curs.fetchone()
        self._moved(acknowledged["old"] if acknowledged else None, event.meta.effective_at)

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
        area = self._area(curs, event.originator_id)
        curs.execute(
            self.sql(
                "INSERT INTO {table}_spans (case_id, kind, step, item, area, since)"
                " VALUES (%s, 'stalled', %s, %s, %s, %s)"
            ),
            (event.originator_id, event.step, event.item or "", area, event.meta.effective_at),
        )
        self._restate_changes(curs, event.originator_id, area)

    def _stall_cleared(self, curs: Cursor[DictRow], event: e.StallCleared) -> None:
        area = self._area(curs, event.originator_id)
        curs.execute(
            self.sql(
                # Cleared by a fact back-dated before the stall: it never ran (an empty span).
                "UPDATE {table}_spans SET until = GREATEST(since, %s)"
                " WHERE case_id = %s AND kind = 'stalled'"
                " AND step = %s AND item = %s AND until IS NULL"
            ),
            (event.meta.effective_at, event.originator_id, event.step, event.item or ""),
        )
        self._restate_changes(curs, event.originator_id, area)

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


def merged(
    intervals: list[tuple[datetime, datetime | None]],
) -> list[tuple[datetime, datetime | None]]:
    """The union of intervals (since, until], open-ended when until is None."""
    found: list[tuple[datetime, datetime | None]] = []
    for since, until in sorted(intervals, key=lambda i: i[0]):
        if found and (found[-1][1] is None or since <= found[-1][1]):
            last_since, last_until = found[-1]
            longer = None if last_until is None or until is None else max(last_until, until)
            found[-1] = (last_since, longer)
        else:
            found.append((since, until))
    return found


def month_of(at: datetime) -> date:
    """The Helsinki month a moment falls in, as its first day."""
    return at.astimezone(HELSINKI).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """The first instant of the month in Helsinki, as a UTC time."""
    return datetime(month.year, month.month, 1, tzinfo=HELSINKI).astimezone(UTC)


# One month's medians, as kept: from a handoff's request to its acknowledgement (per area and
# partner, and across them) and from a case's opening to its identification (per area and across).
MEDIANS_OF_MONTH = """
INSERT INTO {table}_medians (kind, month, area, partner, n, median)
SELECT 'response', %(month)s, COALESCE(area, ''), COALESCE(partner, ''), count(*),
       percentile_cont(0.5) WITHIN GROUP
       (ORDER BY extract(epoch FROM acknowledged_at - requested_at))
FROM {table}_handoffs WHERE acknowledged_at >= %(lo)s AND acknowledged_at < %(hi)s
GROUP BY GROUPING SETS ((area), (), (area, partner), (partner))
UNION ALL
SELECT 'identification', %(month)s, COALESCE(area, ''), '', count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM identified_at - opened_at))
FROM {table}_cases WHERE identified_at >= %(lo)s AND identified_at < %(hi)s
GROUP BY GROUPING SETS ((area), ())
"""


GROUP_FLOWS = ("job_referral", "subsidy_decision")


def _group_flow(kind: str, detail: str) -> str:
    """The indicator a referral or decision adds to when the client is in the target group."""
    return "job_referrals_target_group" if kind == "job_referral" else f"target_group_{detail}"


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
