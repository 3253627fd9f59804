"""The views staff, coordinators and partners work from, folded from each case's events.

One projection keeps three tables in step, in one transaction per event: the case list, the
waiting steps with their deadlines (stalled ones and those at risk), and the partners' inboxes
(every handoff as the partner's task, filed under its state: `domain/tasks.py`). The case's plain
state is folded with the domain's own `evolve`, so the views can never disagree with the
aggregate. Health data stays out: sickness-allowance days are not kept, and an inbox row points
at the sealed event holding the handoff's payload instead of copying it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from casework.domain import events as e
from casework.domain import stalls
from casework.domain.policy import StallPolicy
from casework.domain.rules import waiting_steps
from casework.domain.state import CaseState
from casework.domain.tasks import task_state
from projections.changes import Change, Stalled, Task
from projections.view import View, topics_of


class CaseViews(View):
    name = "cases"
    # 3: the state keeps when tags, diagnoses, self-assessments and stalls took effect; the
    # queue shows who acknowledged a stall; the inbox keeps every handoff, with its task state
    version = 3
    topics = topics_of(e.CaseOpened, e.CaseEvent)
    ddl = (
        """CREATE TABLE IF NOT EXISTS {table} (
            case_id uuid PRIMARY KEY,
            area text NOT NULL,
            team text NOT NULL,
            assignee text,
            stage text NOT NULL,
            tasmatyo boolean NOT NULL,
            grp text,
            tracks jsonb NOT NULL,
            opened_at timestamptz NOT NULL,
            last_activity timestamptz NOT NULL,
            version integer NOT NULL,
            applied integer NOT NULL DEFAULT 1,
            state jsonb NOT NULL,
            search text NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_area ON {table} (area, stage, last_activity)",
        """CREATE TABLE IF NOT EXISTS {table}_waits (
            case_id uuid NOT NULL,
            step text NOT NULL,
            item text NOT NULL DEFAULT '',
            area text NOT NULL,
            team text NOT NULL,
            partner text,
            waiting_on text NOT NULL,
            since timestamptz NOT NULL,
            due timestamptz NOT NULL,
            stalled boolean NOT NULL,
            escalated boolean NOT NULL,
            acknowledged_by text,
            acknowledged_at timestamptz,
            PRIMARY KEY (case_id, step, item)
        )""",
        # The queue's order within an area: stalled first, oldest first.
        "CREATE INDEX IF NOT EXISTS {table}_waits_queue"
        " ON {table}_waits (area, stalled DESC, since, case_id)",
        """CREATE TABLE IF NOT EXISTS {table}_inbox (
            case_id uuid NOT NULL,
            handoff_id text NOT NULL,
            partner text NOT NULL,
            status text NOT NULL,
            state text NOT NULL,
            active boolean NOT NULL,
            area text NOT NULL,
            since timestamptz NOT NULL,
            requested_version integer NOT NULL,
            shares jsonb NOT NULL,
            step text,
            waiting_on text,
            due timestamptz,
            PRIMARY KEY (case_id, handoff_id)
        )""",
        # A partner's pages: the work in hand (every state but closed), or one state.
        "CREATE INDEX IF NOT EXISTS {table}_inbox_active"
        " ON {table}_inbox (partner, active, since, case_id, handoff_id)",
        "CREATE INDEX IF NOT EXISTS {table}_inbox_state"
        " ON {table}_inbox (partner, state, since, case_id, handoff_id)",
    )

    def __init__(self, datastore: Any, policy: StallPolicy, suffix: str = "") -> None:
        super().__init__(datastore, suffix)
        self.policy = policy

    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        self.apply_batch(curs, [event])

    def apply_batch(self, curs: Cursor[DictRow], events: list[Any]) -> list[Change]:
        """Fold the events into their cases' states in memory; write each case's rows once.
        Returns what changed for live streams: each touched case, its stalled steps and the
        partners' tasks whose rows changed."""
        events = [event for event in events if isinstance(event, e.CaseEvent | e.CaseOpened)]
        states = self._states(curs, {ev.originator_id for ev in events})
        applied: dict[str, int] = {}
        handoffs = _Handoffs()
        for event in events:
            state = e.fold(states.get(str(event.originator_id)), event)
            state.sickness_days_used = None  # health data: the list has no need of it
            states[state.case_id] = state
            applied[state.case_id] = applied.get(state.case_id, 0) + 1
            handoffs.note(state.case_id, event)
        touched = [states[case_id] for case_id in applied]
        if not touched:
            return []
        self._write_cases(curs, touched, applied)
        stalled = self._write_waits(curs, touched)
        tasks = self._write_inbox(curs, touched, handoffs)
        return [
            Change(s.case_id, s.version, s.area, s.team, stalled.get(s.case_id, []),
                   tasks.get(s.case_id, []))
            for s in touched
        ]  # fmt: skip

    def _states(self, curs: Cursor[DictRow], case_ids: set[Any]) -> dict[str, CaseState]:
        curs.execute(
            self.sql("SELECT case_id, state FROM {table} WHERE case_id = ANY(%s)"),
            (list(case_ids),),
        )
        return {str(r["case_id"]): msgspec.convert(r["state"], CaseState) for r in curs.fetchall()}

    def _write_cases(
        self, curs: Cursor[DictRow], states: list[CaseState], applied: dict[str, int]
    ) -> None:
        curs.executemany(
            self.sql(
                "INSERT INTO {table} (case_id, area, team, assignee, stage, tasmatyo, grp, tracks,"
                " opened_at, last_activity, version, applied, state, search)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (case_id) DO UPDATE SET area = EXCLUDED.area,"
                " team = EXCLUDED.team, assignee = EXCLUDED.assignee, stage = EXCLUDED.stage,"
                " tasmatyo = EXCLUDED.tasmatyo, grp = EXCLUDED.grp, tracks = EXCLUDED.tracks,"
                " last_activity = EXCLUDED.last_activity, version = EXCLUDED.version,"
                " applied = {table}.applied + EXCLUDED.applied,"
                " state = EXCLUDED.state, search = EXCLUDED.search"
            ),
            [self._case_row(state, applied[state.case_id]) for state in states],
        )

    @staticmethod
    def _case_row(state: CaseState, applied: int) -> tuple[Any, ...]:
        tracks = {
            "coaching": [c.status for c in state.coaching],
            "referrals": [r.status for r in state.referrals],
            "subsidies": [f"{s.kind}:{s.status}" for s in state.subsidies],
            "handoffs": [f"{h.partner}:{h.status}" for h in state.handoffs],
            "employed": state.employment is not None,
        }
        assignee = _text(state.assignee)
        search = " ".join(filter(None, [state.case_id, state.team, assignee, state.area])).lower()
        return (
            state.case_id, state.area, state.team, assignee, state.stage,
            state.tasmatyo, state.group, Jsonb(tracks), state.opened_at,
            state.last_event_at, state.version, applied, Jsonb(state, dumps=_json), search,
        )  # fmt: skip

    def _write_waits(
        self, curs: Cursor[DictRow], states: list[CaseState]
    ) -> dict[str, list[Stalled]]:
        """Replace the touched cases' waiting steps; return the stalled ones that changed."""
        curs.execute(
            self.sql(
                "DELETE FROM {table}_waits WHERE case_id = ANY(%s) RETURNING case_id, step, item,"
                " team, partner, stalled, escalated, acknowledged_by"
            ),
            ([state.case_id for state in states],),
        )
        before = {_stall(r["case_id"], r["step"], r["item"], r["team"], r["partner"],
                         r["escalated"], r["acknowledged_by"])
                  for r in curs.fetchall() if r["stalled"]}  # fmt: skip
        rows = []
        for state in states:
            for wait in waiting_steps(state):
                stall = state.stall(wait.step, wait.item)
                due = stalls.due(state, wait, self.policy)
                rows.append((
                    state.case_id, wait.step, wait.item or "", state.area, state.team,
                    wait.partner, wait.waiting_on, wait.since, due, stall is not None,
                    bool(stall and stall.escalated), stall and stall.acknowledged_by,
                    stall and stall.acknowledged_at,
                ))  # fmt: skip
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_waits (case_id, step, item, area, team, partner,"
                    " waiting_on, since, due, stalled, escalated, acknowledged_by,"
                    " acknowledged_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                rows,
            )
        after = {_stall(r[0], r[1], r[2], r[4], r[5], r[10], r[11]) for r in rows if r[9]}
        changed: dict[str, list[Stalled]] = {}
        for case_id, step, _, _, partner, *_ in sorted(before ^ after, key=repr):
            marks = changed.setdefault(case_id, [])
            if Stalled(step, partner) not in marks:  # an altered stall was there before too
                marks.append(Stalled(step, partner))
        return changed

    def _write_inbox(
        self, curs: Cursor[DictRow], states: list[CaseState], handoffs: _Handoffs
    ) -> dict[str, list[Task]]:
        """Replace the touched cases' inbox rows: one per handoff, open or closed. Returns the
        tasks that changed: a row new, gone or altered, or a handoff an event named."""
        curs.execute(
            self.sql(
                "DELETE FROM {table}_inbox WHERE case_id = ANY(%s) RETURNING case_id,"
                " handoff_id, partner, status, state, step, due, requested_version, shares"
            ),
            ([state.case_id for state in states],),
        )
        before = set()
        for row in curs.fetchall():
            handoffs.payloads[(str(row["case_id"]), row["handoff_id"])] = (
                row["requested_version"], row["shares"],
            )  # fmt: skip
            before.add((str(row["case_id"]), row["handoff_id"], row["partner"], row["status"],
                        row["state"], row["step"], row["due"]))  # fmt: skip
        rows = []
        for state in states:
            waits = {w.item: w for w in waiting_steps(state) if w.item}
            for handoff in state.handoffs:
                version, shares = handoffs.payload(state.case_id, handoff.id)
                wait = waits.get(handoff.id)
                task = task_state(state, handoff)
                step, waiting_on, due = (
                    (wait.step, wait.waiting_on, stalls.due(state, wait, self.policy))
                    if wait else (None, None, None)
                )  # fmt: skip
                rows.append((
                    state.case_id, handoff.id, handoff.partner, handoff.status, task,
                    task != "closed", state.area, handoff.since, version, Jsonb(list(shares)),
                    step, waiting_on, due,
                ))  # fmt: skip
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_inbox (case_id, handoff_id, partner, status, state,"
                    " active, area, since, requested_version, shares, step, waiting_on, due)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                rows,
            )
        after = {(r[0], r[1], r[2], r[3], r[4], r[10], r[12]) for r in rows}
        partners = {(r[0], r[1]): r[2] for r in rows} | {(r[0], r[1]): r[2] for r in before}
        moved = {(r[0], r[1]) for r in before ^ after} | (handoffs.named & partners.keys())
        changed: dict[str, list[Task]] = {}
        for case_id, handoff_id in sorted(moved):
            changed.setdefault(case_id, []).append(Task(partners[case_id, handoff_id], handoff_id))
        return changed


