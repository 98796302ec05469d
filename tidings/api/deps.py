"""FastAPI dependencies shared by the routers: the container, the clock, authentication."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tidings.api.errors import ApiError
from tidings.application.access.keys import ApiKey
from tidings.bootstrap import Container


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def now(request: Request) -> datetime:
    return container(request).clock.now()


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


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """Dependency factory: the request must carry a valid key granting ``scope``."""

    async def dependency(request: Request) -> ApiKey:
        # async: a cached key (the hot path) costs no hop to the thread pool; a lookup does
        key = _key_from_request(request)
        if not key:
            raise ApiError(
                401,
                "unauthorized",
                "missing API key: send 'Authorization: Bearer <key>' (or HTTP Basic with the key as user name)",
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
        return api_key

    dependency.__name__ = f"require_{scope}"
    return dependency


RequireTrack = Depends(require("track"))
RequireRead = Depends(require("read"))
RequireWrite = Depends(require("write"))
RequireAdmin = Depends(require("admin"))
