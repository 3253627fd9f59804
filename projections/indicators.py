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

from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow

from projections.indicator_batch import HANDLERS, IndicatorBatch
from projections.months import month_start, next_month
from projections.view import View, topics_of

TOTAL = "total"
SUBSIDY_KINDS = ("pay_subsidy", "work_arrangement_subsidy")
ANSWERS = ("useful", "partly_useful", "not_useful")
HANDOFF_MOVES = ("accepted", "rejected", "redirected")
AT_MONTH_END = "_at_month_end"


class IndicatorViews(View):
    name = "indicators"
    version = 2  # v2: monthly totals kept by the view, not summed when read
    topics = topics_of(*HANDLERS)
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
        """Apply the events; each touched case is restated, and the totals changed, once."""
        IndicatorBatch(self.sql, curs).apply(events)

    def settle(self, curs: Cursor[DictRow]) -> None:
        """Take the medians of the months marked stale again, each month in one pass."""
        curs.execute(self.sql("DELETE FROM {table}_stale_months RETURNING month"))
        for month in sorted(row["month"] for row in curs.fetchall()):
            lo, hi = month_start(month), month_start(next_month(month))
            bounds = {"month": month, "lo": lo, "hi": hi}
            curs.execute(self.sql("DELETE FROM {table}_medians WHERE month = %(month)s"), bounds)
            curs.execute(
                self.sql("INSERT INTO {table}_medians (kind, month, area, partner, n, median)")
                + self.sql(medians()),
                bounds,
            )


def medians(where: str = "") -> str:
    """The medians of each month from %(lo)s to %(hi)s, per area and partner and across them
    (area '' = every area, partner '' = every partner): from a handoff's request to its
    acknowledgement, and from a case's opening to its identification. `where` narrows both
    (` AND area = %(area)s`). Kept month by month by `settle`; taken when read for a range
    in which a month waits for it."""
    month = "date_trunc('month', {} AT TIME ZONE 'Europe/Helsinki')::date"
    return f"""
SELECT 'response' AS kind, {month.format("acknowledged_at")} AS month,
       COALESCE(area, '') AS area, COALESCE(partner, '') AS partner, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP
       (ORDER BY extract(epoch FROM acknowledged_at - requested_at)) AS median
FROM {{table}}_handoffs WHERE acknowledged_at >= %(lo)s AND acknowledged_at < %(hi)s{where}
GROUP BY GROUPING SETS ((area, month), (month), (area, month, partner), (month, partner))
UNION ALL
SELECT 'identification', {month.format("identified_at")} AS month, COALESCE(area, ''), '',
       count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM identified_at - opened_at))
FROM {{table}}_cases WHERE identified_at >= %(lo)s AND identified_at < %(hi)s{where}
GROUP BY GROUPING SETS ((area, month), (month))
"""
