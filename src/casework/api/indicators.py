"""The programme's monthly indicators (mittarit) for coordinators and auditors: JSON or CSV.

`GET /api/indicators?from=YYYY-MM&to=YYYY-MM&area=` (every parameter optional: the twelve months
up to the current one, every area and the total). The definitions are in `projections.indicators`.

JSON:

    {"computed_at": "<ISO 8601>", "position": <last event the view had applied>,
     "from": "2025-01", "to": "2025-12", "area": null | "<area>",
     "months": ["2025-01", ...], "indicators": ["job_referrals_target_group", ...],
     "areas": {"<area>" | "total": {"<YYYY-MM>": {"<indicator>": <number | null>}}}}

Counts are integers; shares (0–1) and median days are numbers or null. With `area`, `areas` holds
that area alone.

With `Accept: text/csv`: a file a Finnish spreadsheet opens as it is: UTF-8 with a byte-order mark,
semicolons between fields, decimal commas; one row per area and month (the total's rows last), the
header naming the indicators, and `computed_at` as the last column of every row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from anyio import to_thread
from litestar import Controller, Request, Response, get
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from litestar.params import QueryParameter

from casework.api.deps import ActorDep, NameFilter, ServicesDep
from casework.api.openapi import API_SECURITY
from casework.api.problems import API_ERRORS, problems
from casework.domain.errors import FieldError, ValidationFailed
from casework.domain.limits import FIRST_DAY, LAST_DAY, day_error
from casework.domain.reference import reference
from projections.figures import (
    MAX_MONTHS,
    compute,
    indicator_names,
    label,
    months_between,
    parse_month,
)
from projections.indicators import TOTAL
from projections.months import HELSINKI

MONTH_LENGTH = len("YYYY-MM")
FIRST_MONTH, LAST_MONTH = label(FIRST_DAY), label(LAST_DAY)
CSV_MEDIA_TYPE = "text/csv"  # Litestar adds "; charset=utf-8"
BOM = "\ufeff"


def _params(
    first: str | None, last: str | None, area: str | None, today: date
) -> tuple[date, date]:
    """The month range asked for; every failing field named at once."""
    errors = []
    months: dict[str, date | None] = {}
    for field, value in (("from", first), ("to", last)):
        month = months[field] = parse_month(value) if value is not None else None
        if value is not None and month is None:
            errors.append(FieldError(field, f"give a month as YYYY-MM, not {value[:20]!r}"))
        elif month is not None and day_error(month):
            errors.append(FieldError(field, f"give a month from {FIRST_MONTH} to {LAST_MONTH}"))
    if area is not None and area not in reference().areas:
        errors.append(FieldError("area", f"unknown area {area[:50]!r}"))
    if errors:
        raise ValidationFailed(errors)
    end = months["to"] or today.replace(day=1)
    start = months["from"] or max(_months_back(end, 11), FIRST_DAY)
    if start > end:
        errors.append(FieldError("from", "the first month comes after the last one"))
    elif len(months_between(start, end)) > MAX_MONTHS:
        errors.append(FieldError("to", f"ask for at most {MAX_MONTHS} months at a time"))
    if errors:
        raise ValidationFailed(errors)
    return start, end


def _months_back(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _number(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace(".", ",")  # shares and medians: a decimal comma


class Indicators(msgspec.Struct, frozen=True):
    """Counts are integers; shares (0–1) and median days are numbers or null."""

    computed_at: datetime
    position: int
    """The last event the view had applied: the figures include every event up to it."""
    first: str = msgspec.field(name="from")
    last: str = msgspec.field(name="to")
    area: str | None
    months: list[str]
    indicators: list[str]
    areas: dict[str, dict[str, dict[str, float | None]]]
    """`{area | "total": {"YYYY-MM": {indicator: value}}}`"""


def to_csv(document: Indicators) -> str:
    """The indicators as a Finnish spreadsheet expects them: `;`, decimal comma, BOM."""
    ref = reference()
    names = document.indicators
    computed_at = document.computed_at.isoformat()
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["area", "area_name", "month", *names, "computed_at"])
    for area, months in document.areas.items():
        name = ref.areas[area].name if area in ref.areas else "Total"
        for month, values in months.items():
            row = [_number(values[n]) for n in names]
            writer.writerow([area, name, month, *row, computed_at])
    return out.getvalue()


@dataclass
class JsonOrCsv(Operation):
    """The indicators' OpenAPI operation: the same 200 also comes as CSV (`Accept: text/csv`)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content[CSV_MEDIA_TYPE] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


class IndicatorController(Controller):
    path = "/api/indicators"
    tags = ["indicators"]
    security = API_SECURITY

    @get(
        "/",
        operation_id="indicators",
        summary="The programme's monthly indicators, per area and in total (JSON or CSV)",
        media_type="application/json",
        responses=problems(*API_ERRORS),
        operation_class=JsonOrCsv,
    )
    async def indicators(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        actor: ActorDep,
        first: Annotated[str | None, QueryParameter(name="from", max_length=MONTH_LENGTH)] = None,
        last: Annotated[str | None, QueryParameter(name="to", max_length=MONTH_LENGTH)] = None,
        area: NameFilter = None,
    ) -> Response[Indicators]:
        now = datetime.now(UTC)
        start, end = _params(first, last, area, now.astimezone(HELSINKI).date())
        view = services.projections.indicators
        figures = await to_thread.run_sync(lambda: compute(view, start, end, area))
        document = Indicators(
            computed_at=now,
            position=figures.position,
            first=label(start),
            last=label(end),
            area=area,
            months=[label(m) for m in months_between(start, end)],
            indicators=list(indicator_names()),
            areas=figures.areas,
        )
        wanted = request.accept.best_match(["application/json", "text/csv"], "application/json")
        if wanted == "text/csv":
            filename = f"indicators_{label(start)}_{label(end)}_{area or TOTAL}.csv"
            return Response(
                to_csv(document),
                media_type=CSV_MEDIA_TYPE,
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Response(document)
