"""Webhooks to a partner's system: a receiver this test runs on a loopback port (real HTTP) gets
signed notices of new tasks and changes, delivered by a Temporal activity and retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.api.test_partners_api import hand_over, task_path
from tests.workflows.helpers import eventually

pytest_plugins = ["tests.api.conftest"]


class Receiver:
    """A partner's endpoint: records every request; answers 500 to the first `failures`."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                failing = len(receiver.received) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/casework"

    def notices(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver(failures=1)
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    yield running
    running.server.shutdown()
    thread.join()


def verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a partner's system does with a delivery (README "Partners")."""
    fields = dict(part.split("=", 1) for part in headers["Casework-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["v1"])


async def test_a_partner_hears_of_its_new_task_and_each_change_signed_and_retried(
    http, token, app, receiver
):
    kela = token("partner", "*", partner="kela")
    registered = await http.put(
        "/api/partners/kela/webhook", json={"url": receiver.url, "description": "Kela"},
        headers=kela,
    )  # fmt: skip
    assert registered.status_code == 200, registered.text
    secret = registered.json()["secret"]
    shown = (await http.get("/api/partners/kela/webhook", headers=kela)).json()
    assert shown["url"] == receiver.url
    assert secret not in json.dumps(shown)  # shown once, at registration

    handoff = await hand_over(http, token, app, "kela", shares=["icd_chapter", "identity_code"])
    await eventually(lambda: len(receiver.received) >= 2)  # refused once, then delivered
    (first_headers, first), (second_headers, second) = receiver.received[:2]
    assert first == second  # a retry sends the same notice
    assert first_headers["Casework-Delivery"] == second_headers["Casework-Delivery"]
    assert verifies(secret, first_headers, first)
    assert verifies(secret, second_headers, second)
    assert not verifies("whsec_not-the-secret", second_headers, second)
    notice = json.loads(second)
    assert set(notice) == {"delivery", "partner", "task", "changes", "at"}  # ids, no values
    assert (notice["partner"], notice["task"], notice["changes"]) == (
        "kela",
        handoff.task,
        ["created"],
    )
    assert handoff.code.encode() not in second

    acknowledged = await http.post(task_path("kela", handoff, "acknowledge"), json={}, headers=kela)
    assert acknowledged.status_code == 200, acknowledged.text
    await eventually(lambda: ["acknowledged"] in [n["changes"] for n in receiver.notices()])

    async def deliveries() -> list[tuple[Any, ...]]:
        doc = (await http.get(task_path("kela", handoff), headers=kela)).json()
        found = [
            (
                item["type"],
                item["data"]["changes"],
                item["data"]["attempt"],
                item["data"]["status_code"],
            )
            for item in doc["history"]
            if item["type"].startswith("Webhook")
        ]
        return found if len(found) == 3 else []

    assert await eventually(deliveries) == [
        ("WebhookFailed", ["created"], 1, 500),
        ("WebhookDelivered", ["created"], 2, 200),
        ("WebhookDelivered", ["acknowledged"], 1, 200),
    ]


async def test_a_webhook_needs_an_http_url_and_can_be_removed(http, token):
    keva = token("partner", "*", partner="keva")
    for url in ("ftp://kela.example/hooks", "http://", "x" * 3000):
        refused = await http.put("/api/partners/keva/webhook", json={"url": url}, headers=keva)
        assert refused.status_code == 422, url
        assert [e["field"] for e in refused.json()["errors"]] == ["url"]
    body = {"url": "https://keva.example/hooks"}
    assert (
        await http.put("/api/partners/keva/webhook", json=body, headers=keva)
    ).status_code == 200
    assert (await http.delete("/api/partners/keva/webhook", headers=keva)).status_code == 204
    assert (await http.get("/api/partners/keva/webhook", headers=keva)).status_code == 404
    assert (await http.delete("/api/partners/keva/webhook", headers=keva)).status_code == 404
