"""The errors a caller can meet, each with a message a staff member understands."""

from __future__ import annotations

from uuid import UUID

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class CaseworkError(Exception):
    """Base of every refusal; `code` is the machine-readable name of CONTRACT.md."""

    code = "refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationFailed(CaseworkError):
    """One or more fields break a rule (unknown vocabulary, out of range, invalid identifier)."""

    code = "validation_failed"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])

    @classmethod
    def decoding(cls, error: msgspec.ValidationError, root: str = "$") -> ValidationFailed:
        """msgspec's refusal, naming the field its message gives (`... - at `$.partner``)
        relative to `root`."""
        message, _, at = str(error).partition(" - at `")
        field = at.rstrip("`").removeprefix(root).removeprefix(".")
        return cls.field(field or "body", message)


class IllegalStep(CaseworkError):
    """The journey does not allow this command in the case's current state."""

    code = "illegal_step"


class ConsentMissing(IllegalStep):
    """A handoff needs the client's recorded consent."""

    code = "consent_missing"


class NotPermitted(CaseworkError):
    """The caller's role may not run this command."""

    code = "not_permitted"


class StaleVersion(CaseworkError):
    """The case moved on since the version the caller saw."""

    code = "stale_version"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the case is at version {current}, not {expected}: reload it and try again"
        )
        self.expected = expected
        self.current_version = current


class UnknownCase(CaseworkError):
    code = "not_found"

    def __init__(self, case_id: UUID | str) -> None:
        super().__init__(f"no case {case_id}")
        self.case_id = case_id


class NotFound(CaseworkError):
    """Nothing the caller may know of is here."""

    code = "not_found"


class UnknownVersion(CaseworkError):
    code = "not_found"

    def __init__(self, case_id: UUID, version: int, last: int) -> None:
        super().__init__(f"case {case_id} has no version {version}: its last is {last}")


class UnknownCommand(CaseworkError):
    code = "not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"there is no command {name!r}")


class UnknownClient(CaseworkError):
    code = "not_found"


class DuplicateClient(CaseworkError):
    """A personal identity code may be registered once."""

    code = "duplicate_client"


class OpenCaseExists(IllegalStep):
    """A client has at most one open programme case."""

    code = "open_case_exists"

    def __init__(self, existing_case_id: UUID) -> None:
        super().__init__(f"the client already has an open case: {existing_case_id}")
        self.existing_case_id = existing_case_id


class IdempotencyKeyReused(CaseworkError):
    """The same idempotency key was sent with a different command."""

    code = "idempotency_key_reused"


class IntegrityBroken(CaseworkError):
    """The case's stored events fail verification: no write until an admin acknowledges it."""

    code = "integrity_broken"

    def __init__(self, first_broken_version: int, problem: str) -> None:
        super().__init__(
            f"this case's stored history fails verification at version {first_broken_version}"
            f" ({problem}); writes are refused until an admin acknowledges it"
        )
        self.first_broken_version = first_broken_version
        self.problem = problem
