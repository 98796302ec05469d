"""Links inside messages: open pixel, click redirects, unsubscribe, preference centre, self-service.

These pages are public (the signed token is the capability); they need no cookies, no
JavaScript and no redirect to work. A tampered or unknown token gets a 4xx page and changes
nothing; an expired one gets 410. Click destinations come from the stored message, never from
the URL, so there is no open redirect. GET never changes consent (mail scanners follow links):
unsubscribing takes a POST, which is what RFC 8058 one-click clients send.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from tidings.api.deps import FormFields, RawBody, container
from tidings.api.routing import StrictRoute
from tidings.application.contacts import preferences
from tidings.channels import tracking
from tidings.store.sql_uow import joined

router = APIRouter(tags=["links"], route_class=StrictRoute)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<meta name='robots' content='noindex'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
        "line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}fieldset{margin:1rem 0}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=NO_STORE)


def token_error(exc: tracking.BadToken) -> HTMLResponse:
    if isinstance(exc, tracking.ExpiredToken):
        return page("Link expired", "<p>This link has expired. Use a link from a more recent message.</p>", 410)
    return page("Link not valid", "<p>This link is not valid. Nothing was changed.</p>", 404)


def _read(request: Request, token: str, kind: bytes) -> tracking.Token:
    c = container(request)
    return tracking.read_token(c.secret_key, token, kind, c.clock.now())


def _client(request: Request) -> tuple[str | None, str | None]:
    return request.headers.get("user-agent"), request.client.host if request.client else None


# --------------------------------------------------------------------------- tracking


@router.get("/t/o/{token}.gif", include_in_schema=False)
def open_pixel(token: str, request: Request) -> Response:
    c = container(request)
    status = 200
    try:
        tok = _read(request, token, tracking.OPEN)
        ua, ip = _client(request)
        with c.engine.begin() as conn:
            if not tracking.record_open(joined(conn), tok, user_agent=ua, ip=ip, now=c.clock.now()):
                status = 404
    except tracking.BadToken:
        status = 404
    return Response(PIXEL, status_code=status, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}", include_in_schema=False)
def click(token: str, request: Request) -> Response:
    c = container(request)
    try:
        tok = _read(request, token, tracking.CLICK)
    except tracking.BadToken as exc:
        return token_error(exc)
    ua, ip = _client(request)
    with c.engine.begin() as conn:
        url = tracking.record_click(joined(conn), tok, user_agent=ua, ip=ip, now=c.clock.now())
    if url is None:
        return page("Link not valid", "<p>This link is not valid. Nothing was changed.</p>", 404)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


# --------------------------------------------------------------------------- unsubscribe


@router.get("/u/{token}", include_in_schema=False)
def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    try:
        _read(request, token, tracking.UNSUBSCRIBE)
    except tracking.BadToken as exc:
        return token_error(exc)
    action = html.escape(f"/u/{token}", quote=True)
    return page(
        "Unsubscribe",
        f"<p>Stop receiving these messages?</p><form method='post' action='{action}'>"
        "<input type='hidden' name='confirm' value='1'><button type='submit'>Unsubscribe</button></form>",
    )


@router.post("/u/{token}", include_in_schema=False)
def unsubscribe(token: str, request: Request, raw: bytes = RawBody) -> HTMLResponse:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``) and the page's form: both 200."""
    c = container(request)
    try:
        tok = _read(request, token, tracking.UNSUBSCRIBE)
    except tracking.BadToken as exc:
        return token_error(exc)
    body = raw[:1000].decode("utf-8", "replace")
    method = "one_click" if "List-Unsubscribe=One-Click" in body else "page"
    ua, ip = _client(request)
    try:
        with c.uow() as uow:
            result = preferences.unsubscribe_message(
                uow, tok.a, c.clock.now(), method=method, proof={"user_agent": ua, "ip": ip}
            )
            uow.commit()
            prefs = tracking.make_token(c.secret_key, tracking.PREFERENCES, result["contact_id"], 0, c.clock.now())
    except preferences.UnknownMessage:
        return page("Link not valid", "<p>This link is not valid. Nothing was changed.</p>", 404)
    return page(
        "You are unsubscribed",
        f"<p>You will not receive these messages any more ({html.escape(result['channel'])}).</p>"
        f"<p><a href='/p/{html.escape(prefs)}'>Manage your preferences</a></p>",
    )


# --------------------------------------------------------------------------- preference centre


def _prefs_form(token: str, prefs: dict[str, Any], saved: bool) -> str:
    parts = ["<p><strong>Saved.</strong></p>"] if saved else []
    parts.append(f"<form method='post' action='/p/{html.escape(token, quote=True)}'>")
    for channel, info in sorted(prefs["channels"].items()):
        ch = html.escape(channel)
        checked = " checked" if info["status"] == "granted" else ""
        parts.append(
            f"<fieldset><legend>{ch}</legend><label><input type='checkbox' name='{ch}.subscribed' "
            f"value='1'{checked}> Receive {ch} messages</label>"
        )
        for topic in prefs["topics"]:
            t = html.escape(topic, quote=True)
            on = " checked" if info["topics"].get(topic, True) else ""
            parts.append(f"<br><label><input type='checkbox' name='{ch}.topic.{t}' value='1'{on}> {t}</label>")
        paused = info["paused_until"]
        note = f" (paused until {paused:%Y-%m-%d})" if paused else ""
        parts.append(
            f"<br><label>Pause for <input type='number' name='{ch}.pause_days' min='0' max='365' "
            f"value='0' size='4'> days{html.escape(note)}</label>"
            f"<input type='hidden' name='{ch}.present' value='1'></fieldset>"
        )
    parts.append("<button type='submit'>Save preferences</button></form>")
    return "".join(parts)


@router.get("/p/{token}", include_in_schema=False)
def preference_centre(token: str, request: Request) -> HTMLResponse:
    c = container(request)
    try:
        tok = _read(request, token, tracking.PREFERENCES)
    except tracking.BadToken as exc:
        return token_error(exc)
    with c.uow(read_only=True) as uow:
        prefs = preferences.get_preferences(uow, tok.a)
    return page("Your preferences", _prefs_form(token, prefs, saved=False))


@router.post("/p/{token}", include_in_schema=False)
def save_preference_centre(token: str, request: Request, form: FormData = FormFields) -> HTMLResponse:
    c = container(request)
    try:
        tok = _read(request, token, tracking.PREFERENCES)
    except tracking.BadToken as exc:
        return token_error(exc)
    with c.uow(read_only=True) as uow:
        current = preferences.get_preferences(uow, tok.a)
    wanted: dict[str, dict[str, Any]] = {}
    for channel in current["channels"]:
        if form.get(f"{channel}.present") is None:
            continue
        pause = str(form.get(f"{channel}.pause_days") or "0").strip() or "0"
        if not pause.isdigit():
            return page("Preferences not saved", "<p>Pause days must be a whole number.</p>", 422)
        wanted[channel] = {
            "subscribed": form.get(f"{channel}.subscribed") == "1",
            "topics": {t: form.get(f"{channel}.topic.{t}") == "1" for t in current["topics"]},
        }
        if int(pause):
            wanted[channel]["pause_days"] = int(pause)
    try:
        with c.uow() as uow:
            prefs = preferences.save_preferences(uow, tok.a, wanted, c.clock.now())
            uow.commit()
    except ValueError as exc:
        return page("Preferences not saved", f"<p>{html.escape(str(exc))}</p>", 422)
    return page("Your preferences", _prefs_form(token, prefs, saved=True))
