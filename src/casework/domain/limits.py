"""What every value from outside must be, beyond its type: printable, and dated within the calendar.

Lengths and counts are declared on the types (msgspec `Meta`), so msgspec enforces them wherever a
command is decoded. Two things a `Meta` cannot say are checked here: no control characters (free
text may keep line breaks and tabs), and dates the holiday calendar covers (a deadline counted from
a date it lacks fails for ever). `Command.__post_init__` runs these checks, so the API, the journey
workflow and the importer, which all decode the same Structs, refuse the same values; the API runs
them on its query parameters too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi

from casework.domain.calendar import HELSINKI, YEARS
from casework.domain.errors import FieldError

FREE_TEXT = "free_text"
"""The `Meta(extra=...)` key marking prose: a note, a reason, an answer."""

MAX_DEPTH = 32
"""How deeply a JSON document from outside may nest."""

# A JSON string (its brackets do not nest), or a bracket. Possessive: no backtracking.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')

FIRST_DAY = date(YEARS.start, 1, 1)
LAST_DAY = date(YEARS.stop - 1, 12, 31)
# A time is within the calendar when its Helsinki date is.
FIRST_MOMENT = datetime(YEARS.start, 1, 1, tzinfo=HELSINKI).astimezone(UTC)
END_MOMENT = datetime(YEARS.stop, 1, 1, tzinfo=HELSINKI).astimezone(UTC)
_OUT_OF_RANGE = f"give a date from {FIRST_DAY} to {LAST_DAY} (the calendar's range)"

# Unicode's control characters (Cc): C0, DEL and C1. PostgreSQL's text refuses NUL outright.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_PROSE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def text_error(value: str, free_text: bool = False) -> str | None:
    """Why a string is refused, or None."""
    if value.isprintable():  # the usual case, and twice as fast as the search
        return None
    if (_CONTROL_IN_PROSE if free_text else _CONTROL).search(value):
        allowed = " (line breaks and tabs are fine)" if free_text else ""
        return f"control characters are not allowed{allowed}"
    return None


def printable_name(name: str) -> str:
    """A name the caller sent, fit to be named back: never a control character or a novel."""
    return name[:64] if text_error(name) is None else "(a name with control characters)"


def moment_error(value: datetime) -> str | None:
    """Why a time is refused: one without its offset, or on a day outside the calendar."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "give the time with its UTC offset"
    if not FIRST_MOMENT <= value < END_MOMENT:
        return _OUT_OF_RANGE
    return None


def day_error(value: date) -> str | None:
    return None if FIRST_DAY <= value <= LAST_DAY else _OUT_OF_RANGE


def value_errors(value: Any, path: str, free_text: bool = False) -> list[FieldError]:
    """Every refused string, date or time in `value`, named by its path from `path`."""
    if isinstance(value, str):
        message = text_error(value, free_text)
    elif value is None:
        return []
    elif isinstance(value, datetime):  # before date: a datetime is a date
        message = moment_error(value)
    elif isinstance(value, date):
        message = day_error(value)
    elif isinstance(value, msgspec.Struct):
        return struct_errors(value, f"{path}.")
    elif isinstance(value, dict):
        errors = []
        for key, item in value.items():
            if key_message := text_error(str(key)):  # a key is an identifier, and names a path
                errors.append(FieldError(path, f"a key: {key_message}"))
            else:
                errors += value_errors(item, f"{path}.{key}", free_text)
        return errors
    elif isinstance(value, list | tuple | set | frozenset):
        return [e for i, item in enumerate(value) for e in value_errors(item, f"{path}[{i}]")]
    else:
        return []
    return [FieldError(path, message)] if message else []


def field_errors(
    cls: type[msgspec.Struct], name: str, value: Any, prefix: str = ""
) -> list[FieldError]:
    """The refusals in one field's decoded value (so a caller can name it with the others)."""
    return value_errors(value, prefix + name, name in _free_text_fields(cls))


def struct_errors(struct: msgspec.Struct, prefix: str = "") -> list[FieldError]:
    """The refusals in every field of a Struct, nested ones included."""
    free = _free_text_fields(type(struct))
    errors: list[FieldError] = []
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if value is not None:  # most optional fields: skip the walk
            errors += value_errors(value, prefix + name, name in free)
    return errors


@cache
def _free_text_fields(cls: type[msgspec.Struct]) -> frozenset[str]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return frozenset(f.name for f in info.fields if _is_free_text(f.type))


def _is_free_text(info: mi.Type) -> bool:
    if isinstance(info, mi.Metadata):
        return bool((info.extra or {}).get(FREE_TEXT)) or _is_free_text(info.type)
    if isinstance(info, mi.UnionType):
        return any(_is_free_text(t) for t in info.types)
    if isinstance(info, mi.DictType):  # the answers of a screening: free text under keys
        return _is_free_text(info.value_type)
    return False


def nests_deeper(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether a JSON document nests deeper than `limit` (decoding it loosely would recurse)."""
    depth = 0
    for token in _TOKENS.finditer(raw):
        opening = token[0]
        if opening in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif opening in (b"]", b"}"):
            depth -= 1
    return False
