"""Health and personal data never reach a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from casework.logs import configure_logging
from tests.workflows.helpers import new_code


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo configure_logging's debug level and handlers for the tests that follow."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


SECRETS = ("tinnitus-and-migraine", "rehabilitation-for-burnout", "whispered-confidence")


async def test_a_journey_with_health_data_leaves_no_trace_of_it_in_the_logs(
    http, token, capsys, caplog
):
    configure_logging("debug")
    caplog.set_level(logging.DEBUG)
    code = new_code()
    opened = await http.post(
        "/api/cases",
        json={"identity_code": code, "area": "helsinki", "team": "helsinki-it"},
        headers=token(),
    )
    case_id = opened.json()["id"]
    commands = [
        ("record_screening", {"answers": {"q": SECRETS[0]}, "concern": True}),
        ("record_diagnosis", {"icd_chapter": "F", "b_statement_on": "2026-10-01"}),
        ("record_sickness_allowance", {"days_used": 287}),
        ("record_sickness_allowance", {"days_used": 12}),  # refused: days cannot go down
        ("add_tasmatyo_tag", {"basis": "b_statement"}),
        ("request_handoff", {
            "partner": "kela", "summary": SECRETS[1],
            "consent": {"given_on": "2026-11-01", "partners": ["kela"]},
        }),
        ("add_note", {"text": SECRETS[2]}),
    ]  # fmt: skip
    for name, body in commands:
        await http.post(f"/api/cases/{case_id}/commands/{name}", json=body, headers=token())
    await http.get(f"/api/cases/{case_id}/history", headers=token())

    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert '"event": "request"' in logged  # the request log is on, and JSON
    for secret in (code, *SECRETS):
        assert secret not in logged


def test_protected_field_names_are_redacted_by_the_log_processor(capsys):
    configure_logging("info")
    structlog.get_logger("test").info("oops", icd_chapter="F", days_used=287, case_id="c-1")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["icd_chapter"], line["days_used"]) == ("[redacted]", "[redacted]")
    assert line["case_id"] == "c-1"
