"""FastAPI dependencies shared by the routers: the container, the clock, authentication."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tidings.api.errors import ApiError
from tidings.application.access.keys import ApiKey
from tidings.bootstrap import Container
from tidings.domain import jsonvalues


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def now(request: Request) -> datetime:
    return container(request).clock.now()


async def _body(request: Request) -> bytes:
    return await request.body()


async def _form(request: Request) -> FormData:
    return await request.form()


#: the raw body / the posted form, read on the event loop so that the endpoint can be a plain
#: ``def`` whose database work runs in the thread pool (``body: bytes = RawBody``).
RawBody = Depends(_body)
FormFields = Depends(_form)


def _key_from_request(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value:
        return value.strip()
    if scheme == "basic" and value:
        # Segment / RudderStack clients send the write key as the Basic user name.
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    return request.headers.get("x-api-key") or None


async def _key_from_body(request: Request) -> str | None:
    """analytics.js sends its write key as ``writeKey`` in the (text/plain) JSON body."""
    if request.method != "POST" or not request.url.path.startswith("/v1/"):
        return None
    from tidings.api.ingest_body import read_body

    body = await read_body(request, container(request).settings.max_body_bytes)  # cached for the route
    try:
        doc = jsonvalues.loads(body) if body.strip() else None
    except jsonvalues.JsonRefused:
        return None  # the route's own parse reports the malformed body
    value = doc.get("writeKey") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


def check_origin(request: Request, api_key: ApiKey) -> None:
    """A browser key works only from its allowed origins; the grant is read by the CORS middleware."""
    if not api_key.browser:
        return
    origin = request.headers.get("origin")
    if origin is None or origin not in api_key.origins:
        raise ApiError(
            403,
            "forbidden_origin",
            f"this browser key is not allowed from origin {origin!r}"
            if origin
            else "a browser key is only accepted from a browser page (no Origin header)",
        )
    request.state.cors_origin = origin


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """Dependency factory: the request must carry a valid key granting ``scope``."""

    async def dependency(request: Request) -> ApiKey:
        # async: a cached key (the hot path) costs no hop to the thread pool; a lookup does
        key = _key_from_request(request) or await _key_from_body(request)
        if not key:
            raise ApiError(
                401,
                "unauthorized",
                "missing API key: send 'Authorization: Bearer <key>' (or HTTP Basic with the key as user name, "
                "or writeKey in a /v1 body)",
                headers={"WWW-Authenticate": 'Bearer, Basic realm="tidings"'},
            )
        verifier = container(request).keys
        hit, api_key = verifier.cached(key)
        if not hit:
            api_key = await run_in_threadpool(verifier.verify, key)
        if api_key is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key")
        if not api_key.grants(scope):
            raise ApiError(
                403, "forbidden", f"this key (scopes: {', '.join(sorted(api_key.scopes))}) lacks the '{scope}' scope"
            )
        check_origin(request, api_key)
        return api_key

    dependency.__name__ = f"require_{scope}"
    return dependency


RequireTrack = Depends(require("track"))
RequireRead = Depends(require("read"))
RequireWrite = Depends(require("write"))
RequireAdmin = Depends(require("admin"))
