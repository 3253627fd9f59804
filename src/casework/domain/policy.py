"""The stall policy: limits per waiting step, kept as versioned data and validated on load."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from casework.domain.calendar import add_days, add_working_days
from casework.domain.reference import reference

Unit = Literal["working_days", "days", "seconds"]
PolicyVersion = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
"""A policy's version: a short name, safe inside a Temporal visibility query."""


class Limit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long a step may wait. `seconds` exists for test policies that must stall quickly."""

    amount: Annotated[int, msgspec.Meta(gt=0)]
    unit: Unit

    def deadline(self, since: datetime, fraction: float = 1) -> datetime:
        """When the limit (or a fraction of it: a half to remind, twice to escalate) runs out."""
        amount = max(1, round(self.amount * fraction))
        if self.unit == "working_days":
            return add_working_days(since, amount)
        if self.unit == "days":
            return add_days(since, amount)
        return since + timedelta(seconds=amount)

    def describe(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


class StepLimit(Limit, frozen=True, forbid_unknown_fields=True):
    per_partner: dict[str, Limit] = {}


class StallPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: PolicyVersion
    effective_from: date
    limits: dict[str, StepLimit]

    def __post_init__(self) -> None:
        steps = set(reference().steps)
        if unknown := set(self.limits) - steps:
            raise ValueError(f"limits for unknown steps: {sorted(unknown)}")
        if missing := steps - set(self.limits):
            raise ValueError(f"no limit for steps: {sorted(missing)}")
        partners = set(reference().partners)
        for step, limit in self.limits.items():
            if unknown := set(limit.per_partner) - partners:
                raise ValueError(f"{step}: limits for unknown partners: {sorted(unknown)}")

    def limit(self, step: str, partner: str | None = None) -> Limit:
        step_limit = self.limits[step]
        if partner is not None and partner in step_limit.per_partner:
            return step_limit.per_partner[partner]
        return step_limit

    def deadline(self, step: str, since: datetime, partner: str | None = None) -> datetime:
        return self.limit(step, partner).deadline(since)


def parse_policy(text: str | bytes) -> StallPolicy:
    return msgspec.toml.decode(text, type=StallPolicy)


def load_policy(path: Path | None = None) -> StallPolicy:
    """The policy in the given file, or the one shipped in the package."""
    if path is None:
        return shipped_policy()
    return parse_policy(path.read_bytes())


@cache
def shipped_policy() -> StallPolicy:
    return parse_policy(files("casework.domain").joinpath("policy.toml").read_bytes())
