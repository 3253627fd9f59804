"""Live updates over real HTTP: a case's stream, the stalled queue's, a partner's, the limits on
open streams, and a server that stops with streams open — against the real app, worker, views,
Temporal and PostgreSQL (the case views announce each batch with NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import EventSource, aconnect_sse

from casework.api.asgi import create_app
from casework.api.deps import Services
from casework.domain.policy import shipped_policy
from casework.service import Server
from casework.settings import Settings
from tests.api.test_cases_api import open_case, run
from tests.api.test_partners_api import hand_over
from tests.workflows.helpers import eventually
from workflows.client import Journeys

PER_CALLER, TOTAL = 2, 3
NOTE = {"text": "soitettu asiakkaalle"}


@pytest.fixture(scope="module")
def services(app, client, task_queue, auth, projections) -> Services:
    """Low limits on open streams, so the tests reach them."""
    settings = Settings(streams_per_caller=PER_CALLER, streams_total=TOTAL)
    return Services(settings, app, Journeys(client, task_queue, shipped_policy()), auth,
                    projections)  # fmt: skip


@pytest.fixture(autouse=True)
async def every_stream_released(services) -> None:
    """Each test begins with no stream open: the server hears of a client gone asynchronously."""
    await released(services)


@contextlib.asynccontextmanager
async def stream(http, path: str, headers: dict[str, str]) -> AsyncIterator[EventSource]:
    async with aconnect_sse(http, "GET", path, headers=headers) as source:
        yield source


async def changes(source: EventSource) -> AsyncIterator[dict[str, Any]]:
    """The data of each `changed` event, as it arrives."""
    assert source.response.status_code == 200, await source.response.aread()
    async for event in source.aiter_sse():
        assert event.event in ("changed", "message"), event  # a `message`: the opening id
        if event.event == "changed":
            yield json.loads(event.data)


async def first_change(source: EventSource) -> dict[str, Any]:
    async for change in changes(source):
        return change
    raise AssertionError("the stream ended")


async def released(services: Services) -> None:
    """Until the server has seen every client go (it hears of a disconnect asynchronously)."""
    while services.streams.streams:
        await asyncio.sleep(0.01)


async def test_a_command_on_a_case_sends_its_new_version_on_the_case_stream(http, token):
    case_id = await open_case(http, token)
    async with stream(http, f"/api/cases/{case_id}/stream", token()) as source:
        answer = await run(http, token(), case_id, "add_note", NOTE)
        assert answer.status_code == 200, answer.text
        change = await first_change(source)
    assert change == {"case_id": case_id, "version": answer.json()["version"]}


async def test_a_case_stream_says_nothing_of_other_cases(http, token):
    watched, other = await open_case(http, token), await open_case(http, token)
    async with stream(http, f"/api/cases/{watched}/stream", token()) as source:
        await run(http, token(), other, "add_note", NOTE)
        await run(http, token(), watched, "add_note", NOTE)
        assert (await first_change(source))["case_id"] == watched


async def test_a_stream_reconnecting_with_last_event_id_is_sent_what_it_missed(
    http, token, services
):
    case_id = await open_case(http, token)
    path = f"/api/cases/{case_id}/stream"
    async with stream(http, path, token()) as source:
        await run(http, token(), case_id, "add_note", NOTE)
        async for event in source.aiter_sse():
            if event.event == "changed":
                last_id = event.id
                break
    await released(services)
    missed = await run(http, token(), case_id, "add_note", NOTE)  # while nobody listened
    latest = (await run(http, token(), case_id, "add_note", NOTE)).json()["version"]

    async def listed() -> bool:  # the view has it: announced before the reconnection
        page = await http.get("/api/cases", params={"q": case_id}, headers=token())
        return page.json()["items"][0]["version"] == latest

    await eventually(listed)
    async with stream(http, path, token() | {"Last-Event-ID": last_id}) as source:
        seen = changes(source)
        assert (await anext(seen))["version"] == missed.json()["version"]
        assert (await anext(seen))["version"] == latest


async def test_a_caller_who_may_not_see_the_case_gets_a_404_not_a_stream(http, token, services):
    case_id = await open_case(http, token)
    for headers, path in [
        (token("partner", "*", partner="keva"), f"/api/cases/{case_id}/stream"),
        (token(), "/api/cases/00000000-0000-4000-8000-000000000000/stream"),
    ]:
        response = await http.get(path, headers=headers)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert not services.streams.streams


async def test_an_auditor_streams_a_case_with_a_reason_as_they_read_it(http, token):
    case_id = await open_case(http, token)
    auditor = token("auditor", "*")
    response = await http.get(f"/api/cases/{case_id}/stream", headers=auditor)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    async with stream(http, f"/api/cases/{case_id}/stream?reason=valvonta", auditor) as source:
        await run(http, token(), case_id, "add_note", NOTE)
        assert (await first_change(source))["case_id"] == case_id


async def test_a_partners_stream_names_only_its_own_tasks_and_no_case(http, token, app):
    kela, keva = token("partner", "*", partner="kela"), token("partner", "*", partner="keva")
    async with (
        stream(http, "/api/partners/kela/tasks/stream", kela) as kela_source,
        stream(http, "/api/partners/keva/tasks/stream", keva) as keva_source,
    ):
        to_keva = await hand_over(http, token, app, "keva", values=False)
        to_kela = await hand_over(http, token, app, "kela", values=False)
        kela_change, keva_change = await first_change(kela_source), await first_change(keva_source)
    assert kela_change == {"task": to_kela.task, "version": kela_change["version"]}
    assert keva_change == {"task": to_keva.task, "version": keva_change["version"]}
    other = await http.get("/api/partners/kela/tasks/stream", headers=keva)
    assert other.status_code == 404, other.text


async def test_a_coordinator_sees_a_case_leave_the_stalled_queue_by_its_stream(http, token):
    """A back-dated opening stalls at once (screening is 10 working days late); the stream of
    the area's queue names the case when it stalls and when the screening clears it."""
    coordinator = token("coordinator", "helsinki")
    async with stream(http, "/api/queues/stalled/stream?area=helsinki", coordinator) as source:
        case_id = await open_case(http, token, effective_at="2026-01-05T09:00:00+02:00")
        seen = changes(source)
        stalled = await anext(seen)
        assert stalled["case_id"] == case_id
        body = {"answers": {"q1": "selkä"}, "concern": False}
        screened = await run(http, token(), case_id, "record_screening", body)
        assert screened.status_code == 200, screened.text
        version = screened.json()["version"]
        async for change in seen:  # the stalls first (screening, inactivity), then the clearing
            assert change["case_id"] == case_id
            if change["version"] >= version:
                break


