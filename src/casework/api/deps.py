"""What handlers are given: the services, and the actor the request's token names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.params import PathParameter, QueryParameter

from casework.api.auth import Authenticator, bearer
from casework.application import CaseworkApp
from casework.domain.commands import SLUG_MAX, Actor
from casework.domain.errors import NotFound, NotPermitted
from casework.domain.permissions import ROUTES, route_refusal
from casework.live import Streams
from casework.paging import MAX_CURSOR, MAX_LIMIT
from casework.settings import Settings
from projections.service import Projections
from workflows.client import Journeys

SESSION_COOKIE = "casework_session"
API = "/api/"


@dataclass(frozen=True)
class Services:
    settings: Settings
    app: CaseworkApp
    journeys: Journeys
    auth: Authenticator
    projections: Projections
    # Under `casework up`: the state of each server it runs ("up", or why not), for /health.
    components: Callable[[], dict[str, str]] | None = None
    streams: Streams = field(init=False)
    """The live streams this process serves (`casework/live.py`)."""

    def __post_init__(self) -> None:
        def position() -> int:  # of the case views, which announce the changes
            return self.projections.cases.max_tracking_id(self.app.name) or 0

        streams = Streams.of(
            self.app, position, self.settings.streams_per_caller, self.settings.streams_total
        )
        object.__setattr__(self, "streams", streams)


ServicesDep = NamedDependency[Services]
ActorDep = NamedDependency[Actor]
NameFilter = Annotated[str | None, QueryParameter(max_length=SLUG_MAX)]
"""A filter naming an area, team, step, stage, sector or partner: no longer than such a name."""
Cursor = Annotated[str | None, QueryParameter(max_length=500)]
"""Where the previous page of a list ended (its `next`)."""
NamePath = Annotated[str, PathParameter(max_length=SLUG_MAX)]
"""A path segment naming a partner or a command."""
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(max_length=MAX_CURSOR)]
ReadReason = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=2000,  # as a command's reason
        description="Why the case is read; recorded with the read. Auditors must give one, and "
        "so must coordinators reading a case outside their area.",
    ),
]


def actor_of(connection: ASGIConnection) -> Actor:
    """The caller, from `Authorization: Bearer …` or the browser's session cookie; read once
    per request."""
    state = connection.scope.setdefault("state", {})
    if "actor" not in state:
        cookie = connection.cookies.get(SESSION_COOKIE)
        header = connection.headers.get("authorization")
        token = bearer(header) if header or not cookie else cookie
        state["actor"] = services_of(connection).auth.actor(token)
    return state["actor"]


def services_of(connection: ASGIConnection) -> Services:
    return connection.app.state["services"]


def provide_actor(request: Request) -> Actor:
    return actor_of(request)


def authorise(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The guard of every route: the authorisation table (`domain/permissions.py`) decides.
    An /api route missing from the table is refused to everyone."""
    route = ROUTES.get(handler.opt.get("permission") or str(handler.operation_id))
    if route is None and not connection.url.path.startswith(API):
        return  # the API's docs and static files
    if route is None:
        raise NotPermitted("this route is not in the authorisation table")
    if route.public:
        return
    refusal = route_refusal(route, actor_of(connection), connection.path_params.get("partner"))
    if refusal is not None and refusal.status == 404:
        raise NotFound(refusal.detail)
    if refusal is not None:
        raise NotPermitted(refusal.detail)


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")
