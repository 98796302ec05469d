"""The web app's guards: who is logged in, may they write, is this post really from our form.

* Sessions live in a cookie (``tidings_session``, HttpOnly, SameSite=Lax); see services/users.
* CSRF: every state-changing request carries the session's token, as the hidden form field
  ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers`` on <body>).
  A cross-origin ``Origin`` header is refused as well. The login form, which has no session yet,
  uses a double-submit cookie.
* Roles are checked on the server on every write route (``Writer``/``Admin`` dependencies).
* Security headers and a strict Content-Security-Policy are added to every web response.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.application.access.users import Session, load_session
from tidings.bootstrap import Container
from tidings.web.i18n import _

SESSION_COOKIE = "tidings_session"
LOGIN_CSRF_COOKIE = "tidings_login_csrf"

#: the CSP of every page: nothing inline, nothing from elsewhere.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
#: the CSP of rendered messages shown inside a sandboxed iframe: no scripts, own origin denied.
FRAME_CSP = (
    "sandbox; default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
#: path prefixes served by the web app (security headers apply to these).
WEB_PREFIXES = (
    "/login",
    "/logout",
    "/account",
    "/dashboard",
    "/contacts",
    "/segments",
    "/journeys",
    "/templates",
    "/inbox",
    "/users",
    "/tasks",
    "/dead-letters",
    "/sources",
    "/f",
    "/forms",
    "/content-plan",
    "/static",
    "/web",
)


class LoginRequired(Exception):
    def __init__(self, next_url: str = "/") -> None:
        self.next_url = next_url


class Forbidden(Exception):
    def __init__(self, message: object) -> None:  # text, or a message marked for translation
        super().__init__(message)
        self.message = message


def is_web_path(path: str) -> bool:
    return path == "/" or any(path == p or path.startswith(p + "/") for p in WEB_PREFIXES)


class SecurityHeaders:
    """ASGI middleware: CSP and friends on web responses (a response may set its own CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"content-security-policy", PAGE_CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
                ]
                for name, value in extra:
                    if name not in names:
                        headers.append((name, value))
                if not scope.get("path", "").startswith("/static/") and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def current_session(request: Request) -> Session | None:
    cached: Session | None | bool = getattr(request.state, "web_session", False)
    if cached is not False:
        return cached if isinstance(cached, Session) else None
    c = container(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = load_session(c.uow(), token, c.clock.now()) if token else None
    request.state.web_session = session
    return session


def _here(request: Request) -> str:
    url = request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


def require_session(request: Request) -> Session:
    session = current_session(request)
    if session is None:
        raise LoginRequired(_here(request) if request.method == "GET" else "/")
    return session


def safe_next(url: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return "/"
    return url


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(safe_next(next_url), safe="/")


def check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc.lower() != host.lower():
            raise Forbidden(_("this form was posted from another site; reload the page and try again"))


async def _form(request: Request) -> FormData:
    """The posted form, read on the event loop, so that the endpoint can be a plain ``def``: its
    database work, password hashing and rendering then run in the thread pool, not on the loop."""
    return await request.form()


#: the posted form's fields, for sync endpoints (``form: FormData = FormFields``).
FormFields = Depends(_form)


async def check_csrf(request: Request, expected: str) -> None:
    check_origin(request)
    given = request.headers.get("x-csrf-token")
    if not given:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(
            _("this form has expired or did not come from Tidings (CSRF check failed); reload the page and try again")
        )


@dataclass(frozen=True)
class Poster:
    """A logged-in user whose post passed the CSRF check."""

    session: Session


async def _poster(request: Request, session: Session = Depends(require_session)) -> Session:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await check_csrf(request, session.csrf_token)
    return session


async def _writer(session: Session = Depends(_poster)) -> Session:
    if not session.user.can_write:
        raise Forbidden(
            _("your role (%(role)s) can only look; ask an admin for the marketer role", role=session.user.role)
        )
    return session


async def _admin(session: Session = Depends(_poster)) -> Session:
    if not session.user.is_admin:
        raise Forbidden(_("only an admin can do this"))
    return session


#: any logged-in user (reads); posts also pass the CSRF check (logout, own password).
Viewer = Depends(_poster)
#: admin or marketer, CSRF checked.
Writer = Depends(_writer)
#: admin only, CSRF checked.
Admin = Depends(_admin)
