"""HTTP routes: the inbox — what the local sinks (SMTP catcher, SMS, calls, letters, webhooks) received."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request

from tidings.api.deps import RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.store.api_reads_sql import SqlApiReads

router = APIRouter(prefix="/api/inbox", tags=["inbox"], route_class=StrictRoute)

_TRACKED = re.compile(r"""https?://[^\s"'<>]+/t/[co]/[A-Za-z0-9_-]+(?:\.gif)?""")


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "channel": row["channel"],
        "sender": row["sender"],
        "recipient": row["recipient"],
        "subject": row["subject"],
        "message_ref": row["message_ref"],
        "received_at": row["received_at"],
    }


@router.get("", dependencies=[RequireRead])
def list_inbox(
    request: Request,
    channel: str | None = None,
    recipient: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = None,
) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        rows = SqlApiReads(conn).inbox_page(channel=channel, recipient=recipient, limit=limit, before=before)
    items = [_summary(r) for r in rows]
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}


@router.get("/{item_id}", dependencies=[RequireRead])
def get_inbox_item(item_id: int, request: Request) -> dict[str, Any]:
    with container(request).engine.connect() as conn:
        row = SqlApiReads(conn).inbox_item(item_id)
    if row is None:
        raise ApiError(404, "not_found", f"inbox item {item_id} not found")
    html = row["body_html"] or ""
    return _summary(row) | {
        "body_text": row["body_text"],
        "body_html": row["body_html"],
        "headers": row["headers"],
        "raw": row["raw"],
        "tracking_links": sorted(set(_TRACKED.findall(html))),
    }