async def test_a_stream_beyond_the_limits_is_a_429_and_a_closed_one_frees_its_place(
    http, token, services
):
    case_id = await open_case(http, token)
    path = f"/api/cases/{case_id}/stream"
    anna, ben, cecilia = (token(sub=name) for name in ("anna", "ben", "cecilia"))
    async with contextlib.AsyncExitStack() as open_streams:
        for _ in range(PER_CALLER):
            await open_streams.enter_async_context(stream(http, path, anna))
        per_caller = await http.get(path, headers=anna)
        assert per_caller.status_code == 429, per_caller.text
        assert per_caller.headers["content-type"].startswith("application/problem+json")
        assert per_caller.headers["retry-after"]
        await open_streams.enter_async_context(stream(http, path, ben))
        in_all = await http.get(path, headers=cecilia)
        assert in_all.status_code == 429, in_all.text
    await released(services)
    async with stream(http, path, anna) as source:
        await run(http, token(), case_id, "add_note", NOTE)
        assert (await first_change(source))["case_id"] == case_id


async def test_the_server_stops_with_streams_open_and_ends_them_cleanly(
    app, client, task_queue, auth, projections, token
):
    """uvicorn waits for open responses before it stops; without a bound here it would wait for
    ever, so the stop completing at all shows that the streams were ended."""
    services = Services(Settings(), app, Journeys(client, task_queue, shipped_policy()), auth,
                        projections)  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_config=None)
    server = Server(config, services.streams)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        case_id = await open_case(http, token)
        async with (
            stream(http, f"/api/cases/{case_id}/stream", token()) as first,
            stream(http, "/api/queues/stalled/stream", token()) as second,
        ):
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=60)  # a guard against hanging, not a bound
            for source in (first, second):
                assert [change async for change in changes(source)] == []  # ended, not cut
    assert not services.streams.streams
