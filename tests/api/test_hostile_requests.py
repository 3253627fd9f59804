"""Hostile requests, generated: whatever a body or a query string holds, the answer is a 4xx
problem (never a 500) and the store is as it was.

Every generated body holds at least one thing no field accepts (a control character, a string
longer than any maximum, a wrong type, nesting past the bound, a date beyond the calendar, an
unknown field), so no generated command can be valid.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework.domain import commands as c
from tests.api.test_cases_api import PROBLEM, open_case

ROUTES = {"open_case": c.OpenCase} | c.CASE_COMMANDS
HOSTILE = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])

CONTROL = st.sampled_from(
    [chr(n) for n in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))]
)
printable = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=12)
with_control = st.builds(lambda a, ch, b: a + ch + b, printable, CONTROL, printable)


def longer_than(limit: int, most: int = 200_000) -> st.SearchStrategy[str]:
    return st.integers(limit + 1, most).map(lambda n: "x" * n)


wrong_type = st.sampled_from([1.5, -1.5, [1.5], {"x": 1.5}])
too_deep = st.integers(33, 1500).map(lambda n: msgspec.Raw(b"[" * n + b"]" * n))
bad_day = st.dates(max_value=date(1989, 12, 31)) | st.dates(min_value=date(2101, 1, 1))
bad_moment = bad_day.map(lambda d: f"{d.isoformat()}T12:00:00+02:00") | st.datetimes(
    datetime(1990, 1, 1), datetime(2100, 1, 1)
).map(datetime.isoformat)  # the second: without an offset


def _core(info: mi.Type) -> mi.Type:
    """The type under its metadata and its `| None`."""
    if isinstance(info, mi.Metadata):
        return _core(info.type)
    if isinstance(info, mi.UnionType):
        return _core(next(t for t in info.types if not isinstance(t, mi.NoneType)))
    return info


def hostile(info: mi.Type) -> st.SearchStrategy[Any]:
    """Values that a field of this type refuses."""
    options = [with_control, longer_than(4000), wrong_type, too_deep]
    core = _core(info)
    if isinstance(core, mi.DateTimeType):
        options.append(bad_moment)
    elif isinstance(core, mi.DateType):
        options.append(bad_day.map(date.isoformat))
    elif isinstance(core, mi.DictType):  # the answers of a screening
        key, value = with_control | longer_than(64, 300), with_control | longer_than(1000, 5000)
        options += [
            st.builds(lambda k: {k: "yes"}, key),
            st.builds(lambda v: {"q1": v}, value),
            st.just({f"q{n}": "yes" for n in range(61)}),
        ]
    elif isinstance(core, mi.ListType):
        items = st.lists(with_control | longer_than(64, 300) | wrong_type, min_size=1, max_size=3)
        options += [items, st.just(["kela"] * 11)]
    elif isinstance(core, mi.StructType):  # the consent of a handoff
        options.append(hostile_body(core.cls))
    return st.one_of(options)


@st.composite
def hostile_body(draw: st.DrawFn, cls: type[msgspec.Struct]) -> dict[str, Any]:
    """Some of the Struct's fields, each with a value it refuses; or an unknown field besides."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = {f.encode_name: f.type for f in info.fields}
    names = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3))
    body = {name: draw(hostile(fields[name]), label=name) for name in names}
    if not names or draw(st.booleans()):
        unknown = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12) | with_control
        body |= draw(
            st.dictionaries(unknown.filter(lambda n: n not in fields), st.integers(), min_size=1)
        )
    return body


not_an_object = st.sampled_from(
    [b"", b"   ", b"{not json", b'{"text": "\xff"}', b"[]", b'"text"', b"null", b"1e999999"]
) | too_deep.map(bytes) | st.binary(max_size=50).map(lambda b: b"\xff" + b)  # fmt: skip


@st.composite
def hostile_command(draw: st.DrawFn) -> tuple[str, bytes]:
    """A command's name and a body it refuses; or a name no command has."""
    name = draw(st.sampled_from(sorted(ROUTES)) | with_control | longer_than(64, 2000))
    cls = ROUTES.get(name, c.AddNote)
    body = draw(hostile_body(cls).map(msgspec.json.encode) | not_an_object)
    return name, body


idempotency_keys = st.none() | longer_than(200, 2000) | st.just("tab\tinside")


