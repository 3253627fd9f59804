"""Request bodies: JSON in, a validated Struct out, or every failing field named at once.

A body is decoded straight into its Struct, which reads no deeper than the Struct's type, so a
hostile nesting cannot recurse. Only a body that fails is decoded loosely, to name each failing
field, and only once its nesting is known to be at most `limits.MAX_DEPTH`.

A route declares its body as `data: TheStruct` with `dto=Decoded[TheStruct]`: the OpenAPI then
shows the Struct's schema, and the body is decoded here, not by Litestar (which names only the
first failing field).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from casework.api.problems import Malformed
from casework.domain import limits
from casework.domain.errors import FieldError, ValidationFailed

S = TypeVar("S", bound=msgspec.Struct)


def decode_body(cls: type[S], raw: bytes) -> S:
    """The body as `cls`: Malformed if it is not JSON, ValidationFailed naming every field."""
    if not raw.strip():
        raise Malformed("the request needs a JSON body")
    try:
        return msgspec.json.decode(raw, type=cls)
    except msgspec.ValidationError as first:
        data = _loose(raw)
        if not isinstance(data, dict):
            raise ValidationFailed.field("body", "send a JSON object") from None
        errors = _field_errors(cls, data) or [FieldError("body", str(first))]
        raise ValidationFailed(errors) from None
    except msgspec.DecodeError as error:
        raise Malformed(f"the body is not valid JSON: {error}") from None


def _loose(raw: bytes) -> Any:
    if limits.nests_deeper(raw):
        raise Malformed(f"the body nests deeper than {limits.MAX_DEPTH} levels")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise Malformed(f"the body is not valid JSON: {error}") from None


def _field_errors(cls: type[msgspec.Struct], data: dict[str, Any]) -> list[FieldError]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    config = cls.__struct_config__
    errors = [
        FieldError(limits.printable_name(name), "no such field")
        for name in data
        if name not in fields and name != config.tag_field
    ]
    if config.tag_field in data and data[config.tag_field] != config.tag:
        errors.append(FieldError(config.tag_field, f"give {config.tag!r} here, or leave it out"))
    for name, info in fields.items():
        if name not in data:
            if info.required:
                errors.append(FieldError(name, "this field is required"))
            continue
        try:
            value = msgspec.json.decode(msgspec.json.encode(data[name]), type=info.type)
        except msgspec.ValidationError as error:
            errors.append(FieldError(_path(name, error), _message(error)))
        else:
            errors += limits.field_errors(cls, info.name, value)
    return errors


def _path(name: str, error: msgspec.ValidationError) -> str:
    text = str(error)
    return name + text.split("`$", 1)[1].split("`", 1)[0] if "`$" in text else name


def _message(error: msgspec.ValidationError) -> str:
    return str(error).split(" - at `", 1)[0]


class Decoded(AbstractDTO[S], Generic[S]):
    """Litestar's hook for a request body (a DTO), used for two things only: the OpenAPI shows
    the Struct's own schema, and `decode_body` decodes the raw bytes."""

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        return None  # no transfer models: the Struct is decoded as it is

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Iterator[DTOFieldDefinition]:
        return iter(())

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    def decode_bytes(self, value: bytes) -> S:
        return decode_body(self.model_type, value)
