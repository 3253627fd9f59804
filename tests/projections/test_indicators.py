"""The indicators (mittarit): an independent recount of a random programme year, and the API.

The recount reads the raw event list and recomputes every indicator in plain Python, straight from
the definitions in DOMAIN.md (and `projections.indicators`), then compares with the view for every
month, every area and the total.
"""

from __future__ import annotations

import asyncio
import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from casework.api.deps import Services
from casework.application import CaseworkApp
from casework.domain import employer as emp
from casework.domain import events as e
from casework.domain import training as tr
from casework.domain.policy import shipped_policy
from casework.domain.reference import reference
from casework.settings import Settings
from projections.figures import compute, indicator_names
from projections.indicators import IndicatorViews
from projections.months import HELSINKI
from projections.service import Projections
from tests.projections.programme_year import ProgrammeYear, Restated
from tests.workflows.helpers import eventually

pytest_plugins = ["tests.api.conftest"]

SEED = 20250101
CASES = 300
FIRST, LAST = date(2025, 1, 1), date(2026, 1, 1)


# The recount: every indicator from the raw events, in plain Python.


def all_events(app: CaseworkApp) -> list[Any]:
    events, position = [], 0
    while batch := app.recorder.select_notifications(start=position + 1, limit=1000):
        events += [app.mapper.to_domain_event(n) for n in batch]
        position = batch[-1].id
    return events


def month_of(at: datetime) -> str:
    return f"{at.astimezone(HELSINKI):%Y-%m}"


def month_ends(first: date, last: date) -> Iterator[tuple[str, datetime]]:
    """Each month, and the first instant after it (the month's end is just before)."""
    month = first
    while month <= last:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        yield f"{month:%Y-%m}", datetime(following.year, following.month, 1, tzinfo=HELSINKI)
        month = following


