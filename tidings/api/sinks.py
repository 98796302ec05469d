"""HTTP routes: local sinks for development — ``POST /sink/webhook/{name}`` records into the inbox.

Webhook steps pointed at ``<public url>/sink/webhook/<name>`` show up in the web inbox (channel
``webhook``). Our own public origin is allowed by the SSRF guard for exactly this. Only requests
signed with this instance's webhook secret are recorded (401 otherwise), so the sink cannot be
used by others to write into the inbox.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from tidings.api.deps import container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.ports.senders import WEBHOOK
from tidings.channels.base import InboxItem, record_in_inbox
from tidings.channels.webhooks import secret_for, verify

router = APIRouter(tags=["sinks"], route_class=StrictRoute)


@router.post("/sink/webhook/{name}")
async def webhook_sink(request: Request, name: str) -> dict[str, object]:
    c = container(request)
    body = await request.body()
    ts = request.headers.get("x-tidings-timestamp", "")
    signature = request.headers.get("x-tidings-signature", "")
    if not verify(secret_for(c), ts, body, signature, c.clock.now()):
        raise ApiError(401, "unauthorized", "missing, stale or invalid X-Tidings-Signature",
                       [{"loc": ["header", "X-Tidings-Signature"], "msg": "signature does not match"}])
    keep = ("content-type", "user-agent", "x-tidings-timestamp", "x-tidings-signature", "x-tidings-message",
            "x-tidings-idempotency-key")
    headers = {k: v for k, v in request.headers.items() if k in keep or k.startswith("x-")}
    url = str(request.url)
    item = InboxItem(channel=WEBHOOK, recipient=url, sender=request.headers.get("user-agent"), subject=name,
                     body_text=body.decode("utf-8", "replace"), headers=headers,
                     message_ref=request.headers.get("x-tidings-message"))
    inbox_id = await asyncio.to_thread(record_in_inbox, c.engine, item, c.clock.now())
    return {"received": True, "inbox_id": inbox_id}
