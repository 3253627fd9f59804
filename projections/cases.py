"""The views staff, coordinators and partners work from, folded from each case's events.

One projection keeps three tables in step, in one transaction per event: the case list, the
waiting steps with their deadlines (stalled ones and those at risk), and the partners' inboxes of
open handoffs. The case's plain state is folded with the domain's own `evolve`, so the views can
never disagree with the aggregate. Health data stays out: sickness-allowance days are not kept,
and an inbox row points at the sealed event holding the handoff's payload instead of copying it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from casework.domain import events as e
from casework.domain.policy import StallPolicy
from casework.domain.rules import OPEN_HANDOFF, waiting_steps
from casework.domain.state import CaseState
from projections.view import View


class CaseViews(View):
    name = "cases"
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
            PRIMARY KEY (case_id, step, item)
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_waits_due ON {table}_waits (area, stalled, due)",
        """CREATE TABLE IF NOT EXISTS {table}_inbox (
            case_id uuid NOT NULL,
            handoff_id text NOT NULL,
            partner text NOT NULL,
            status text NOT NULL,
            area text NOT NULL,
            since timestamptz NOT NULL,
            requested_version integer NOT NULL,
            shares jsonb NOT NULL,
            due timestamptz,
            PRIMARY KEY (case_id, handoff_id)
        )""",
        "CREATE INDEX IF NOT EXISTS {table}_inbox_partner ON {table}_inbox (partner, since)",
    )

    def __init__(self, datastore: Any, policy: StallPolicy, suffix: str = "") -> None:
        super().__init__(datastore, suffix)
        self.policy = policy

    def apply(self, curs: Cursor[DictRow], event: Any) -> None:
        if isinstance(event, e.CaseOpened):
            shell = SimpleNamespace()
            event.apply(shell)
            state: CaseState = shell.state
        elif isinstance(event, e.CaseEvent):
            state = self._state(curs, event.originator_id)
            event.evolve(state)
            state.version = event.originator_version
            if event.is_activity:
                last = state.last_event_at
                state.last_event_at = max(last, event.effective_at) if last else event.effective_at
        else:
            return  # employers and training sessions have views of their own
        state.sickness_days_used = None  # health data: the list has no need of it
        self._write_case(curs, state)
        self._write_waits(curs, state)
        self._write_inbox(curs, state, event)

    def _state(self, curs: Cursor[DictRow], case_id: Any) -> CaseState:
        curs.execute(self.sql("SELECT state FROM {table} WHERE case_id = %s"), (case_id,))
        row = curs.fetchone()
        assert row is not None, f"case {case_id} has events before its opening"
        return msgspec.convert(row["state"], CaseState)

    def _write_case(self, curs: Cursor[DictRow], state: CaseState) -> None:
        tracks = {
            "coaching": [c.status for c in state.coaching],
            "referrals": [r.status for r in state.referrals],
            "subsidies": [f"{s.kind}:{s.status}" for s in state.subsidies],
            "handoffs": [f"{h.partner}:{h.status}" for h in state.handoffs],
            "employed": state.employment is not None,
        }
        search = " ".join(
            filter(None, [state.case_id, state.team, state.assignee or "", state.area])
        ).lower()
        curs.execute(
            self.sql(
                "INSERT INTO {table} (case_id, area, team, assignee, stage, tasmatyo, grp, tracks,"
                " opened_at, last_activity, version, state, search)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (case_id) DO UPDATE SET area = EXCLUDED.area,"
                " team = EXCLUDED.team, assignee = EXCLUDED.assignee, stage = EXCLUDED.stage,"
                " tasmatyo = EXCLUDED.tasmatyo, grp = EXCLUDED.grp, tracks = EXCLUDED.tracks,"
                " last_activity = EXCLUDED.last_activity, version = EXCLUDED.version,"
                " applied = {table}.applied + 1,"
                " state = EXCLUDED.state, search = EXCLUDED.search"
            ),
            (
                state.case_id, state.area, state.team, state.assignee, state.stage,
                state.tasmatyo, state.group, Jsonb(tracks), state.opened_at,
                state.last_event_at, state.version, Jsonb(msgspec.to_builtins(state)), search,
            ),
        )  # fmt: skip

    def _write_waits(self, curs: Cursor[DictRow], state: CaseState) -> None:
        curs.execute(self.sql("DELETE FROM {table}_waits WHERE case_id = %s"), (state.case_id,))
        rows = []
        for wait in waiting_steps(state):
            stall = state.stall(wait.step, wait.item)
            due = stall.due if stall else self.policy.deadline(wait.step, wait.since, wait.partner)
            rows.append((
                state.case_id, wait.step, wait.item or "", state.area, state.team, wait.partner,
                wait.waiting_on, wait.since, due, stall is not None,
                bool(stall and stall.escalated),
            ))  # fmt: skip
        if rows:
            curs.executemany(
                self.sql(
                    "INSERT INTO {table}_waits (case_id, step, item, area, team, partner,"
                    " waiting_on, since, due, stalled, escalated)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                rows,
            )

    def _write_inbox(self, curs: Cursor[DictRow], state: CaseState, event: Any) -> None:
        if isinstance(event, e.HandoffRequested):
            handoff = state.handoff(event.handoff_id)
            assert handoff is not None
            self._insert_inbox(curs, state, handoff.id, event.originator_version, event.shares)
        elif isinstance(event, e.HandoffRedirected):
            # The redirected handoff carries the original request's payload.
            curs.execute(
                self.sql(
                    "SELECT requested_version, shares FROM {table}_inbox"
                    " WHERE case_id = %s AND handoff_id = %s"
                ),
                (state.case_id, event.handoff_id),
            )
            row = curs.fetchone()
            assert row is not None
            new = event.new_handoff_id
            self._insert_inbox(curs, state, new, row["requested_version"], row["shares"])
        for handoff in state.handoffs:
            if handoff.status not in OPEN_HANDOFF:
                curs.execute(
                    self.sql("DELETE FROM {table}_inbox WHERE case_id = %s AND handoff_id = %s"),
                    (state.case_id, handoff.id),
                )
                continue
            wait = next((w for w in waiting_steps(state) if w.item == handoff.id), None)
            due = (
                self.policy.deadline(wait.step, wait.since, wait.partner)
                if wait and wait.waiting_on == "partner"
                else None
            )
            curs.execute(
                self.sql(
                    "UPDATE {table}_inbox SET status = %s, since = %s, due = %s"
                    " WHERE case_id = %s AND handoff_id = %s"
                ),
                (handoff.status, handoff.since, due, state.case_id, handoff.id),
            )
        if state.closed:
            curs.execute(self.sql("DELETE FROM {table}_inbox WHERE case_id = %s"), (state.case_id,))

    def _insert_inbox(
        self, curs: Cursor[DictRow], state: CaseState, handoff_id: str, version: int, shares: Any
    ) -> None:
        handoff = state.handoff(handoff_id)
        assert handoff is not None
        curs.execute(
            self.sql(
                "INSERT INTO {table}_inbox (case_id, handoff_id, partner, status, area, since,"
                " requested_version, shares) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING"
            ),
            (
                state.case_id, handoff_id, handoff.partner, handoff.status, state.area,
                handoff.since, version, Jsonb(list(shares)),
            ),
        )  # fmt: skip
