"""The programme's vocabularies (CONTRACT.md "Vocabularies are data"), loaded from one file."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Literal

import msgspec

WaitingOn = Literal["staff", "partner", "client", "employer"]


class Area(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    teams: list[str]


class Partner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    covers: Literal["social_insurance", "public_sector_pension", "private_sector_pension"]


class Step(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    waiting_on: WaitingOn


class Reference(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: str
    areas: dict[str, Area]
    sectors: dict[str, str]
    partners: dict[str, Partner]
    icd_chapters: dict[str, str]
    steps: dict[str, Step]

    def team_sector(self, team: str) -> str:
        return team.split("-", 1)[1]

    def __post_init__(self) -> None:
        for area in self.areas.values():
            for team in area.teams:
                if self.team_sector(team) not in self.sectors:
                    raise ValueError(f"team {team!r} names an unknown sector")


def parse_reference(text: str | bytes) -> Reference:
    return msgspec.toml.decode(text, type=Reference)


@cache
def reference() -> Reference:
    """The reference data shipped in the package (read once)."""
    return parse_reference(files("casework.domain").joinpath("reference.toml").read_bytes())