def recount(events: list[Any], first: date, last: date) -> dict[str, dict[str, dict[str, Any]]]:
    eff = lambda ev: ev.meta.effective_at  # noqa: E731
    area_of: dict[Any, str] = {}
    session_kind: dict[Any, str] = {}
    case_events: dict[Any, list[Any]] = defaultdict(list)
    flows: Counter[tuple[str, str, str]] = Counter()
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)  # medians
    requested: dict[tuple[Any, str], tuple[str, datetime]] = {}
    subsidy_kind: dict[tuple[Any, str], str] = {}

    def count(ev: Any, name: str, n: int = 1) -> None:
        flows[(area_of[ev.originator_id], month_of(eff(ev)), name)] += n

    def as_of(case_id: Any, moment: datetime, inclusive: bool) -> dict[str, bool]:
        """The case's state folded from the facts that took effect by `moment`."""
        s = dict.fromkeys(("open", "closed", "tagged", "diagnosed", "employed", "max"), False)
        for ev in sorted(case_events[case_id], key=lambda ev: (eff(ev), ev.originator_version)):
            if eff(ev) > moment or (eff(ev) == moment and not inclusive):
                break
            if isinstance(ev, e.CaseOpened):
                s["open"] = True
            elif isinstance(ev, e.TasmatyoTagAdded | e.TasmatyoTagRemoved):
                s["tagged"] = isinstance(ev, e.TasmatyoTagAdded)
            elif isinstance(ev, e.DiagnosisRecorded):
                s["diagnosed"] = True
            elif isinstance(ev, e.EmploymentStarted):
                s["employed"] = True
            elif isinstance(ev, e.SicknessAllowanceRecorded) and ev.days_used == 300:
                s["max"] = True
            elif isinstance(ev, e.CaseClosed):
                s["closed"] = True
        return s

    def target_group(s: dict[str, bool]) -> bool:
        return s["open"] and not s["closed"] and (s["tagged"] or s["diagnosed"])

    for ev in events:
        if isinstance(ev, e.CaseOpened | emp.EmployerRegistered):
            area_of[ev.originator_id] = ev.area
        elif isinstance(ev, tr.SessionPlanned):
            area_of[ev.originator_id], session_kind[ev.originator_id] = ev.area, ev.kind
        if isinstance(ev, e.CaseOpened | e.CaseEvent):
            case_events[ev.originator_id].append(ev)

    for ev in events:
        area = area_of[ev.originator_id]
        match ev:
            case e.JobReferralMade():
                count(ev, "job_referrals")
                if target_group(as_of(ev.originator_id, eff(ev), inclusive=True)):
                    count(ev, "job_referrals_target_group")
            case e.SubsidyApplied():
                subsidy_kind[(ev.originator_id, ev.subsidy_id)] = ev.kind
            case e.SubsidyDecided():
                name = subsidy_kind[(ev.originator_id, ev.subsidy_id)]
                name += "_granted" if ev.granted else "_denied"
                count(ev, name)
                if target_group(as_of(ev.originator_id, eff(ev), inclusive=True)):
                    count(ev, f"target_group_{name}")
            case e.TasmatyoTagAdded():
                count(ev, "tasmatyo_tags_added")
            case e.TasmatyoTagRemoved():
                count(ev, "tasmatyo_tags_removed")
            case emp.InterestTagAdded():
                count(ev, "employer_interest_tags_added")
            case emp.InterestTagRemoved():
                count(ev, "employer_interest_tags_removed")
            case e.CoachingReferred() | e.CoachingStarted() | e.CoachingCompleted():
                count(ev, "coaching_" + type(ev).__name__.removeprefix("Coaching").lower())
            case e.CoachingInterrupted():
                count(ev, "coaching_interrupted")
            case e.EmploymentStarted():
                count(ev, "employments_started")
                with_subsidy = ev.subsidy_id is not None
                count(ev, f"employments_{'with' if with_subsidy else 'without'}_pay_subsidy")
            case tr.SessionHeld():
                count(ev, f"{session_kind[ev.originator_id]}_sessions_held")
                count(ev, "session_participants", ev.participants)
            case tr.FeedbackRecorded():
                count(ev, "feedback_answers")
                count(ev, f"feedback_{ev.answer}")
            case e.HandoffRequested():
                requested[(ev.originator_id, ev.handoff_id)] = (ev.partner, eff(ev))
                count(ev, f"handoffs_{ev.partner}_requested")
            case e.HandoffRedirected():
                partner = requested[(ev.originator_id, ev.handoff_id)][0]
                count(ev, f"handoffs_{partner}_redirected")
                requested[(ev.originator_id, ev.new_handoff_id)] = (ev.to_partner, eff(ev))
                count(ev, f"handoffs_{ev.to_partner}_requested")
            case e.HandoffAccepted() | e.HandoffRejected():
                partner = requested[(ev.originator_id, ev.handoff_id)][0]
                count(ev, f"handoffs_{partner}_{type(ev).__name__.removeprefix('Handoff').lower()}")
            case e.HandoffCompleted():
                partner = requested[(ev.originator_id, ev.handoff_id)][0]
                count(ev, f"handoffs_{partner}_completed_{ev.outcome}")
            case e.HandoffAcknowledged():
                partner, at = requested[(ev.originator_id, ev.handoff_id)]
                seconds = (eff(ev) - at).total_seconds()
                count(ev, "partner_responses")
                for where in (area, "total"):
                    samples[(where, month_of(eff(ev)), "partner_response_median_days")].append(
                        seconds
                    )
                    samples[
                        (where, month_of(eff(ev)), f"partner_response_median_days_{partner}")
                    ].append(seconds)

    # Opening to identification: the earliest tag or diagnosis to take effect.
    for case_id, evs in case_events.items():
        identifying = [
            eff(ev) for ev in evs if isinstance(ev, e.TasmatyoTagAdded | e.DiagnosisRecorded)
        ]
        if identifying:
            at, opened = min(identifying), eff(evs[0])
            flows[(area_of[case_id], month_of(at), "identifications")] += 1
            for where in (area_of[case_id], "total"):
                samples[(where, month_of(at), "identification_median_days")].append(
                    (at - opened).total_seconds()
                )

    # Stocks at each month's end.
    stalls: list[tuple[Any, str, datetime, datetime | None]] = []  # case, step, since, until
    for case_id, evs in case_events.items():
        running: dict[tuple[str, str | None], datetime] = {}
        for ev in evs:
            if isinstance(ev, e.StepStalled):
                running[(ev.step, ev.item)] = eff(ev)
            elif isinstance(ev, e.StallCleared):
                stalls.append((case_id, ev.step, running.pop((ev.step, ev.item)), eff(ev)))
        stalls += [(case_id, step, since, None) for (step, _), since in running.items()]
    for month, end in month_ends(first, last):
        for case_id in case_events:
            s = as_of(case_id, end, inclusive=False)
            if target_group(s):
                flows[(area_of[case_id], month, "target_group_at_month_end")] += 1
            if s["open"] and not s["closed"] and s["employed"] and s["max"]:
                flows[(area_of[case_id], month, "f05_at_month_end")] += 1
        stalled = {
            (case_id, step)
            for case_id, step, since, until in stalls
            if since < end and (until is None or until >= end)
        }
        for case_id, step in stalled:
            flows[(area_of[case_id], month, f"stalled_{step}_at_month_end")] += 1
        for case_id in {case_id for case_id, _ in stalled}:
            flows[(area_of[case_id], month, "stalled_cases_at_month_end")] += 1

    result: dict[str, dict[str, dict[str, Any]]] = {}
    names = indicator_names()
    for where in [*reference().areas, "total"]:
        result[where] = {}
        for month, _ in month_ends(first, last):
            row: dict[str, Any] = {}
            for name in names:
                if name.endswith("_share"):
                    continue
                if "median_days" in name:
                    values = samples.get((where, month, name))
                    row[name] = round(statistics.median(values) / 86400, 1) if values else None
                elif where == "total":
                    row[name] = sum(flows[(a, month, name)] for a in reference().areas)
                else:
                    row[name] = flows[(where, month, name)]
            for answer in ("useful", "partly_useful", "not_useful"):
                answers = row["feedback_answers"]
                share = round(row[f"feedback_{answer}"] / answers, 3) if answers else None
                row[f"feedback_{answer}_share"] = share
            result[where][month] = {name: row[name] for name in names}
    return result


