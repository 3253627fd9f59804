"""How a batch of events changes the indicator tables (`projections.indicators` describes them).

A batch reads the rows it needs once, at its start: its cases, employers and sessions, subsidies,
handoffs and stalls. It then folds its events in memory, collecting what they add and change. At
its end it writes each kind of row with one executemany, then restates once each case whose
stocks, target-group flows or stalls moved, from all of the case's facts so far, so a back-dated
fact lands in its place. A batch waits for the server a couple of dozen times, not once or more
per event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from itertools import groupby
from typing import Any

from psycopg import Cursor
from psycopg.rows import DictRow

from casework.domain import employer as emp
from casework.domain import events as e
from casework.domain import training as tr
from casework.domain.state import MAX_SICKNESS_DAYS, identified
from projections.months import month_of

GROUP_FLOWS = ("job_referral", "subsidy_decision")
# The moments in a case's row that bound its stocks, and what each sets.
MOMENTS = {
    "opened_at": "open",
    "closed_at": "closed",
    "diagnosed_at": "diagnosed",
    "employed_at": "employed",
    "sickness_max_at": "sickness_max",
}
UPDATED_MOMENTS = ("identified_at", "diagnosed_at", "employed_at", "sickness_max_at", "closed_at")
Interval = tuple[datetime, datetime | None]


class IndicatorBatch:
    def __init__(self, sql: Callable[[str], str], curs: Cursor[DictRow]) -> None:
        """`sql` names the view's tables in a statement (`View.sql`)."""
        self.sql, self.curs = sql, curs
        # What is added to each (area, month, indicator), and months whose medians moved.
        self.changes: Counter[tuple[str, date, str]] = Counter()
        self.stale: set[date] = set()
        self.cases: dict[Any, dict[str, Any]] = {}
        self.entities: dict[Any, dict[str, Any]] = {}
        self.subsidies: dict[tuple[Any, str], str] = {}
        self.handoffs: dict[tuple[Any, str], dict[str, Any]] = {}
        self.stalls: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
        # What the batch adds: rows to insert, and which of the rows read it changed.
        self.facts: list[tuple[Any, ...]] = []
        self.tags: list[tuple[Any, ...]] = []
        self.new: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.opened: list[Any] = []
        self.moved: set[Any] = set()  # cases whose moments changed
        self.acknowledged: set[tuple[Any, str]] = set()
        self.restate: set[Any] = set()

    def apply(self, events: list[Any]) -> None:
        self._read({event.originator_id for event in events})
        for event in events:
            handler = HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)
        self._write_collected()
        if self.restate:
            self._restate(list(self.restate))
        self._write_totals()

    # Reading and writing

    def _select(self, statement: str, *params: Any) -> list[DictRow]:
        self.curs.execute(self.sql(statement), params)
        return self.curs.fetchall()

    def _by_case(self, statement: str, *params: Any) -> defaultdict[Any, list[DictRow]]:
        """The rows a query finds, by the case (their first column) they belong to."""
        found: defaultdict[Any, list[DictRow]] = defaultdict(list)
        for row in self._select(statement, *params):
            found[next(iter(row.values()))].append(row)
        return found

    def _write(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.curs.executemany(self.sql(statement), rows)

    def _read(self, ids: set[Any]) -> None:
        ids_ = list(ids)
        for row in self._select("SELECT * FROM {table}_cases WHERE case_id = ANY(%s)", ids_):
            self.cases[row["case_id"]] = dict(row)
        for row in self._select("SELECT * FROM {table}_entities WHERE entity_id = ANY(%s)", ids_):
            self.entities[row["entity_id"]] = row
        for row in self._select(
            "SELECT case_id, subsidy_id, kind FROM {table}_subsidies WHERE case_id = ANY(%s)", ids_
        ):
            self.subsidies[(row["case_id"], row["subsidy_id"])] = row["kind"]
        for row in self._select(
            "SELECT case_id, handoff_id, partner, area, acknowledged_at FROM {table}_handoffs"
            " WHERE case_id = ANY(%s)",
            ids_,
        ):
            self.handoffs[(row["case_id"], row["handoff_id"])] = dict(
                row, new=False, acknowledged=False
            )
        for row in self._select(
            "SELECT case_id, step, item, since, until FROM {table}_spans"
            " WHERE case_id = ANY(%s) AND kind = 'stalled'",
            ids_,
        ):
            self.stalls[row["case_id"]].append(dict(row, new=False, cleared=False))

    def _write_collected(self) -> None:
        """Write what the batch added or changed, each kind of row with one executemany."""
        opened = set(self.opened)
        self._write(
            "INSERT INTO {table}_cases (case_id, area, opened_at, identified_at, diagnosed_at,"
            " employed_at, sickness_max_at, closed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(case_id, self.cases[case_id]["area"], self.cases[case_id]["opened_at"],
              *self._moments(case_id)) for case_id in self.opened],
        )  # fmt: skip
        self._write(
            "UPDATE {table}_cases SET identified_at = %s, diagnosed_at = %s, employed_at = %s,"
            " sickness_max_at = %s, closed_at = %s WHERE case_id = %s",
            [(*self._moments(case_id), case_id) for case_id in self.moved - opened],
        )
        self._write(
            "INSERT INTO {table}_tags (case_id, version, at, added) VALUES (%s, %s, %s, %s)",
            self.tags,
        )
        self._write(
            "INSERT INTO {table}_facts"
            " (entity_id, version, kind, detail, area, at, month, amount, in_group)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL)",
            self.facts,
        )
        self._write(
            "INSERT INTO {table}_subsidies (case_id, subsidy_id, kind) VALUES (%s, %s, %s)",
            self.new["subsidies"],
        )
        self._write(
            "INSERT INTO {table}_entities (entity_id, area, kind) VALUES (%s, %s, %s)",
            self.new["entities"],
        )
        handoffs = self.handoffs.values()
        self._write(
            "INSERT INTO {table}_handoffs (case_id, handoff_id, partner, area, requested_at,"
            " acknowledged_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(h["case_id"], h["handoff_id"], h["partner"], h["area"], h["requested_at"],
              h["acknowledged_at"]) for h in handoffs if h["new"]],
        )  # fmt: skip
        self._write(
            "UPDATE {table}_handoffs SET acknowledged_at = %s"
            " WHERE case_id = %s AND handoff_id = %s",
            [(h["acknowledged_at"], h["case_id"], h["handoff_id"])
             for h in handoffs if h["acknowledged"] and not h["new"]],
        )  # fmt: skip
        stalls = [(case_id, stall) for case_id, found in self.stalls.items() for stall in found]
        self._write(
            "INSERT INTO {table}_spans (case_id, kind, step, item, area, since, until)"
            " VALUES (%s, 'stalled', %s, %s, %s, %s, %s)",
            [(case_id, st["step"], st["item"], self.cases[case_id]["area"], st["since"],
              st["until"]) for case_id, st in stalls if st["new"]],
        )  # fmt: skip
        self._write(
            "UPDATE {table}_spans SET until = %s WHERE case_id = %s AND kind = 'stalled'"
            " AND step = %s AND item = %s AND since = %s AND until IS NULL",
            [(st["until"], case_id, st["step"], st["item"], st["since"])
             for case_id, st in stalls if st["cleared"] and not st["new"]],
        )  # fmt: skip

    def _moments(self, case_id: Any) -> tuple[datetime | None, ...]:
        """The case's moments, in the order the statements above name them."""
        case = self.cases[case_id]
        return tuple(case[c] for c in UPDATED_MOMENTS)

    def _write_totals(self) -> None:
        self._write(
            "INSERT INTO {table}_stale_months VALUES (%s) ON CONFLICT DO NOTHING",
            [(month,) for month in self.stale],
        )
        self._write(
            "INSERT INTO {table}_totals (area, month, name, value) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (area, month, name) DO UPDATE SET value = {table}_totals.value"
            " + EXCLUDED.value",
            [(area, month, name, n) for (area, month, name), n in self.changes.items() if n],
        )

    def _count(self, area: str, month: date, name: str, n: int = 1) -> None:
        self.changes[(area, month, name)] += n

    def _moved(self, *moments: datetime | None) -> None:
        """A median's input moved: the months of these moments need their medians taken again."""
        self.stale |= {month_of(at) for at in moments if at is not None}

    def _case(self, event: Any) -> dict[str, Any]:
        case = self.cases.get(event.originator_id)
        assert case is not None, f"case {event.originator_id} has events before its opening"
        return case

    def _entity(self, event: Any) -> dict[str, Any]:
        entity = self.entities.get(event.originator_id)
        assert entity is not None, f"{event.originator_id} has events before its creation"
        return entity

    def _fact(
        self, event: Any, kind: str, detail: str = "", area: str | None = None, amount: int = 1
    ) -> None:
        if area is None:
            area = self._case(event)["area"]
        at = event.meta.effective_at
        month = month_of(at)
        if kind in GROUP_FLOWS:  # counted apart when the client is in the target group then
            self.restate.add(event.originator_id)
        self.facts.append(
            (event.originator_id, event.originator_version, kind, detail, area, at, month, amount)
        )
        for name, n in flow(kind, detail, 1, amount):
            self._count(area, month, name, n)

    def _earliest(self, event: Any, *columns: str) -> None:
        """Move the case's moments back to when this fact took effect, if it is earlier."""
        case, at = self._case(event), event.meta.effective_at
        for column in columns:
            if case[column] is None or at < case[column]:
                if column == "identified_at":
                    self._moved(case[column], at)
                case[column] = at
                self.moved.add(event.originator_id)
        self.restate.add(event.originator_id)

    # Restating cases

    def _restate(self, ids: list[Any]) -> None:
        """Recompute the cases' target-group and F05 intervals from all their facts so far, the
        target-group flows whose membership moved and the cases' share of the stocks' changes."""
        tags = self._by_case(
            "SELECT case_id, version, at, added FROM {table}_tags WHERE case_id = ANY(%s)", ids
        )
        facts = self._by_case(
            "SELECT entity_id, version, kind, detail, area, at, month, in_group FROM {table}_facts"
            " WHERE entity_id = ANY(%s) AND kind = ANY(%s)",
            ids,
            list(GROUP_FLOWS),
        )
        old: defaultdict[Any, Counter[tuple[str, date]]] = defaultdict(Counter)
        for row in self._select(
            "DELETE FROM {table}_stock_changes WHERE case_id = ANY(%s)"
            " RETURNING case_id, name, month, delta",
            ids,
        ):
            old[row["case_id"]][(row["name"], row["month"])] = row["delta"]
        self.curs.execute(
            self.sql(
                "DELETE FROM {table}_spans WHERE case_id = ANY(%s)"
                " AND kind IN ('target_group', 'f05')"
            ),
            (ids,),
        )
        span_rows, regrouped, change_rows = [], [], []
        for case_id in ids:
            case = self.cases[case_id]
            points = [(t["at"], t["version"], "tagged", t["added"]) for t in tags[case_id]]
            points += [(case[c], 0, key, True) for c, key in MOMENTS.items() if case[c]]
            stocks = {kind: spans(points, holds) for kind, holds in STOCKS.items()}
            span_rows += [
                (case_id, kind, case["area"], since, until)
                for kind, found in stocks.items()
                for since, until in found
            ]
            regrouped += self._regroup(case_id, facts[case_id], stocks["target_group"])
            change_rows += self._restate_changes(case, stocks, self.stalls[case_id], old[case_id])
        self._write(
            "INSERT INTO {table}_spans (case_id, kind, area, since, until)"
            " VALUES (%s, %s, %s, %s, %s)",
            span_rows,
        )
        self._write(
            "UPDATE {table}_facts SET in_group = %s"
            " WHERE entity_id = %s AND version = %s AND kind = %s",
            regrouped,
        )
        self._write(
            "INSERT INTO {table}_stock_changes (case_id, name, month, delta)"
            " VALUES (%s, %s, %s, %s)",
            change_rows,
        )

    def _regroup(
        self, case_id: Any, facts: list[DictRow], group: list[Interval]
    ) -> list[tuple[Any, ...]]:
        """Count the case's referrals and decisions whose target-group membership moved (a new
        fact's is not yet known, so it is not yet counted); the facts to update."""
        updates = []
        for fact in facts:
            now_in = any(since <= fact["at"] and (until is None or until > fact["at"])
                         for since, until in group)  # fmt: skip
            if now_in != bool(fact["in_group"]):
                name = group_flow(fact["kind"], fact["detail"])
                self._count(fact["area"], fact["month"], name, 1 if now_in else -1)
            if fact["in_group"] is not now_in:
                updates.append((now_in, case_id, fact["version"], fact["kind"]))
        return updates

    def _restate_changes(
        self,
        case: dict[str, Any],
        stocks: dict[str, list[Interval]],
        stalls: list[dict[str, Any]],
        old: Counter[tuple[str, date]],
    ) -> list[tuple[Any, ...]]:
        """Count the change in the case's share of the stocks' monthly changes; its new rows."""
        intervals: defaultdict[str, list[Interval]] = defaultdict(list)
        for kind, found in stocks.items():
            intervals[f"{kind}_at_month_end"] += found
        for stall in stalls:
            if stall["until"] is not None and stall["until"] <= stall["since"]:
                continue  # a stall cleared by a fact back-dated before it: it never ran
            interval = (stall["since"], stall["until"])
            intervals[f"stalled_{stall['step']}_at_month_end"].append(interval)
            intervals["stalled_cases_at_month_end"].append(interval)
        new: Counter[tuple[str, date]] = Counter()
        for name, found in intervals.items():
            for since, until in merged(found):
                new[(name, month_of(since))] += 1
                if until is not None:
                    new[(name, month_of(until))] -= 1
        for key in new.keys() | old.keys():
            if difference := new[key] - old[key]:
                self._count(case["area"], key[1], key[0], difference)
        return [(case["case_id"], name, month, n) for (name, month), n in new.items() if n]

    # Case events

    def _opened(self, event: e.CaseOpened) -> None:
        self.cases[event.originator_id] = {
            "case_id": event.originator_id, "area": event.area,
            "opened_at": event.meta.effective_at,
        } | dict.fromkeys(UPDATED_MOMENTS)  # fmt: skip
        self.opened.append(event.originator_id)

    def _tag(self, event: Any) -> None:
        added = isinstance(event, e.TasmatyoTagAdded)
        at = event.meta.effective_at
        self.tags.append((event.originator_id, event.originator_version, at, added))
        self._fact(event, "tag_added" if added else "tag_removed")
        if added:
            self._earliest(event, "identified_at")
        else:
            self.restate.add(event.originator_id)

    def _diagnosis(self, event: e.DiagnosisRecorded) -> None:
        # Only that (and when) a diagnosis took effect: never its class or the B statement's date.
        self._earliest(event, "identified_at", "diagnosed_at")

    def _sickness(self, event: e.SicknessAllowanceRecorded) -> None:
        days = event.days_used  # an erased client's comes back withheld, not as a number
        if isinstance(days, int) and days >= MAX_SICKNESS_DAYS:
            self._earliest(event, "sickness_max_at")

    def _employment(self, event: e.EmploymentStarted) -> None:
        paid = "with_pay_subsidy" if event.subsidy_id else "without_pay_subsidy"
        self._fact(event, "employment", paid)
        self._earliest(event, "employed_at")

    def _closed(self, event: e.CaseClosed) -> None:
        self._earliest(event, "closed_at")

    def _coaching(self, event: Any) -> None:
        kind = {
            e.CoachingReferred: "referred",
            e.CoachingStarted: "started",
            e.CoachingCompleted: "completed",
            e.CoachingInterrupted: "interrupted",
        }[type(event)]
        self._fact(event, "coaching", kind)

    def _referral(self, event: e.JobReferralMade) -> None:
        self._fact(event, "job_referral")

    def _subsidy_applied(self, event: e.SubsidyApplied) -> None:
        self.new["subsidies"].append((event.originator_id, event.subsidy_id, event.kind))
        self.subsidies[(event.originator_id, event.subsidy_id)] = event.kind

    def _subsidy_decided(self, event: e.SubsidyDecided) -> None:
        kind = self.subsidies.get((event.originator_id, event.subsidy_id))
        assert kind is not None, f"no subsidy {event.subsidy_id} in case {event.originator_id}"
        decision = "granted" if event.granted else "denied"
        self._fact(event, "subsidy_decision", f"{kind}_{decision}")

    def _handoff_requested(self, event: e.HandoffRequested) -> None:
        self._new_handoff(event, event.handoff_id, event.partner, self._case(event)["area"])

    def _new_handoff(self, event: Any, handoff_id: str, partner: str, area: str) -> None:
        self.handoffs[(event.originator_id, handoff_id)] = {
            "case_id": event.originator_id, "handoff_id": handoff_id, "partner": partner,
            "area": area, "requested_at": event.meta.effective_at, "acknowledged_at": None,
            "new": True, "acknowledged": False,
        }  # fmt: skip
        self._fact(event, "handoff_requested", partner, area)

    def _handoff_acknowledged(self, event: e.HandoffAcknowledged) -> None:
        at = event.meta.effective_at
        self._moved(at)
        handoff = self.handoffs.get((event.originator_id, event.handoff_id))
        if handoff is not None:
            self._moved(handoff["acknowledged_at"])
            handoff.update(acknowledged_at=at, acknowledged=True)

    def _handoff_moved(self, event: Any) -> None:
        handoff = self.handoffs.get((event.originator_id, event.handoff_id))
        assert handoff is not None, f"no handoff {event.handoff_id} in case {event.originator_id}"
        partner, area = handoff["partner"], handoff["area"]
        if isinstance(event, e.HandoffCompleted):
            self._fact(event, "handoff_completed", f"{partner}:{event.outcome}", area)
            return
        move = {
            e.HandoffAccepted: "accepted",
            e.HandoffRejected: "rejected",
            e.HandoffRedirected: "redirected",
        }[type(event)]
        self._fact(event, f"handoff_{move}", partner, area)
        if isinstance(event, e.HandoffRedirected):
            self._new_handoff(event, event.new_handoff_id, event.to_partner, area)

    def _stalled(self, event: e.StepStalled) -> None:
        self._case(event)
        self.stalls[event.originator_id].append({
            "step": event.step, "item": event.item or "", "since": event.meta.effective_at,
            "until": None, "new": True, "cleared": False,
        })  # fmt: skip
        self.restate.add(event.originator_id)

    def _stall_cleared(self, event: e.StallCleared) -> None:
        self._case(event)
        for stall in self.stalls[event.originator_id]:
            if (stall["step"], stall["item"]) == (event.step, event.item or "") and (
                stall["until"] is None
            ):
                # Cleared by a fact back-dated before the stall: it never ran (an empty span).
                stall.update(until=max(stall["since"], event.meta.effective_at), cleared=True)
        self.restate.add(event.originator_id)

    # Employers and training sessions

    def _employer(self, event: emp.EmployerRegistered) -> None:
        self._new_entity(event, event.area, "")

    def _session(self, event: tr.SessionPlanned) -> None:
        self._new_entity(event, event.area, event.kind)

    def _new_entity(self, event: Any, area: str, kind: str) -> None:
        self.new["entities"].append((event.originator_id, area, kind))
        self.entities[event.originator_id] = {"area": area, "kind": kind}

    def _interest(self, event: Any) -> None:
        kind = "added" if isinstance(event, emp.InterestTagAdded) else "removed"
        self._fact(event, f"interest_tag_{kind}", area=self._entity(event)["area"])

    def _held(self, event: tr.SessionHeld) -> None:
        session = self._entity(event)
        self._fact(event, "session_held", session["kind"], session["area"], event.participants)

    def _feedback(self, event: tr.FeedbackRecorded) -> None:
        self._fact(event, "feedback", event.answer, self._entity(event)["area"])


