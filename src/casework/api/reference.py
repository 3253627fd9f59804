"""The vocabularies a client needs to offer choices: the reference data (areas, teams, sectors,
partners, ICD chapters, steps) and the values each command's fields accept, read from the
commands' own types so they cannot drift. It changes only with a release: an `ETag`, and a 304
to a client that already holds it."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi
from litestar import Request, Response, get
from litestar.openapi import ResponseSpec

from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain import commands as c
from casework.domain.reference import Area, Partner, Step, WaitingOn, reference
from casework.domain.state import Stage


class Team(msgspec.Struct, frozen=True):
    area: str
    sector: str


class ReferenceData(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    areas: dict[str, Area]
    teams: dict[str, Team]
    sectors: dict[str, str]
    partners: dict[str, Partner]
    icd_chapters: dict[str, str]
    steps: dict[str, Step]
    vocabularies: dict[str, list[str]]
    """Stages, roles, and whom a step waits on."""
    commands: dict[str, dict[str, list[str | int]]]
    """Per command, each field with a fixed set of values, and the values."""


def _choices(info: mi.Type) -> list[str | int] | None:
    """The values a field of this type may take, if they are a fixed set."""
    if isinstance(info, mi.LiteralType):
        return list(info.values)
    if isinstance(info, mi.Metadata):
        return _choices(info.type)
    if isinstance(info, mi.ListType):
        return _choices(info.item_type)
    if isinstance(info, mi.UnionType):  # `X | None`
        return next(filter(None, map(_choices, info.types)), None)
    return None


def _command_choices() -> dict[str, dict[str, list[str | int]]]:
    found = {}
    for name, cls in ({"open_case": c.OpenCase} | c.CASE_COMMANDS).items():
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        fields = {f.encode_name: values for f in info.fields if (values := _choices(f.type))}
        if fields:
            found[name] = fields
    return found


@cache
def reference_data() -> tuple[ReferenceData, str]:
    """The document and its ETag (a digest of it), made once."""
    ref = reference()
    teams = {
        team: Team(slug, ref.team_sector(team))
        for slug, area in ref.areas.items()
        for team in area.teams
    }
    data = ReferenceData(
        version=ref.version,
        areas=ref.areas,
        teams=teams,
        sectors=ref.sectors,
        partners=ref.partners,
        icd_chapters=ref.icd_chapters,
        steps=ref.steps,
        vocabularies={
            "stage": list(get_args(Stage)),
            "role": list(get_args(c.Role)),
            "waiting_on": list(get_args(WaitingOn)),
        },
        commands=_command_choices(),
    )
    digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:32]
    return data, f'"{digest}"'


def _holds(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names this ETag (weakly compared, as RFC 9110 says for GET)."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@get(
    "/api/reference",
    operation_id="getReference",
    summary="Areas, teams, sectors, partners, steps and every command's vocabularies",
    tags=["reference"],
    security=API_SECURITY,
    responses={
        304: ResponseSpec(None, description="Not modified: the If-None-Match ETag holds"),
        **problems(*API_ERRORS),
    },
)
async def get_reference(request: Request[Any, Any, Any]) -> Response[ReferenceData | None]:
    data, etag = reference_data()
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _holds(request.headers.get("if-none-match"), etag):
        return Response(None, status_code=304, headers=headers)
    return Response(data, headers=headers)