def differences(view: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    found = []
    for area, months in expected.items():
        for month, values in months.items():
            for name, value in values.items():
                got = view[area][month][name]
                if got != value:
                    found.append(f"{area} {month} {name}: view {got!r}, recount {value!r}")
    return found


# The programme year, projected by the live indicators view (as the service runs it).


@pytest.fixture(scope="module")
def projections(app: CaseworkApp) -> Iterator[Projections]:
    """The service's views, but only the indicators run here: the case views are tested apart."""
    running = Projections(app, shipped_policy())
    running.runners = {IndicatorViews.name: running.runners[IndicatorViews.name]}
    yield running.start()
    running.stop()


@pytest.fixture(scope="module")
def year(app: CaseworkApp, projections: Projections) -> dict[str, Any]:
    generator = ProgrammeYear(app, SEED)
    generator.run(CASES)
    view = caught_up(app, projections)
    before = compute(view, FIRST, LAST).areas
    restated = generator.late_facts()
    caught_up(app, projections)
    return {"view": view, "before": before, "restated": restated, "generator": generator}


def caught_up(app: CaseworkApp, projections: Projections) -> IndicatorViews:
    runner = projections.runners[IndicatorViews.name]
    head = app.recorder.max_notification_id()
    asyncio.run(eventually(lambda: runner.error or runner.position >= head, timeout=90))
    assert runner.error is None, runner.error
    return projections.indicators


def test_the_view_agrees_with_an_independent_recount_for_every_month_and_area(app, year):
    expected = recount(all_events(app), FIRST, LAST)
    computed = compute(year["view"], FIRST, LAST).areas
    assert set(computed) == set(expected)
    assert not (found := differences(computed, expected)), "\n".join(found[:30])
    # The year is not trivial: every kind of indicator has something to show.
    totals = Counter()
    for values in expected["total"].values():
        totals.update({k: v for k, v in values.items() if isinstance(v, int | float)})
    for name in (
        "job_referrals_target_group", "target_group_pay_subsidy_granted", "tasmatyo_tags_added",
        "tasmatyo_tags_removed", "target_group_at_month_end", "employer_interest_tags_added",
        "work_arrangement_subsidy_denied", "coaching_completed", "employments_with_pay_subsidy",
        "employments_without_pay_subsidy", "f05_at_month_end", "onboarding_sessions_held",
        "club_sessions_held", "feedback_partly_useful", "handoffs_kela_redirected",
        "partner_response_median_days", "stalled_screening_at_month_end",
        "stalled_cases_at_month_end", "identification_median_days",
    ):  # fmt: skip
        assert totals[name] > 0, name
    assert year["generator"].refused <= CASES // 20, "the journeys should mostly go through"


def test_one_area_alone_is_that_areas_own_figures(app, year):
    expected = recount(all_events(app), FIRST, LAST)
    computed = compute(year["view"], FIRST, LAST, area="lantinen").areas
    assert list(computed) == ["lantinen"]
    assert not differences(computed, {"lantinen": expected["lantinen"]})


def test_the_medians_the_view_keeps_are_those_taken_from_its_rows_when_read(year):
    view: IndicatorViews = year["view"]
    view.settle_now()
    kept = compute(view, FIRST, LAST).areas
    with view.datastore.transaction(commit=True) as curs:
        curs.execute(view.sql("SELECT count(*) AS n FROM {table}_medians"))
        assert curs.fetchone()["n"] > 0
        # Every month marked as changed: the figures take the medians from the rows instead.
        curs.execute(
            view.sql("INSERT INTO {table}_stale_months SELECT DISTINCT month FROM {table}_medians")
        )
    taken = compute(view, FIRST, LAST).areas
    view.settle_now()
    assert taken == kept
    assert compute(view, FIRST, LAST).areas == kept


@pytest.mark.parametrize("size", [1, 500])
def test_built_in_batches_of_any_size_the_view_gives_the_same_figures(app, year, size):
    view = IndicatorViews(app.recorder.datastore, suffix=f"_batches_{size}")
    _build(app, view, size)
    assert compute(view, FIRST, LAST).areas == compute(year["view"], FIRST, LAST).areas


def test_built_again_and_again_the_view_equals_the_live_built_one_row_for_row(app, year):
    live: IndicatorViews = year["view"]
    live.settle_now()
    for attempt in range(3):  # on the same pooled connections, as repeated rebuilds run
        view = IndicatorViews(app.recorder.datastore, suffix=f"_again_{attempt}")
        _build(app, view, 500)
        assert table_rows(view) == table_rows(live)
        view.drop()


def table_rows(view: IndicatorViews) -> dict[str, list[str]]:
    """Every row of the view's tables, its tracking table aside, in a stable order. A total that
    came to zero is the same as none (a batch nets its changes before it writes them)."""
    found = {}
    with view.datastore.transaction(commit=False) as curs:
        for table in view.tables()[:-1]:
            zero = " WHERE value <> 0" if table.endswith("_totals") else ""
            curs.execute(f"SELECT * FROM {table}{zero}")
            found[table.removeprefix(view.table)] = sorted(repr(tuple(r.values())) for r in curs)
    return found


def _build(app: CaseworkApp, view: IndicatorViews, size: int) -> None:
    view.create_table()
    position = 0
    while batch := app.recorder.select_notifications(start=position + 1, limit=size):
        events = [app.mapper.to_domain_event(n) for n in batch]
        view.project_batch(events, Tracking(app.name, batch[-1].id))
        position = batch[-1].id


def test_a_fact_recorded_late_restates_the_month_it_took_effect_in(year):
    restated: list[Restated] = year["restated"]
    assert len(restated) >= 4
    after = compute(year["view"], FIRST, LAST).areas
    for fact in restated:
        old = year["before"][fact.area][fact.month][fact.indicator]
        assert after[fact.area][fact.month][fact.indicator] > old, fact


def test_the_stocks_are_month_end_states_not_sums_of_flows(year):
    months = compute(year["view"], FIRST, LAST).areas["total"]
    identified = 0
    for month, values in months.items():
        identified += values["identifications"]
        # Everyone in the target group at a month's end was identified by then (every case of
        # the year opened in it), but leaving the group or closing ends the stock, so it is less.
        assert values["target_group_at_month_end"] <= identified, month
    # A stock carries over from month to month: by the autumn it far exceeds a month's additions.
    autumn = months["2025-10"]
    assert autumn["target_group_at_month_end"] > autumn["tasmatyo_tags_added"] + 10
    assert months["2025-12"]["target_group_at_month_end"] < identified


# The API.


@pytest.fixture(scope="module")
def services(app, auth, projections) -> Services:
    # The indicators need no journeys: no Temporal server for this module.
    return Services(Settings(), app, None, auth, projections)  # type: ignore[arg-type]


async def live(http, token, app, **params: Any) -> Any:
    """The indicators once the live view has caught up with the log."""
    head = app.recorder.max_notification_id()
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await http.get(
            "/api/indicators", params=params, headers=token("coordinator", "*")
        )
        assert response.status_code == 200, response.text
        if response.json()["position"] >= head:
            return response
        assert asyncio.get_running_loop().time() < deadline, "the indicators did not catch up"
        await asyncio.sleep(0.2)


async def test_the_api_answers_json_per_area_and_month_with_when_it_was_computed(http, token, app):
    response = await live(http, token, app, **{"from": "2025-01", "to": "2025-12"})
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert (body["from"], body["to"], body["area"]) == ("2025-01", "2025-12", None)
    assert datetime.fromisoformat(body["computed_at"]).tzinfo is not None
    assert body["months"] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert body["indicators"] == list(indicator_names())
    assert list(body["areas"]) == [*reference().areas, "total"]
    expected = recount(all_events(app), FIRST, date(2025, 12, 1))
    assert not differences(body["areas"], expected)


async def test_the_api_answers_one_area(http, token, app):
    params = {"from": "2025-03", "to": "2025-04", "area": "itainen"}
    response = await live(http, token, app, **params)
    body = response.json()
    assert list(body["areas"]) == ["itainen"]
    assert list(body["areas"]["itainen"]) == ["2025-03", "2025-04"]


async def test_the_csv_opens_in_a_finnish_spreadsheet(http, token, app):
    await live(http, token, app)
    response = await http.get(
        "/api/indicators",
        params={"from": "2025-01", "to": "2025-12"},
        headers=token("auditor", "*") | {"Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["area", "area_name", "month"]
    assert header[3:-1] == list(indicator_names())
    assert header[-1] == "computed_at"
    assert len(body) == 5 * 12
    assert all(len(row) == len(header) for row in body)
    assert {row[1] for row in body} >= {"Läntinen", "Itäinen", "Total"}
    for column in ("feedback_useful_share", "partner_response_median_days"):
        values = [row[header.index(column)] for row in body]
        assert any("," in v for v in values), column  # a decimal comma
        assert not any("." in v for v in values), column
    total_referrals = sum(
        int(row[header.index("job_referrals")]) for row in body if row[0] == "total"
    )
    assert total_referrals > 0


async def test_staff_and_partners_may_not_read_the_indicators(http, token):
    for headers in (token("staff", "helsinki"), token("partner", "*", partner="kela")):
        response = await http.get("/api/indicators", headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "not_permitted"


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2025-13"}, ["from"]),
        ({"from": "2025-1", "to": "25-01"}, ["from", "to"]),
        ({"from": "2025-06", "to": "2025-05"}, ["from"]),
        ({"from": "2000-01", "to": "2025-01"}, ["to"]),
        ({"area": "turku"}, ["area"]),
        ({"to": "2025-00", "area": "turku"}, ["to", "area"]),
        ({"from": "x" * 500}, ["from"]),
    ],
)
async def test_bad_months_and_areas_are_named(http, token, params, fields):
    response = await http.get("/api/indicators", params=params, headers=token("admin", "*"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "validation_failed"
    assert [error["field"] for error in body["errors"]] == fields
