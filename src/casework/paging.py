"""Keyset paging (CONTRACT.md "Lists"): a page of items and a cursor that really continues.

A cursor is the position of a page's last item, as JSON in URL-safe base64: opaque to a caller,
and decoded into its declared type, so one this list did not give out is refused, never run.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar

import msgspec

from casework.domain.errors import CaseworkError

MAX_LIMIT = 500
MAX_CURSOR = 500
"""The longest cursor a caller may send back (every cursor given out is far shorter)."""

T = TypeVar("T")


class InvalidCursor(CaseworkError):
    code = "malformed"

    def __init__(self) -> None:
        super().__init__("the cursor is not one this list gave out: start again without it")


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode()


def decode_cursor(cursor: str, position: type[T]) -> T:
    """The position a cursor holds, as `position`; InvalidCursor for anything else."""
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()), type=position)
    except ValueError:  # not base64, not JSON or not a position: each is a ValueError
        raise InvalidCursor() from None
