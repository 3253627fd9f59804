"""Working days in Finland, the stall policy as validated data, and the reference vocabularies."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from casework.domain import calendar
from casework.domain.policy import Limit, StallPolicy, load_policy, parse_policy, shipped_policy
from casework.domain.reference import parse_reference, reference

HELSINKI = ZoneInfo("Europe/Helsinki")


def working_days_between(start: datetime, end: datetime) -> int:
    """Working days that begin after `start`'s Helsinki date, up to and including `end`'s."""
    first, last = calendar.local_date(start), calendar.local_date(end)
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count += 1
    return count


# --- working days --------------------------------------------------------------------------------


def test_ten_working_days_from_before_christmas_skip_the_holidays() -> None:
    # Christmas Eve (Thu), Christmas (Fri), Boxing Day (Sat), New Year (Fri) and Epiphany (Wed) are
    # not working days; neither are the weekends in between.
    start = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)  # Friday, 12:00 in Helsinki
    assert calendar.add_working_days(start, 10) == datetime(2027, 1, 7, 10, 0, tzinfo=UTC)
    assert working_days_between(start, datetime(2027, 1, 7, 10, 0, tzinfo=UTC)) == 10


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year's Day
        date(2026, 1, 6),  # Epiphany
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # May Day
        date(2026, 5, 14),  # Ascension Day
        date(2026, 6, 19),  # Midsummer Eve: offices are closed
        date(2025, 12, 24),  # Christmas Eve, a Wednesday
        date(2025, 12, 25),  # Christmas Day
        date(2025, 12, 26),  # Boxing Day, a Friday
        date(2025, 12, 6),  # Independence Day (a Saturday anyway)
        date(2026, 3, 7),  # an ordinary Saturday
        date(2026, 3, 8),  # an ordinary Sunday
    ],
)
def test_weekends_and_finnish_public_holidays_are_not_working_days(day: date) -> None:
    assert not calendar.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 2), date(2026, 6, 18), date(2026, 6, 22), date(2026, 12, 23), date(2027, 1, 7)],
)
def test_ordinary_weekdays_are_working_days(day: date) -> None:
    assert calendar.is_working_day(day)


def test_midsummer_eve_is_not_a_working_day() -> None:
    thursday_before = datetime(2026, 6, 18, 9, 0, tzinfo=HELSINKI)
    assert not calendar.is_working_day(date(2026, 6, 19))
    # Friday is Midsummer Eve and Saturday Midsummer Day: the next working day is Monday.
    assert calendar.add_working_days(thursday_before, 1) == datetime(
        2026, 6, 22, 9, 0, tzinfo=HELSINKI
    )


def test_working_days_keep_the_helsinki_wall_clock_across_the_spring_dst_change() -> None:
    # Helsinki moves from UTC+2 to UTC+3 on Sunday 2026-03-29.
    friday = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)  # 09:00 in Helsinki
    monday = calendar.add_working_days(friday, 1)
    assert monday == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 09:00 in Helsinki again
    assert monday.astimezone(HELSINKI).time() == friday.astimezone(HELSINKI).time()
    assert monday.tzinfo is UTC  # the answer comes in the zone of the question


def test_calendar_days_keep_the_helsinki_wall_clock_across_the_autumn_dst_change() -> None:
    # Helsinki moves from UTC+3 back to UTC+2 on Sunday 2026-10-25.
    before = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # 09:00 in Helsinki
    assert calendar.add_days(before, 10) == datetime(2026, 10, 30, 7, 0, tzinfo=UTC)
    assert calendar.add_working_days(before, 5) == datetime(2026, 10, 27, 7, 0, tzinfo=UTC)


def test_the_day_is_counted_in_helsinki_not_in_utc() -> None:
    # 22:30 UTC on Thursday is already 01:30 on Friday (Midsummer Eve) in Helsinki.
    late = datetime(2026, 6, 18, 22, 30, tzinfo=UTC)
    assert calendar.local_date(late) == date(2026, 6, 19)
    assert calendar.add_working_days(late, 1) == datetime(2026, 6, 21, 22, 30, tzinfo=UTC)
    assert working_days_between(late, datetime(2026, 6, 21, 22, 30, tzinfo=UTC)) == 1


def test_deadlines_of_a_fact_from_1989_are_counted_with_that_years_holidays() -> None:
    # An opening back-dated to 1989 once made the journey's workflow task and the case view fail
    # for good ("no holiday calendar"): the calendar must be total over what the store may hold.
    start = datetime(1989, 12, 22, 10, 0, tzinfo=UTC)  # Friday before Christmas
    assert calendar.add_working_days(start, 3) == datetime(1989, 12, 29, 10, 0, tzinfo=UTC)


def test_a_deadline_may_run_past_the_last_year_a_fact_may_fall_in() -> None:
    start = datetime(calendar.YEARS[-1], 12, 30, 10, 0, tzinfo=UTC)
    assert calendar.add_working_days(start, 60) > datetime(calendar.YEARS[-1] + 1, 3, 1, tzinfo=UTC)


def test_zero_working_days_is_the_start_itself() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert calendar.add_working_days(start, 0) == start
    assert working_days_between(start, start) == 0


# --- the stall policy ----------------------------------------------------------------------------

SHIPPED_TEXT = files("casework.domain").joinpath("policy.toml").read_text(encoding="utf-8")


def policy_text(limits: dict[str, Any], *, version: str = "test-1") -> str:
    """A policy file with these limits (the shape of policy.toml)."""
    lines = [f'version = "{version}"', "effective_from = 2026-01-01"]
    for step, limit in limits.items():
        lines.append(f"[limits.{step}]")
        lines.extend(f"{key} = {value!r}" for key, value in limit.items() if key != "per_partner")
        for partner, override in limit.get("per_partner", {}).items():
            lines.append(f"[limits.{step}.per_partner.{partner}]")
            lines.extend(f"{key} = {value!r}" for key, value in override.items())
    return "\n".join(lines).replace("'", '"') + "\n"


def shipped_limits() -> dict[str, Any]:
    limits: dict[str, Any] = tomllib.loads(SHIPPED_TEXT)["limits"]
    return limits


def test_the_shipped_policy_has_a_limit_for_every_step_in_reference_data() -> None:
    policy = shipped_policy()
    assert set(policy.limits) == set(reference().steps)
    assert (policy.version, policy.effective_from) == ("2026-01", date(2026, 1, 1))
    assert load_policy() is policy


@pytest.mark.parametrize(
    ("step", "amount", "unit"),
    [
        ("screening", 10, "working_days"),
        ("identification", 10, "working_days"),
        ("coaching_start", 30, "days"),
        ("service_plan", 60, "days"),
        ("subsidy_decision", 21, "days"),
        ("handoff_ack", 10, "working_days"),
        ("handoff_info", 10, "working_days"),
        ("handoff_decision", 30, "days"),
        ("inactivity", 30, "days"),
    ],
)
def test_the_shipped_limits_are_the_programmes_starting_values(
    step: str, amount: int, unit: str
) -> None:
    limit = shipped_policy().limit(step)
    assert (limit.amount, limit.unit) == (amount, unit)


def test_keva_handoff_decision_is_21_days_and_the_others_30() -> None:
    policy = shipped_policy()
    assert policy.limit("handoff_decision", "keva") == Limit(amount=21, unit="days")
    assert policy.limit("handoff_decision", "keva").describe() == "21 days"
    for partner in ("kela", "ilmarinen", None):
        limit = policy.limit("handoff_decision", partner)
        assert (limit.amount, limit.unit, limit.describe()) == (30, "days", "30 days")
    # A per-partner limit is only for the step that names it.
    assert policy.limit("handoff_ack", "keva").describe() == "10 working days"


def test_deadlines_count_from_when_the_step_took_effect() -> None:
    policy = shipped_policy()
    acknowledged = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert policy.deadline("handoff_decision", acknowledged, "keva") == datetime(
        2026, 3, 23, 9, 0, tzinfo=UTC
    )
    # 30 days crosses the spring DST change: 11:00 in Helsinki is then 08:00 UTC.
    assert policy.deadline("handoff_decision", acknowledged, "kela") == datetime(
        2026, 4, 1, 8, 0, tzinfo=UTC
    )
    requested = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)
    assert policy.deadline("handoff_ack", requested, "kela") == datetime(
        2027, 1, 7, 10, 0, tzinfo=UTC
    )


def test_a_fraction_of_a_limit_is_never_less_than_one_unit() -> None:
    since = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ten_working_days = Limit(amount=10, unit="working_days")
    assert ten_working_days.deadline(since, fraction=0.5) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    # Twenty working days reach past the spring DST change: 11:00 in Helsinki is 08:00 UTC.
    assert ten_working_days.deadline(since, fraction=2) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    one_second = Limit(amount=1, unit="seconds")
    assert one_second.deadline(since, fraction=0.5) == datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)


def test_a_policy_written_out_again_reads_the_same() -> None:
    assert parse_policy(policy_text(shipped_limits(), version="2026-01")) == shipped_policy()


def test_a_policy_file_is_loaded_from_a_path(tmp_path: Path) -> None:
    limits = shipped_limits() | {"handoff_ack": {"amount": 5, "unit": "seconds"}}
    path = tmp_path / "fast-policy.toml"
    path.write_text(policy_text(limits, version="test-fast"), encoding="utf-8")
    policy = load_policy(path)
    assert policy.version == "test-fast"
    assert policy.limit("handoff_ack").describe() == "5 seconds"


def test_a_policy_with_an_unknown_step_is_refused() -> None:
    limits = shipped_limits() | {"lunch": {"amount": 1, "unit": "days"}}
    with pytest.raises(msgspec.ValidationError, match=r"limits for unknown steps: \['lunch'\]"):
        parse_policy(policy_text(limits))


def test_a_policy_missing_a_step_is_refused() -> None:
    limits = shipped_limits()
    del limits["inactivity"]
    with pytest.raises(msgspec.ValidationError, match=r"no limit for steps: \['inactivity'\]"):
        parse_policy(policy_text(limits))


@pytest.mark.parametrize("amount", [0, -1])
def test_a_policy_with_a_non_positive_amount_is_refused(amount: int) -> None:
    limits = shipped_limits() | {"screening": {"amount": amount, "unit": "working_days"}}
    with pytest.raises(msgspec.ValidationError, match="Expected `int` >= 1"):
        parse_policy(policy_text(limits))


def test_a_non_positive_amount_for_a_partner_is_refused() -> None:
    limits = shipped_limits()
    limits["handoff_decision"]["per_partner"]["keva"]["amount"] = 0
    with pytest.raises(msgspec.ValidationError, match="Expected `int` >= 1"):
        parse_policy(policy_text(limits))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unit": "weeks"}, "Invalid enum value 'weeks'"),
        ({"per_partner": {"pohjola": {"amount": 5, "unit": "days"}}}, "unknown partners"),
        ({"hours": 3}, "unknown field `hours`"),
    ],
)
def test_a_policy_with_an_unknown_unit_partner_or_field_is_refused(
    change: dict[str, Any], message: str
) -> None:
    limits = shipped_limits()
    limits["handoff_ack"] = limits["handoff_ack"] | change
    with pytest.raises(msgspec.ValidationError, match=message):
        parse_policy(policy_text(limits))


def test_a_policy_built_in_code_is_checked_too() -> None:
    # __post_init__ runs on construction as well as on decoding.
    with pytest.raises(ValueError, match="no limit for steps"):
        StallPolicy(version="x", effective_from=date(2026, 1, 1), limits={})


# --- reference data ------------------------------------------------------------------------------


def test_every_teams_sector_exists() -> None:
    ref = reference()
    for area in ref.areas.values():
        for team in area.teams:
            assert ref.team_sector(team) in ref.sectors, team


def test_every_team_belongs_to_the_area_it_is_named_after() -> None:
    ref = reference()
    teams = [team for area in ref.areas.values() for team in area.teams]
    assert len(teams) == len(set(teams))
    for team in teams:
        assert team in ref.areas[team.split("-", 1)[0]].teams


def test_the_vocabularies_of_the_contract() -> None:
    ref = reference()
    assert set(ref.areas) == {"helsinki", "lantinen", "keskinen", "itainen"}
    assert [ref.areas[a].name for a in ("helsinki", "lantinen", "keskinen", "itainen")] == [
        "Helsinki",
        "Läntinen",
        "Keskinen",
        "Itäinen",
    ]
    assert {slug: p.name for slug, p in ref.partners.items()} == {
        "kela": "Kela",
        "keva": "Keva",
        "ilmarinen": "Ilmarinen",
    }
    assert set(ref.steps) == {
        "screening", "identification", "coaching_start", "service_plan", "subsidy_decision",
        "handoff_ack", "handoff_info", "handoff_decision", "inactivity",
    }  # fmt: skip
    assert {"F", "M", "G", "I"} <= set(ref.icd_chapters)
    assert all(len(letter) == 1 and letter.isupper() for letter in ref.icd_chapters)


def test_partner_steps_wait_on_the_partner() -> None:
    steps = reference().steps
    assert steps["handoff_ack"].waiting_on == "partner"
    assert steps["handoff_decision"].waiting_on == "partner"
    assert steps["handoff_info"].waiting_on == "staff"
    assert steps["coaching_start"].waiting_on == "client"


def test_reference_data_with_a_team_in_an_unknown_sector_is_refused() -> None:
    text = files("casework.domain").joinpath("reference.toml").read_text(encoding="utf-8")
    broken = text.replace('"helsinki-it"', '"helsinki-mining"')
    assert broken != text
    with pytest.raises(msgspec.ValidationError, match="team 'helsinki-mining' names an unknown"):
        parse_reference(broken)
