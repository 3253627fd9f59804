"""The limits live in the commands: the workflow and the importer refuse what the API refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import msgspec
import pytest
from temporalio.api.common.v1 import Payload

from casework.domain import commands as c
from casework.domain.errors import FieldError, ValidationFailed
from casework.importer import decode_line, replay_journey
from workflows.converter import MsgspecJSONConverter
from workflows.messages import Caller, CommandRequest

IMPORTER = c.Actor("legacy-import", "staff", "*")
CALLER = Caller(c.Actor("anna", "staff", "helsinki"), correlation_id="t")
EMPLOYER = "00000000-0000-4000-8000-000000000001"


def import_line(**fields: object) -> str:
    journey = {"identity_code": "131052-308T", "area": "helsinki", "team": "helsinki-it",
               "opened_at": "2025-03-04T09:00:00+02:00"} | fields  # fmt: skip
    return json.dumps(journey)


def replayed(line: str) -> None:
    journey, code = decode_line(line)
    replay_journey(journey, code, uuid4(), IMPORTER, datetime.now(UTC))


def arriving_at_the_workflow(command: dict[str, object]) -> CommandRequest:
    """A command as the journey's validator decodes it from its update's payload."""
    request = {"case_id": str(uuid4()), "command": command, "caller": msgspec.to_builtins(CALLER)}
    payload = Payload(data=msgspec.json.encode(request))
    return MsgspecJSONConverter().from_payload(payload, CommandRequest)


def test_the_workflow_refuses_a_nul_in_a_command_naming_the_field() -> None:
    command = {"command": "make_job_referral", "employer_id": EMPLOYER, "vacancy_id": "v-1\x00"}
    with pytest.raises(ValidationFailed) as raised:
        arriving_at_the_workflow(command)
    assert raised.value.errors == [FieldError("vacancy_id", "control characters are not allowed")]


def test_the_workflow_refuses_a_date_beyond_the_calendar_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        arriving_at_the_workflow({"command": "start_employment", "starts_on": "2101-01-01"})
    assert [e.field for e in raised.value.errors] == ["starts_on"]


def test_the_workflow_decodes_a_command_as_the_struct_its_tag_names() -> None:
    request = arriving_at_the_workflow({"command": "add_note", "text": "soitettu"})
    assert request.command == c.AddNote(text="soitettu")


def test_an_import_line_opened_in_1989_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        replayed(import_line(opened_at="1989-06-01T09:00:00+03:00"))
    assert [e.field for e in raised.value.errors] == ["effective_at"]


def test_an_import_line_with_a_nul_in_its_assignee_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as raised:
        replayed(import_line(assignee="an\x00na"))
    assert [e.field for e in raised.value.errors] == ["assignee"]


def test_an_import_line_with_an_assignee_of_650000_characters_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="assignee"):
        replayed(import_line(assignee="a" * 650_000))


def test_an_imported_step_with_a_control_character_is_refused_naming_the_step() -> None:
    step = {"command": "add_note", "at": "2025-03-05T09:00:00+02:00", "body": {"text": "a\x07"}}
    with pytest.raises(ValidationFailed, match="text: control characters"):
        replayed(import_line(steps=[step]))


def test_a_command_made_in_code_meets_the_same_checks() -> None:
    with pytest.raises(ValidationFailed) as raised:
        c.Reassign(assignee="anna\x00", team="helsinki-it")
    assert [e.field for e in raised.value.errors] == ["assignee"]


def test_an_import_line_nested_a_thousand_deep_is_a_line_failure_not_the_end_of_the_import():
    step = {"command": "add_note", "at": "2025-03-05T09:00:00+02:00", "body": {"text": "x"}}
    line = import_line(steps=[step]).replace('"x"', "[" * 1000 + "]" * 1000)
    with pytest.raises(ValidationFailed, match="nests deeper"):
        replayed(line)


def test_next_steps_of_a_case_stored_before_1990_was_refused_are_still_offered() -> None:
    from casework.domain.rules import next_steps
    from casework.domain.state import CaseState

    ctx = c.Context(actor=c.Actor("anna", "staff", "helsinki"), recorded_at=datetime.now(UTC),
                    correlation_id="t")  # fmt: skip
    state = CaseState(case_id=str(uuid4()), client_id=str(uuid4()), area="helsinki",
                      team="helsinki-it", channel="staff",
                      opened_at=datetime(1989, 6, 1, 9, tzinfo=UTC))  # fmt: skip
    assert "record_diagnosis" in next_steps(state, ctx)
