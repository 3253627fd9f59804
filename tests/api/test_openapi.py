"""The OpenAPI a client learns the API from: valid, every body and answer typed, every command its
own operation with its examples, and the token to send."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from openapi_spec_validator import validate

from casework.api.bodies import decode_body
from casework.api.cases import operation_id
from casework.domain import commands as c
from casework.domain.examples import EXAMPLES

METHODS = ("get", "post", "put", "patch", "delete")
BODIES = {"open_case": c.OpenCase} | c.CASE_COMMANDS


@pytest.fixture(scope="module")
async def spec(http) -> dict[str, Any]:
    response = await http.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def test_the_openapi_is_valid(spec):
    validate(spec)


def test_every_operation_declares_a_schema_for_its_body_and_every_answer(spec):
    missing = []
    for method, path, operation in operations(spec):
        where = f"{method.upper()} {path}"
        if method in ("post", "put", "patch"):
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not (body and body.get("schema")):
                missing.append(f"{where}: request body")
        for status, answer in operation["responses"].items():
            for media_type, content in (answer.get("content") or {}).items():
                if not content.get("schema"):
                    missing.append(f"{where} {status} {media_type}")
            if not answer.get("content") and status not in ("204", "304"):  # no body, by definition
                missing.append(f"{where} {status}: no content")
    assert missing == []


def test_every_error_an_operation_declares_is_problem_json(spec):
    for _, _, operation in operations(spec):
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                assert list(answer["content"]) == ["application/problem+json"], status
                schema = resolve(spec, answer["content"]["application/problem+json"]["schema"])
                assert {"type", "title", "status", "detail", "code"} <= set(schema["required"])


def test_every_command_is_its_own_operation_with_its_struct_as_the_body(spec):
    for name, cls in c.CASE_COMMANDS.items():
        operation = spec["paths"][f"/api/cases/{{case_id}}/commands/{name}"]["post"]
        assert operation["operationId"] == operation_id(name)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{cls.__name__}"}
        body = resolve(spec, schema)
        fields = {f.encode_name for f in msgspec.structs.fields(cls)}
        assert set(body["properties"]) == fields | {c.TAG}
        assert c.TAG not in body.get("required", [])
        assert body["additionalProperties"] is False


def test_every_command_carries_examples_that_decode_into_its_struct(spec):
    assert set(EXAMPLES) == set(BODIES)
    for name, cls in BODIES.items():
        examples = resolve(spec, {"$ref": f"#/components/schemas/{cls.__name__}"})["examples"]
        assert examples == list(EXAMPLES[name].values())
        for example in examples:
            assert isinstance(decode_body(cls, msgspec.json.encode(example)), cls)


def test_every_api_operation_asks_for_a_bearer_token_or_the_session_cookie(spec):
    schemes = spec["components"]["securitySchemes"]
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "casework_session")
    for method, path, operation in operations(spec):
        expected = [{"bearer": []}, {"session": []}] if path.startswith("/api/") else None
        assert operation.get("security") == expected, f"{method} {path}"


def test_a_command_answer_is_typed_with_the_items_it_created(spec):
    operation = spec["paths"]["/api/cases/{case_id}/commands/request_handoff"]["post"]
    answer = resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(answer["required"]) == {"id", "version", "events", "created"}
    assert answer["properties"]["created"]["additionalProperties"] == {"type": "string"}


async def test_the_docs_serve_a_swagger_ui_that_reads_this_openapi_version(http, spec):
    assert spec["openapi"].startswith("3.1")
    bundle = await http.get("/schema/assets/swagger-ui-bundle.js")
    # Swagger UI 4 renders only OpenAPI 3.0 documents; 5 reads 3.1.
    assert 'PACKAGE_VERSION:"5.' in bundle.text
