"""Page: the inbox of the local sinks (email catcher, SMS, voice, letters, webhooks).

The rendered message is shown in a sandboxed iframe whose own route answers with a CSP
``sandbox`` header: a message's HTML can neither run script nor reach our origin."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.application.access.users import Session
from tidings.domain.channels import DELIVERY_CHANNELS
from tidings.store import web_reads_sql as queries
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import FRAME_CSP, Viewer, container

router = APIRouter(route_class=WebRoute)

TEXT_STYLE = "white-space:pre-wrap;font:14px system-ui"
_LINK = re.compile(r"""https?://[^\s"'<>)]+""")


def sandboxed_html(html: str) -> HTMLResponse:
    """A response meant only for a sandboxed iframe of ours."""
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": FRAME_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


def links_of(item: dict[str, object]) -> list[dict[str, object]]:
    """The links in a message; ``tracked`` when it goes through our click tracking (/t/c/)."""
    seen: list[str] = []
    for text in (item.get("body_html"), item.get("body_text")):
        for url in _LINK.findall(str(text or "")):
            url = url.rstrip(".,;")
            if "/t/o/" in url:  # the open-tracking pixel, not a link
                continue
            if url not in seen:
                seen.append(url)
    return [{"url": u, "tracked": "/t/c/" in u} for u in seen]


@router.get("/inbox")
def inbox_page(request: Request, session: Session = Viewer) -> Response:
    channel = request.query_params.get("channel", "")
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    c = container(request)
    with c.engine.connect() as conn:
        rows, more = queries.inbox_list(conn, channel, page)
        counts = queries.inbox_channels(conn)
    return render(
        request,
        "inbox.html",
        {"rows": rows, "more": more, "channel": channel, "counts": counts, "channels": DELIVERY_CHANNELS, "pg": page},
        page="inbox",
    )


@router.get("/inbox/{item_id}")
def inbox_item(item_id: int, request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        item = queries.inbox_item(conn, item_id)
    if item is None:
        raise PageNotFound(f"Inbox message {item_id}")
    return render(request, "inbox_item.html", {"m": item, "links": links_of(item)}, page="inbox")


@router.get("/inbox/{item_id}/body")
def inbox_body(item_id: int, request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        item = queries.inbox_item(conn, item_id)
    if item is None:
        raise PageNotFound(f"Inbox message {item_id}")
    html = item.get("body_html")
    if not html:
        from markupsafe import escape

        html = f"<pre style='{TEXT_STYLE}'>{escape(item.get('body_text') or '')}</pre>"
    return sandboxed_html(str(html))