@pytest.fixture(scope="module")
async def target(http, token) -> str:
    """One open case every hostile request is aimed at: each must leave it untouched."""
    return await open_case(http, token)


def assert_refused(response) -> None:
    assert 400 <= response.status_code < 500, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["code"]
    assert problem["detail"]


@HOSTILE
@given(command=hostile_command(), key=idempotency_keys)
async def test_a_hostile_body_for_any_command_is_a_4xx_problem_and_stores_nothing(
    http, token, store_rows, target, command, key
):
    name, body = command
    command = quote(name, safe="")
    path = "/api/cases" if name == "open_case" else f"/api/cases/{target}/commands/{command}"
    headers = token("coordinator", "*") | {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    before = store_rows()
    assert_refused(await http.post(path, content=body, headers=headers))
    assert store_rows() == before


name_filter = with_control | longer_than(64, 2000)
number = st.integers(-(10**20), 10**20).map(str) | st.text("abcxyz", min_size=1, max_size=5)
month = with_control | longer_than(7, 50) | st.integers(0, 1989).map("{:04d}-01".format)
month |= st.integers(2101, 9999).map("{:04d}-12".format) | st.text("abc-", min_size=1)
moment = with_control | bad_moment | st.text("abcxyz", min_size=1, max_size=10)
cursor = with_control | longer_than(500, 2000) | st.text("ABCxyz019-_=", min_size=1)
reason = with_control | longer_than(2000, 5000) | st.just("")
limit = number.filter(lambda n: not n.isdigit() or not 1 <= int(n) <= 500)

TASK_NOBODY_WAS_GIVEN = "A" * 54  # decodes to no task: 404 whatever else the query holds
# Each GET route, and values of its parameters it must refuse.
QUERIES: dict[str, dict[str, st.SearchStrategy[str]]] = {
    "/api/cases": {
        "area": name_filter, "team": name_filter, "stage": name_filter, "tag": name_filter,
        "q": with_control | longer_than(100, 2000), "cursor": cursor, "limit": limit,
    },
    "/api/cases/{case}": {
        "version": number.filter(lambda n: not n.isdigit() or int(n) > 1), "as_of": moment,
        "known_at": moment, "effective_at": moment, "reason": reason,
    },
    "/api/cases/{case}/history": {"limit": limit, "cursor": cursor, "reason": reason},
    "/api/queues/stalled": {
        "area": name_filter, "team": name_filter, "step": name_filter, "partner": name_filter,
        "at_risk_days": number.filter(lambda n: not n.isdigit() or int(n) > 60),
    },
    "/api/employers": {"sector": name_filter, "area": name_filter},
    "/api/partners/{partner}/tasks": {
        "limit": limit,
        "state": name_filter | st.sampled_from(["Open", "all", "pending"]), "cursor": cursor,
    },
    "/api/partners/{partner}/tasks/{task}": {},
    "/api/indicators": {"from": month, "to": month, "area": name_filter},
    "/api/reference": {},
    "/api/audit/cases/{case}/verify": {},
    "/api/audit/cases/{case}/export": {"reason": reason},
    "/api/audit/access": {
        "case": with_control | printable, "from": moment, "to": moment,
        "actor": with_control | longer_than(200, 2000) | st.just(""),
        "limit": limit, "cursor": cursor,
    },
    "/health": {},
    "/ready": {},
    "/metrics": {},
}  # fmt: skip


@st.composite
def hostile_query(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], str]:
    route = draw(st.sampled_from(sorted(QUERIES)))
    declared = QUERIES[route]
    names = draw(st.lists(st.sampled_from(sorted(declared)), unique=True)) if declared else []
    params = [(name, draw(declared[name], label=name)) for name in names]
    partner = draw(st.just("kela") | name_filter) if "{partner}" in route else "kela"
    if (not names and partner == "kela") or draw(st.booleans()):
        params.append((draw(printable | with_control), draw(with_control)))
    return route, params, partner


@HOSTILE
@given(query=hostile_query())
async def test_a_hostile_query_string_on_any_get_route_is_a_4xx_problem_and_stores_nothing(
    http, token, store_rows, target, query
):
    route, params, partner = query
    path = route.format(case=target, partner=quote(partner, safe=""), task=TASK_NOBODY_WAS_GIVEN)
    role = "auditor" if route.startswith("/api/audit") else "coordinator"
    before = store_rows()
    assert_refused(await http.get(path, params=params, headers=token(role, "*")))
    assert store_rows() == before
