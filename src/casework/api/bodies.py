"""Request bodies: JSON in, a validated Struct out, or every failing field named at once.

A body is decoded straight into its Struct, which reads no deeper than the Struct's type, so a
hostile nesting cannot recurse. Only a body that fails is decoded loosely, to name each failing
field, and only once its nesting is known to be at most `limits.MAX_DEPTH`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

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
    errors = [
        FieldError(limits.printable_name(name), "no such field")
        for name in data
        if name not in fields
    ]
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
