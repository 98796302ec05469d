"""HTTP routes: exports of events and messages (CSV or JSON Lines, streamed; formula cells inert)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from tidings.api.deps import RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.ingest.exports import FORMATS, MEDIA_TYPES, ROW_EXPORTS, export_rows
from tidings.domain.contacts import InvalidValue
from tidings.domain.imports.presets import parse_time
from tidings.store import exports_sql

router = APIRouter(prefix="/api/exports", tags=["exports"], route_class=StrictRoute)


@router.get("/{kind}.{fmt}", dependencies=[RequireRead])
def export(
    request: Request,
    kind: str,
    fmt: str,
    since: str | None = Query(default=None, description="from this time (ISO 8601, UTC if no zone), inclusive"),
    until: str | None = Query(default=None, description="up to this time, exclusive"),
) -> StreamingResponse:
    """Events (by occurred_at) or messages (by created_at) in a time window, streamed a chunk at a
    time: ``/api/exports/events.csv``, ``/api/exports/messages.jsonl``."""
    if kind not in ROW_EXPORTS:
        raise ApiError(404, "not_found", f"no export {kind!r}: use one of {', '.join(ROW_EXPORTS)}")
    if fmt not in FORMATS:
        raise ApiError(404, "not_found", f"no format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        window = parse_time(since or "", "since"), parse_time(until or "", "until")
    except InvalidValue as exc:
        raise ApiError(
            422,
            "validation_error",
            exc.message,
            [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}],
        ) from None
    body = export_rows(exports_sql.reader(container(request).engine), kind, fmt, *window)
    return StreamingResponse(
        body, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{kind}.{fmt}"'}
    )