HANDLERS: dict[type, Callable[[IndicatorBatch, Any], None]] = {
    e.CaseOpened: IndicatorBatch._opened,
    e.TasmatyoTagAdded: IndicatorBatch._tag,
    e.TasmatyoTagRemoved: IndicatorBatch._tag,
    e.DiagnosisRecorded: IndicatorBatch._diagnosis,
    e.SicknessAllowanceRecorded: IndicatorBatch._sickness,
    e.EmploymentStarted: IndicatorBatch._employment,
    e.CaseClosed: IndicatorBatch._closed,
    e.CoachingReferred: IndicatorBatch._coaching,
    e.CoachingStarted: IndicatorBatch._coaching,
    e.CoachingCompleted: IndicatorBatch._coaching,
    e.CoachingInterrupted: IndicatorBatch._coaching,
    e.JobReferralMade: IndicatorBatch._referral,
    e.SubsidyApplied: IndicatorBatch._subsidy_applied,
    e.SubsidyDecided: IndicatorBatch._subsidy_decided,
    e.HandoffRequested: IndicatorBatch._handoff_requested,
    e.HandoffAcknowledged: IndicatorBatch._handoff_acknowledged,
    e.HandoffAccepted: IndicatorBatch._handoff_moved,
    e.HandoffRejected: IndicatorBatch._handoff_moved,
    e.HandoffRedirected: IndicatorBatch._handoff_moved,
    e.HandoffCompleted: IndicatorBatch._handoff_moved,
    e.StepStalled: IndicatorBatch._stalled,
    e.StallCleared: IndicatorBatch._stall_cleared,
    emp.EmployerRegistered: IndicatorBatch._employer,
    emp.InterestTagAdded: IndicatorBatch._interest,
    emp.InterestTagRemoved: IndicatorBatch._interest,
    tr.SessionPlanned: IndicatorBatch._session,
    tr.SessionHeld: IndicatorBatch._held,
    tr.FeedbackRecorded: IndicatorBatch._feedback,
}


