"""What handlers are given: the services, and the actor the request's token names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from casework.api.auth import Authenticator, bearer
from casework.application import CaseworkApp
from casework.domain.commands import SLUG_MAX, Actor
from casework.settings import Settings
from projections.service import Projections
from workflows.client import Journeys

SESSION_COOKIE = "casework_session"


@dataclass(frozen=True)
class Services:
    settings: Settings
    app: CaseworkApp
    journeys: Journeys
    auth: Authenticator
    projections: Projections
    # Under `casework up`: the state of each server it runs ("up", or why not), for /health.
    components: Callable[[], dict[str, str]] | None = None


ServicesDep = NamedDependency[Services]
ActorDep = NamedDependency[Actor]
NameFilter = Annotated[str | None, QueryParameter(max_length=SLUG_MAX)]
"""A filter naming an area, team, step, stage, sector or partner: no longer than such a name."""
NamePath = Annotated[str, PathParameter(max_length=SLUG_MAX)]
"""A path segment naming a partner or a command."""


async def provide_actor(request: Request, services: ServicesDep) -> Actor:
    """From `Authorization: Bearer …`, or the browser's session cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("authorization")
    token = bearer(header) if header or not cookie else cookie
    return services.auth.actor(token)


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")
