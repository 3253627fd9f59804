"""Temporal's history must not become a second, unprotected copy of personal and health data.

A journey carrying an identity code, screening answers, a diagnosis chapter, sickness-allowance days
and a handoff summary runs to its end; its history and its handoff child's are then read through a
client that has no codec, and every byte is searched for the plaintexts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory

from casework.domain import commands as c
from casework.domain.policy import shipped_policy
from tests.workflows.helpers import STAFF, command, new_code, open_case_command, partner
from workflows.client import Journeys, Refused, case_id_for
from workflows.converter import ENCRYPTED, SealingCodec, data_converter
from workflows.messages import POLICY_VERSION, CommandRequest, handoff_workflow_id, journey_id

ANSWER = "sleepless since the foundry closed"
SUMMARY = "burnout after the night shifts at the harbour"
QUESTION = "which psychiatrist wrote the statement"
REPLY = "doctor Virtanen at the Aurora clinic"
REFUSAL_CODES = {"stale_version", "validation_failed"}
COMPLETED = UpdateWorkflowExecutionLifecycleStage.Value(
    "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED"
)
# What Temporal's core writes, unsealed, into a local activity's marker: no payload of ours.
MARKER_DATA_KEYS = {
    "seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff",
    "original_schedule_time", "activation_index",
}  # fmt: skip


@pytest.fixture(scope="module")
def journeys(client, task_queue) -> Journeys:
    return Journeys(client, task_queue, shipped_policy())


@pytest.fixture(scope="module")
async def plain_client(temporal) -> Client:
    """A client with Temporal's default data converter: it sees what the server stores."""
    target = temporal.client.service_client.config.target_host
    return await Client.connect(target, namespace=temporal.client.namespace)


def messages(message: Message, path: str = "") -> Iterator[tuple[str, Message]]:
    """Every message nested in `message` (maps and repeated fields too), with its field path."""
    yield path, message
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [(f"{path}.{field.name}[{k}]", v) for k, v in value.items()]
        elif field.is_repeated:
            items = [(f"{path}.{field.name}[]", v) for v in value]
        else:
            items = [(f"{path}.{field.name}", value)]
        for child_path, child in items:
            if isinstance(child, Message):
                yield from messages(child, child_path)


def raw(history: WorkflowHistory) -> bytes:
    return History(events=history.events).SerializeToString()


