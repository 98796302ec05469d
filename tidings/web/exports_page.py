"""Pages: downloads of events and messages (CSV or JSON Lines, streamed), linked from the contacts
page; the same export as ``GET /api/exports/...`` and ``tidings export events|messages``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from starlette.requests import Request

from tidings.application.access.users import Session
from tidings.application.ingest.exports import FORMATS, MEDIA_TYPES, ROW_EXPORTS, export_rows
from tidings.store import exports_sql
from tidings.web.core import PageNotFound, WebRoute
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)


@router.get("/contacts/export-{kind}.{fmt}")
def export(kind: str, fmt: str, request: Request, session: Session = Viewer) -> Response:
    """Every event or message, oldest first, streamed a chunk at a time; formula cells made inert."""
    if kind not in ROW_EXPORTS or fmt not in FORMATS:
        raise PageNotFound(f"Export {kind}.{fmt}")
    body = export_rows(exports_sql.reader(container(request).engine), kind, fmt)
    return StreamingResponse(
        body, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{kind}.{fmt}"'}
    )