# Stocks: which intervals a case's facts make.

Point = tuple[datetime, int, str, bool]
"""A fact bounding a stock: when it took effect, its version, what it sets and to what."""

STOCKS: dict[str, Callable[[dict[str, bool]], bool]] = {
    "target_group": lambda s: (
        s.get("open", False) and not s.get("closed")
        and identified(s.get("tagged", False), s.get("diagnosed", False))
    ),
    "f05": lambda s: (
        s.get("open", False) and not s.get("closed") and s.get("employed", False)
        and s.get("sickness_max", False)
    ),
}  # fmt: skip


def spans(points: Iterable[Point], holds: Callable[[dict[str, bool]], bool]) -> list[Interval]:
    """The intervals in which `holds` is true, the points folded in the order they took effect.

    Points taking effect at the same moment apply together, so an interval is never empty.
    """
    state: dict[str, bool] = {}
    found: list[Interval] = []
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


def merged(intervals: list[Interval]) -> list[Interval]:
    """The union of intervals (since, until], open-ended when until is None."""
    found: list[Interval] = []
    for since, until in sorted(intervals, key=lambda i: i[0]):
        if found and (found[-1][1] is None or since <= found[-1][1]):
            last_since, last_until = found[-1]
            longer = None if last_until is None or until is None else max(last_until, until)
            found[-1] = (last_since, longer)
        else:
            found.append((since, until))
    return found


def group_flow(kind: str, detail: str) -> str:
    """The indicator a referral or decision adds to when the client is in the target group."""
    return "job_referrals_target_group" if kind == "job_referral" else f"target_group_{detail}"


def flow(kind: str, detail: str, n: int, amount: int) -> list[tuple[str, int]]:
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