def _stall(case_id: Any, *mark: Any) -> tuple[Any, ...]:
    """A stalled step as the queue shows it (step, item, team, partner, escalated, by whom
    acknowledged): a change in any of these is a change in the queue."""
    return (str(case_id), *mark)


# PostgreSQL's text and jsonb cannot hold NUL. The edge refuses it now, but events stored before
# may carry one, and no stored event may stop a view: the view shows U+FFFD in its place.
def _text(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value else value


def _json(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


# A JSON escape of NUL, not preceded by an escaped backslash of the string itself.
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


class _Handoffs:
    """What a batch learnt of handoff payloads: a request's own, a redirection's from the
    handoff it redirects (the partner gets the original request's payload)."""

    def __init__(self) -> None:
        self.payloads: dict[tuple[str, str], tuple[int, Any]] = {}
        self.redirected_from: dict[tuple[str, str], tuple[str, str]] = {}
        self.named: set[tuple[str, str]] = set()
        """Handoffs an event of the batch named: their tasks changed for the partner."""

    def note(self, case_id: str, event: Any) -> None:
        if handoff_id := getattr(event, "handoff_id", None):
            self.named.add((case_id, handoff_id))
        if isinstance(event, e.HandoffRequested):
            self.payloads[(case_id, event.handoff_id)] = (event.originator_version, event.shares)
        elif isinstance(event, e.HandoffRedirected):
            new, old = (case_id, event.new_handoff_id), (case_id, event.handoff_id)
            self.redirected_from[new] = old

    def payload(self, case_id: str, handoff_id: str) -> tuple[int, Any]:
        key = (case_id, handoff_id)
        while key not in self.payloads:
            key = self.redirected_from[key]
        return self.payloads[key]
