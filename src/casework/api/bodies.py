"""Request bodies: JSON in, a validated Struct out, or every failing field named at once."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from casework.api.problems import Malformed
from casework.domain.errors import FieldError, ValidationFailed

S = TypeVar("S", bound=msgspec.Struct)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise Malformed("the request needs a JSON body")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise Malformed(f"the body is not valid JSON: {error}") from None


def validate(cls: type[S], data: Any) -> S:
    """Decode `data` into `cls`; on failure, check each field alone so all failures are named."""
    if not isinstance(data, dict):
        raise ValidationFailed.field("body", "send a JSON object")
    encoded = msgspec.json.encode(data)
    try:
        return msgspec.json.decode(encoded, type=cls)
    except msgspec.ValidationError as first:
        errors = _field_errors(cls, data) or [FieldError("body", str(first))]
        raise ValidationFailed(errors) from None


def _field_errors(cls: type[msgspec.Struct], data: dict[str, Any]) -> list[FieldError]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    errors = [FieldError(name, "no such field") for name in data if name not in fields]
    for name, info in fields.items():
        if name not in data:
            if info.required:
                errors.append(FieldError(name, "this field is required"))
            continue
        try:
            msgspec.json.decode(msgspec.json.encode(data[name]), type=info.type)
        except msgspec.ValidationError as error:
            errors.append(FieldError(_path(name, error), _message(error)))
    return errors


def _path(name: str, error: msgspec.ValidationError) -> str:
    text = str(error)
    return name + text.split("`$", 1)[1].split("`", 1)[0] if "`$" in text else name


def _message(error: msgspec.ValidationError) -> str:
    return str(error).split(" - at `", 1)[0]
