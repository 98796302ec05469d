"""Pages: log in, log out, change your password, and (admins) the list of users."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access import login_throttle
from tidings.application.access import users as users_service
from tidings.application.access.users import Session, UserError
from tidings.web.core import WebRoute, localised, render
from tidings.web.i18n import Text, _
from tidings.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Forbidden,
    FormFields,
    Viewer,
    check_origin,
    container,
    current_session,
    safe_next,
)

router = APIRouter(route_class=WebRoute)


def _secure(request: Request) -> bool:
    return container(request).settings.public_url.startswith("https://")


def _login_page(request: Request, *, next_url: str, email: str = "", error: Text = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(
        request,
        "login.html",
        {"next": next_url, "email": email, "error": error, "login_csrf": token},
        status=status,
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
        max_age=3600,
    )
    return resp


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
def login(request: Request, form: FormData = FormFields) -> Response:
    check_origin(request)
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_url = safe_next(str(form.get("next", "/")))
    given = str(form.get("csrf_token", ""))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not given or not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
        raise Forbidden(_("the login form expired; reload the page and try again"))
    c = container(request)
    if not email or not password:
        return _login_page(request, next_url=next_url, email=email, error=_("wrong email or password"), status=401)
    address = request.client.host if request.client else None
    now = c.clock.now()
    refusal = login_throttle.check(c.uow(), email, address, now)
    if refusal is not None:  # refused before the password is even looked at
        resp = _login_page(request, next_url=next_url, email=email, error=refusal.message(now), status=429)
        resp.headers["Retry-After"] = str(max(1, int((refusal.retry_at - now).total_seconds() + 0.999)))
        return resp
    user = users_service.authenticate(c.uow(), email, password)
    if user is None:
        refusal = login_throttle.record_failure(c.uow(), email, address, now)
        error: Text = _("wrong email or password")
        if refusal is not None:
            error = _("wrong email or password. %(reason)s", reason=refusal.message(now))
        return _login_page(request, next_url=next_url, email=email, error=error, status=401)
    login_throttle.record_success(c.uow(), email)
    token, _session = users_service.start_session(c.uow(), user, now)
    resp = RedirectResponse(next_url, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
        max_age=int(users_service.SESSION_LIFETIME.total_seconds()),
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, session: Session = Viewer) -> Response:
    users_service.end_session(container(request).uow(), request.cookies.get(SESSION_COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/account")
def account(request: Request, session: Session = Viewer) -> Response:
    return render(request, "account.html", {"errors": {}, "done": request.query_params.get("done")}, page="account")


@router.post("/account/preferences")
def save_preferences(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """The user's UI language and time zone (the account page); ``""`` clears either."""
    try:
        users_service.set_preferences(
            container(request).uow(),
            session.user.id,
            locale=str(form.get("locale", "")),
            timezone=str(form.get("timezone", "")),
        )
    except UserError as exc:
        errors = {exc.field or "locale": str(exc)}
        return render(request, "account.html", {"errors": errors}, status=422, page="account")
    return RedirectResponse("/account?done=preferences", status_code=303)


@router.post("/language")
def switch_language(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """The header's language switcher: stores the choice on the user, back to the same page."""
    user = session.user
    try:
        users_service.set_preferences(
            container(request).uow(), user.id, locale=str(form.get("locale", "")), timezone=user.timezone or ""
        )
    except UserError as exc:
        raise Forbidden(str(exc)) from exc
    return RedirectResponse(safe_next(str(form.get("next", "")) or "/"), status_code=303)


@router.post("/account/password")
def change_password(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
    errors: dict[str, Text] = {}
    if new != again:
        errors["again"] = _("the two new passwords differ")
    else:
        c = container(request)
        try:
            users_service.change_password(c.uow(), session.user, current, new, c.clock.now())
        except UserError as exc:
            errors[exc.field or "new"] = str(exc)
    if errors:
        return render(request, "account.html", {"errors": errors}, status=422, page="account")
    # every session ended, this one too: log in again with the new password.
    resp = RedirectResponse("/login?next=/account", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def _users_page(
    request: Request,
    *,
    errors: dict[str, Text] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
    error: Text = "",
    status: int = 200,
) -> Response:
    rows = users_service.list_users(container(request).uow())
    return render(
        request,
        "users.html",
        {
            "users": rows,
            "errors": errors or {},
            "values": values or {"role": "marketer"},
            "roles": users_service.ROLES,
            "notice": notice,
            "error": error,
            "admins": sum(1 for r in rows if r["role"] == "admin" and r["disabled_at"] is None),
        },
        status=status,
        page="users",
    )


@router.get("/users")
def users_page(request: Request, session: Session = Viewer) -> Response:
    if not session.user.is_admin:
        raise Forbidden(_("only an admin can manage users"))
    return _users_page(request, notice=request.query_params.get("notice", ""))


@router.post("/users")
def users_create(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in ("email", "name", "role", "team")}
    c = container(request)
    try:
        created = users_service.create_user(
            c.uow(),
            values["email"],
            str(form.get("password", "")),
            values["role"],
            c.clock.now(),
            name=values["name"],
            team=" ".join(values["team"].split())[:100] or None,
        )
    except UserError as exc:
        return _users_page(request, errors={exc.field or "email": str(exc)}, values=values, status=422)
    notice = localised(request, _("Added %(email)s.", email=created.email))
    return RedirectResponse("/users?" + urlencode({"notice": notice}), status_code=303)


@router.post("/users/{user_id}")
def users_update(
    user_id: int, request: Request, session: Session = Admin, form: FormData = FormFields
) -> Response:
    c = container(request)
    try:
        changed = users_service.update_user(
            c.uow(), session.user, user_id, role=str(form.get("role", "")), team=str(form.get("team", ""))
        )
    except UserError as exc:
        return _users_page(request, error=str(exc), status=404 if exc.field == "user" else 422)
    notice = (
        _("Saved %(email)s: %(role)s, team %(team)s.", email=changed.email, role=changed.role, team=changed.team)
        if changed.team
        else _("Saved %(email)s: %(role)s.", email=changed.email, role=changed.role)
    )
    return RedirectResponse("/users?" + urlencode({"notice": localised(request, notice)}), status_code=303)


def _set_disabled(request: Request, session: Session, user_id: int, disabled: bool) -> Response:
    c = container(request)
    try:
        changed = users_service.set_disabled(c.uow(), session.user, user_id, disabled, c.clock.now())
    except UserError as exc:
        return _users_page(request, error=str(exc), status=404 if exc.field == "user" else 422)
    if disabled and changed.id == session.user.id:  # you disabled yourself: your session is gone
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp
    notice = (
        _("Disabled %(email)s: their sessions ended and they cannot log in.", email=changed.email)
        if disabled
        else _("Enabled %(email)s: they can log in again.", email=changed.email)
    )
    return RedirectResponse("/users?" + urlencode({"notice": localised(request, notice)}), status_code=303)


@router.post("/users/{user_id}/disable")
def users_disable(user_id: int, request: Request, session: Session = Admin) -> Response:
    return _set_disabled(request, session, user_id, True)


@router.post("/users/{user_id}/enable")
def users_enable(user_id: int, request: Request, session: Session = Admin) -> Response:
    return _set_disabled(request, session, user_id, False)
