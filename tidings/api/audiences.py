"""HTTP route: a segment as a hashed ad audience, ``GET /api/segments/{key}/audience.csv?platform=``.

Scope ``read``; the CSV is streamed (a chunk of contacts at a time). The counts are known only at
the end of the stream, so they are not in the headers: the CLI prints them (docs/audiences.md).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from tidings.api.deps import RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.audiences.export import AudienceError, ExportCounts, csv_chunks

router = APIRouter(tags=["audiences"], route_class=StrictRoute)


@router.get("/api/segments/{key}/audience.csv", dependencies=[RequireRead])
def audience_csv(
    key: str, request: Request, platform: str = Query(description="meta | google")
) -> StreamingResponse:
    """The segment's consenting members as SHA-256 hashes, in the platform's customer-file columns."""
    try:
        chunks = csv_chunks(container(request).audience_members, key, platform, ExportCounts())
    except AudienceError as exc:
        where = "path" if exc.field == "segment" else "query"
        name = "key" if exc.field == "segment" else exc.field
        code = "not_found" if exc.status == 404 else "validation_error"
        raise ApiError(exc.status, code, exc.message, [{"loc": [where, name], "msg": exc.message}]) from None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}-{platform}-audience.csv"'},
    )
