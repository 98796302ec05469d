"""Page action: a segment's hashed ad audience as a CSV download (the segment page's buttons).

``GET /segments/{key}/audience.csv?platform=meta|google`` for any signed-in user (viewers may
export contacts too); the same use case as the CLI and the API (``application/audiences/export``).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from tidings.application.access.users import Session
from tidings.application.audiences.export import AudienceError, ExportCounts, csv_chunks
from tidings.web.core import PageNotFound, WebRoute
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)


@router.get("/segments/{key}/audience.csv")
def audience_csv(key: str, request: Request, platform: str = "meta", session: Session = Viewer) -> Response:
    try:
        body = csv_chunks(container(request).audience_members, key, platform, ExportCounts())
    except AudienceError as exc:
        raise PageNotFound(exc.message) from None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}-{platform}-audience.csv"'},
    )