async def run_sensitive_journey(journeys: Journeys, identity_code: str) -> tuple[str, str]:
    opened = await journeys.open_case(open_case_command(identity_code=identity_code), STAFF)
    case_id, keva = opened.case_id, partner("keva")
    for name, body in [
        ("record_screening", {"answers": {"sleep": ANSWER}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("record_diagnosis", {"icd_chapter": "F", "b_statement_on": "2026-01-15"}),
        ("record_sickness_allowance", {"days_used": 287}),
    ]:
        await journeys.run(case_id, command(name, body), STAFF)
    # A refusal from the write itself (not the validator): its failure is in the history.
    with pytest.raises(Refused):
        await journeys.run(
            case_id, command("add_note", {"text": ANSWER}), STAFF, expected_version=1
        )
    shares = ["icd_chapter", "sickness_allowance"]
    requested = await journeys.run(case_id, command("request_handoff", {
        "partner": "keva", "summary": SUMMARY, "shares": shares,
        "consent": {"given_on": "2026-01-20", "partners": ["keva"], "shares": shares},
    }), STAFF)  # fmt: skip
    handoff_id = requested.state.handoffs[0].id
    on_handoff = {"handoff_id": handoff_id}
    await journeys.run(case_id, command("acknowledge_handoff", on_handoff), keva)
    await journeys.run(
        case_id, command("request_handoff_info", on_handoff | {"question": QUESTION}), keva
    )
    await journeys.run(
        case_id, command("supply_handoff_info", on_handoff | {"answer": REPLY}), STAFF
    )
    await journeys.run(case_id, command("accept_handoff", on_handoff), keva)
    done = on_handoff | {"outcome": "rehabilitation_granted"}
    await journeys.run(case_id, command("complete_handoff", done), keva)
    child = handoff_workflow_id(case_id, handoff_id)
    # Close only once the child has ended: a close racing the child's completion can fail its
    # workflow task (UnhandledCommand), and with it the update (see the report).
    await journeys.client.get_workflow_handle(child).result()
    await journeys.run(
        case_id, command("close_case", {"outcome": "rehabilitation", "reason": REPLY}), STAFF
    )
    return journey_id(case_id), child


async def run_refused_opening(journeys: Journeys, identity_code: str) -> str:
    # Not derived from the code: the idempotency key becomes the update id, stored in clear.
    key = f"privacy-bad-open-{uuid.uuid4()}"
    with pytest.raises(Refused) as refused:
        await journeys.open_case(open_case_command(identity_code=identity_code), STAFF, key)
    assert refused.value.code == "validation_failed"
    return journey_id(case_id_for(STAFF, key))


@pytest.fixture(scope="module")
async def recorded(journeys, client, plain_client) -> dict[str, object]:
    """The finished journey's, its handoff's and a refused opening's histories, read unsealed."""
    code = new_code()
    bad_code = code[:-1] + ("Y" if code[-1] != "Y" else "X")  # a wrong check character
    journey, child = await run_sensitive_journey(journeys, code)
    refused = await run_refused_opening(journeys, bad_code)
    for workflow_id in (journey, child, refused):
        await client.get_workflow_handle(workflow_id).result()  # wait for all three to end
    histories = {
        workflow_id: await plain_client.get_workflow_handle(workflow_id).fetch_history()
        for workflow_id in (journey, child, refused)
    }
    plaintexts = [
        code, bad_code, ANSWER, SUMMARY, QUESTION, REPLY,
        '"icd_chapter":"F"', "icd_chapter", '"days_used":287', "sickness_days_used",
    ]  # fmt: skip
    return {"histories": histories, "plaintexts": plaintexts}


def test_no_personal_or_health_data_appears_in_the_stored_histories(recorded):
    for workflow_id, history in recorded["histories"].items():
        stored = raw(history)
        assert len(history.events) > 5
        for text in recorded["plaintexts"]:
            assert text.encode() not in stored, f"{text!r} in the history of {workflow_id}"
            assert text not in workflow_id


async def test_the_search_would_find_the_data_once_unsealed(recorded, master_key):
    """The control: decoded with the codec, the same histories do hold the data."""
    codec = SealingCodec(master_key)
    unsealed = b""
    for history in recorded["histories"].values():
        for _, message in (m for e in history.events for m in messages(e)):
            if isinstance(message, Payload) and message.metadata.get("encoding") == ENCRYPTED:
                [inner] = await codec.decode([message])
                unsealed += inner.data
    for text in recorded["plaintexts"]:
        assert text.encode() in unsealed, text


def test_every_payload_of_the_histories_is_sealed(recorded):
    for workflow_id, history in recorded["histories"].items():
        sealed = 0
        for event in history.events:
            for path, message in messages(event):
                if not isinstance(message, Payload):
                    continue
                if path.startswith(".marker_recorded_event_attributes.details[data]"):
                    assert set(json.loads(message.data)) <= MARKER_DATA_KEYS, path
                    continue
                if path.endswith(f"search_attributes.indexed_fields[{POLICY_VERSION.name}]"):
                    # Indexed, so in clear: the policy version and nothing else.
                    assert json.loads(message.data) == shipped_policy().version, path
                    continue
                if path.startswith(".marker_recorded_event_attributes.details[patch-data]"):
                    # The SDK writes a patch's marker past the codec: it names only the patch.
                    assert set(json.loads(message.data)) <= {"id", "deprecated"}, path
                    continue
                if path.endswith("indexed_fields[TemporalChangeVersion]"):
                    # ...and indexes the patch ids for the server's search, in clear.
                    assert json.loads(message.data) == ["partner-webhooks"], path
                    continue
                assert message.metadata.get("encoding") == ENCRYPTED, (workflow_id, path)
                assert set(message.metadata) == {"encoding"}, (workflow_id, path)
                sealed += 1
        assert sealed >= 3, workflow_id


def test_refusals_reach_the_history_only_as_encoded_failures(recorded):
    failures = [
        message
        for history in recorded["histories"].values()
        for event in history.events
        for _, message in messages(event)
        if isinstance(message, Failure)
    ]
    assert failures, "the stale version and the bad opening should be in the histories"
    for failure in failures:
        assert failure.message == "Encoded failure"
        assert failure.stack_trace == ""
        assert failure.encoded_attributes.metadata["encoding"] == ENCRYPTED
        if failure.HasField("application_failure_info"):
            assert failure.application_failure_info.type in REFUSAL_CODES
    types = {f.application_failure_info.type for f in failures}
    assert types == REFUSAL_CODES


async def send_raw_update(
    plain_client: Client, master_key: bytes, request: CommandRequest
) -> Failure:
    """Send a sealed command past the SDK's client; return the refusal as the server relays it."""
    payloads = await data_converter(master_key).encode([request])
    response = await plain_client.workflow_service.update_workflow_execution(
        UpdateWorkflowExecutionRequest(
            namespace=plain_client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=journey_id(request.case_id)),
            wait_policy=WaitPolicy(lifecycle_stage=COMPLETED),
            request=Request(
                meta=Meta(update_id=str(uuid.uuid4()), identity="privacy-test"),
                input=Input(name=request.command.name(), args=Payloads(payloads=payloads)),
            ),
        )
    )
    assert response.outcome.HasField("failure"), response
    return response.outcome.failure


async def test_a_validators_refusal_crosses_the_server_sealed(journeys, plain_client, master_key):
    """A refusal may echo what was refused: the server relays it sealed, and records nothing."""
    opened = await journeys.open_case(open_case_command(), STAFF)
    case_id, keva = opened.case_id, partner("keva")
    for name, body in [
        ("record_screening", {"answers": {"q": "a"}, "concern": True}),
        ("add_tasmatyo_tag", {"basis": "screening"}),
        ("record_sickness_allowance", {"days_used": 287}),
        ("request_handoff", {"partner": "keva", "consent": {
            "given_on": "2026-01-20", "partners": ["keva"]}}),
    ]:  # fmt: skip
        outcome = await journeys.run(case_id, command(name, body), STAFF)
    handoff_id = outcome.state.handoffs[0].id
    refused = [
        (CommandRequest(case_id, c.RecordSicknessAllowance(days_used=100), STAFF),
         "validation_failed"),
        (CommandRequest(case_id, c.AcceptHandoff(handoff_id=handoff_id), keva), "illegal_step"),
    ]  # fmt: skip
    converter = data_converter(master_key)
    for request, code in refused:
        failure = await send_raw_update(plain_client, master_key, request)
        relayed = failure.SerializeToString()
        assert failure.message == "Encoded failure"
        assert failure.application_failure_info.type == code
        assert b"days_used" not in relayed
        # With the codec, the caller reads the refusal's sentence; without it, nothing of it.
        error = await converter.decode_failure(failure)
        assert len(error.message) > 20
        assert error.message.encode() not in relayed
        for word in error.message.split():
            if len(word) > 6:
                assert word.encode() not in relayed, word
    # A refused update is not recorded: the history holds neither request nor refusal.
    history = await plain_client.get_workflow_handle(journey_id(case_id)).fetch_history()
    names = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert "accept_handoff" not in names
    assert names.count("record_sickness_allowance") == 1
