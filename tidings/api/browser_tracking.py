"""Browser tracking: what analytics.js (``@segment/analytics-next``) and the RudderStack JS SDK
speak, plus Tidings' own first-party snippet at ``GET /t.js``.

- Short paths ``/v1/i|t|p|s|g|a|b`` (analytics.js posts each call to ``{apiHost}/{type[0]}``).
- ``text/plain`` JSON bodies (what analytics.js and ``sendBeacon`` send: no CORS preflight) with the
  key as ``writeKey`` in the body (see :mod:`tidings.api.deps`), as well as Basic auth.
- CORS per key: a ``browser`` key is write-only and names its allowed origins; a request from any
  other origin is 403 without a CORS grant. A preflight carries no key, so it is granted for the
  origins of live browser keys; the real request is then checked against its own key's origins.
"""

from __future__ import annotations

import json
from importlib import resources

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.api import tracking
from tidings.api.deps import RequireTrack
from tidings.api.errors import error_body
from tidings.api.routing import StrictRoute

router = APIRouter(tags=["tracking"], route_class=StrictRoute)
SNIPPET = resources.files("tidings.api").joinpath("static/t.js").read_bytes()
SHORT = {
    "i": tracking.identify,
    "t": tracking.track,
    "p": tracking.page,
    "s": tracking.screen,
    "g": tracking.group,
    "a": tracking.alias,
    "b": tracking.batch,
}
#: request headers a browser client may send: analytics.js's, and the RudderStack JS SDK's
#: (``AnonymousId``, ``SentAt`` and the ``RSA-*`` retry headers of its delivery queue)
ALLOW_HEADERS = (b"Content-Type, Authorization, Content-Encoding, AnonymousId, SentAt, RSA-Retry-Attempt, "
                 b"RSA-Since-Last-Attempt, RSA-Since-First-Attempt, RSA-Retry-Reason")
MAX_AGE = "600"


@router.get("/t.js", include_in_schema=False)
def snippet() -> Response:
    """The first-party snippet: ``<script src="/t.js" data-key="KEY" async>`` on the site's pages."""
    return Response(
        SNIPPET,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


for letter, endpoint in SHORT.items():
    router.add_api_route(
        f"/v1/{letter}",
        endpoint,
        methods=["POST"],
        dependencies=[RequireTrack],
        include_in_schema=False,
        name=f"short_{endpoint.__name__}",
    )


class BrowserCors:
    """ASGI middleware for ``/v1/``: answers preflights and adds the grant to responses whose
    browser key allowed the request's origin (``request.state.cors_origin``, set in deps)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._preflight(scope, send, origin, headers)
            return

        async def send_with_grant(message: Message) -> None:
            if message["type"] == "http.response.start":
                granted = scope.get("state", {}).get("cors_origin")
                extra = [(b"vary", b"Origin")]
                if granted:
                    extra.append((b"access-control-allow-origin", granted.encode("latin-1")))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_grant)

    async def _preflight(self, scope: Scope, send: Send, origin: str, headers: dict[str, str]) -> None:
        verifier = scope["app"].state.container.keys
        allowed = origin in await run_in_threadpool(verifier.browser_origins)
        method = headers["access-control-request-method"].upper()
        if not allowed or method != "POST":
            why = f"origin {origin!r} is not allowed by any browser key" if not allowed else "only POST is allowed"
            body = json.dumps(error_body("forbidden_origin", why)).encode()
            await _respond(send, 403, [(b"content-type", b"application/json"), (b"vary", b"Origin")], body)
            return
        await _respond(
            send,
            204,
            [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", ALLOW_HEADERS),
                (b"access-control-max-age", MAX_AGE.encode()),
                (b"vary", b"Origin"),
            ],
            b"",
        )


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
