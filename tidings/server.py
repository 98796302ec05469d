"""The HTTP server's app: the API routers (one file per resource under api/) and the web app, one factory."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import tidings
from tidings.api import (
    contacts,
    errors,
    events,
    exports,
    imports,
    inbox,
    journeys,
    links,
    messages,
    segments,
    self_service,
    system,
    templates,
    tracking,
)
from tidings.api.routing import StrictRoute, with_int64_bounds
from tidings.bootstrap import Container, open_container

#: a refused body is read and thrown away up to this size, so that the client, still sending,
#: reads the 413 instead of a connection reset; past it the connection is closed.
DRAIN_MAX_BYTES = 256 * 1024 * 1024


class BodySizeLimit:
    """Refuse request bodies over a limit with a structured 413, without keeping them.

    The 413 must reach a client that is still sending: the rest of the body is read and
    discarded first (up to ``DRAIN_MAX_BYTES``), else the server would close a socket with
    unread data and the client would see a reset instead of the answer. A client that waits
    for ``100 Continue`` has sent nothing yet: it gets the 413 at once and the connection closes."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            waits = headers.get(b"expect", b"").lower() == b"100-continue"
            drained = False if waits else await _drain(receive, int(length) <= DRAIN_MAX_BYTES)
            await _send_413(send, self.max_bytes, close=not drained)
            return
        received = 0
        too_big = False

        async def limited_receive() -> Any:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_big = True
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _send_413(send, self.max_bytes, close=not await _drain(receive, True, received))


class _TooLarge(Exception):
    pass


async def _drain(receive: Receive, wanted: bool, already: int = 0) -> bool:
    """Read and discard the rest of the request body; False when it was not (all) read."""
    if not wanted:
        return False
    seen = already
    while seen <= DRAIN_MAX_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return False  # the client went away
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
    return False


async def _send_413(send: Send, limit: int, *, close: bool = False) -> None:
    import orjson

    body = orjson.dumps(errors.error_body("payload_too_large", f"request body over {limit} bytes"))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def app_from_environment() -> FastAPI:
    """The app for one of ``tidings serve --api-processes N``'s HTTP processes: settings from the
    environment (as the parent's), the schema already migrated by the parent, no background
    services (the parent runs them)."""
    return create_app(open_container(migrate=False))


SWAGGER_JS = "/static/vendor/swagger-ui-5.35.0-bundle.js"
SWAGGER_CSS = "/static/vendor/swagger-ui-5.35.0.css"


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from assets shipped in the package (npm swagger-ui-dist 5.35.0 in
    ``web/static/vendor``), so the API reference works without internet."""
    from fastapi import APIRouter
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    router = APIRouter(route_class=StrictRoute)  # the edge rules of every route

    @router.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Tidings API",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url="/static/favicon.svg",
        )

    app.include_router(router)


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="Tidings",
        version=tidings.__version__,
        description="Marketing automation you can explain and test. Authenticate with "
        "`Authorization: Bearer <key>`; tracking clients may use HTTP Basic with the write key as user name.",
        docs_url=None,  # served below from the vendored swagger-ui-dist: /docs works offline
        redoc_url=None,
    )
    app.state.container = container
    install_docs(app)
    if container.settings.insecure_unsigned_webhooks:
        logging.getLogger("tidings.api").warning(
            "INSECURE: TIDINGS_INSECURE_UNSIGNED_WEBHOOKS is on: SMS and voice webhooks are accepted "
            "WITHOUT a verified signature, so anyone can forge consent and delivery reports. "
            "Development only; unset it in production."
        )
    errors.install(app)
    for module in (system, contacts, events, tracking, imports, exports, segments, journeys, templates, messages,
                   links, self_service, inbox):
        app.include_router(module.router)
    # channels: inbound SMS keywords, dev sinks, dead letters, sales tasks, bounces/complaints
    from tidings.api import (
        analytics,
        audiences,
        audit,
        bounces,
        browser_tracking,
        campaigns,
        control,
        dead_letters,
        experiments,
        forms,
        goals,
        plan,
        recipes,
        retention,
        scoring,
        sinks,
        sms,
        sources,
        tasks,
    )

    for module in (sms, sinks, dead_letters, tasks, bounces, recipes, control, audit, analytics, experiments, goals,
                   campaigns, browser_tracking, scoring, sources, retention,
                   audiences, forms, plan):
        app.include_router(module.router)
    from tidings.web import app as web_app  # part of the product: an import error stops startup

    web_app.install(app)
    app.add_middleware(browser_tracking.BrowserCors)
    app.add_middleware(BodySizeLimit, max_bytes=container.settings.max_body_bytes)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_int64_bounds(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    prepare_routes(app)
    return app


def prepare_routes(app: FastAPI) -> None:
    """Build every route's request handling now, before serving. FastAPI does it lazily on the
    first request, on the event loop (pydantic models for ~100 routes: 0.1-0.4 s of blocked
    loop); generating the OpenAPI schema walks every route, and checks the schema at startup."""
    app.openapi()
