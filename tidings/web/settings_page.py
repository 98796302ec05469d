"""Page: /settings (admins only) — API keys (create with scopes, the secret shown once; revoke),
users and roles (the /users page), sending domains with their DKIM / SPF / DMARC checks and
bounce state, the channel providers in use, send policies (the control page), the public URL, and
retention (its form posts go to ``privacy_page.py``)."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access import keys as keys_service
from tidings.application.access import users as users_service
from tidings.application.access.users import Session
from tidings.application.domains.checks import check_domain
from tidings.application.privacy import retention
from tidings.bootstrap import Container
from tidings.channels import bounces
from tidings.channels.dkim import DkimSigner
from tidings.domain.retention import KINDS, MIN_DAYS, MIN_DAYS_BY_KIND
from tidings.settings import Settings
from tidings.store.retention_sql import retention_sessions
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, is_htmx, render
from tidings.web.security import Admin, FormFields, container

router = APIRouter(route_class=WebRoute)


def public_url_warning(settings: Settings) -> str:
    host = (urlsplit(settings.public_url).hostname or "").lower()
    if settings.public_url == Settings.public_url or host in ("127.0.0.1", "localhost", "::1"):
        return (
            f"TIDINGS_PUBLIC_URL is unset or local ({settings.public_url}): links, tracking pixels and "
            "unsubscribe links in messages will not work for recipients. Set it to the address people reach."
        )
    return ""


def sending_domains(c: Container) -> list[dict[str, Any]]:
    """The domains we send from (the From address, DKIM) and those bounces know, with their state."""
    names = {d for d in (c.settings.dkim_domain, bounces.domain_of(parseaddr(c.settings.email_from)[1])) if d}
    limits = bounces.Limits.from_settings(c.settings)
    now = c.clock.now()
    with c.engine.connect() as conn:
        uow = joined(conn)
        known = {d["domain"]: d for d in bounces.list_domains(uow)}
        out = []
        for name in sorted(names | set(known)):
            row = known.get(name) or {"status": "active", "reason": None}
            rates = bounces.domain_rates(uow, name, now, limits)
            out.append({"domain": name, "status": row["status"], "reason": row["reason"], "rates": rates})
    return out


def _dkim_record(settings: Settings, domain: str) -> str | None:
    if settings.dkim_domain != domain or not settings.dkim_key_file:
        return None
    return DkimSigner.from_file(domain, settings.dkim_selector, settings.dkim_key_file).public_dns_record()


def retention_context(c: Container) -> dict[str, Any]:
    sessions = retention_sessions(c.engine)
    return {
        "policy": retention.load_policy(sessions).document(),
        "least": {k: MIN_DAYS_BY_KIND.get(k, MIN_DAYS) for k in KINDS},
        "log": retention.run_log(sessions, 10),
    }


def page(
    request: Request,
    *,
    created: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
    retention_dry_run: dict[str, int] | None = None,
) -> Response:
    c = container(request)
    ctx = {
        "keys": keys_service.list_keys(c.uow(read_only=True)),
        "scopes": keys_service.SCOPES,
        "created": created,
        "error": error,
        "notice": request.query_params.get("notice", "")[:200],
        "users": users_service.list_users(c.uow(read_only=True)),
        "domains": sending_domains(c),
        "providers": c.channel_providers(),
        "public_url": c.settings.public_url,
        "public_url_warning": public_url_warning(c.settings),
        "selector": c.settings.dkim_selector,
        "retention": retention_context(c),
        "retention_dry_run": retention_dry_run,
    }
    return render(request, "settings.html", ctx, status=status, page="settings")


@router.get("/settings")
def settingspage(request: Request, session: Session = Admin) -> Response:
    return page(request)


@router.post("/settings/keys")
def create_key(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    """A new API key; its secret is on this response only (never stored, never in a URL)."""
    name = str(form.get("name", "")).strip()
    scopes = [str(s) for s in form.getlist("scopes")]
    origins = [o.strip() for o in str(form.get("origins", "")).split() if o.strip()]
    c = container(request)
    try:
        key, secret = keys_service.create_key(c.uow(), name, scopes, c.clock.now(), origins)
    except (keys_service.KeyError_, ValueError) as exc:
        return page(request, error=str(exc), status=422)
    return page(request, created={"id": key.id, "name": key.name, "secret": secret, "scopes": sorted(key.scopes)})


@router.post("/settings/keys/{key_id}/revoke")
def revoke_key(key_id: int, request: Request, session: Session = Admin) -> Response:
    c = container(request)
    if not keys_service.revoke_key(c.uow(), key_id, c.clock.now()):
        raise PageNotFound(f"Active API key {key_id}")
    return RedirectResponse("/settings?" + urlencode({"notice": f"Key {key_id} revoked."}), status_code=303)


@router.get("/settings/domains/{domain}/check")
def check(domain: str, request: Request, session: Session = Admin) -> Response:
    """DKIM, SPF and DMARC of a sending domain, looked up now (a plain def: DNS blocks)."""
    c = container(request)
    domain = domain.strip().lower()
    if domain not in {d["domain"] for d in sending_domains(c)}:
        raise PageNotFound(f"Sending domain {domain}")
    results = check_domain(
        c.dns_resolver, domain, selector=c.settings.dkim_selector, our_dkim_record=_dkim_record(c.settings, domain)
    )
    ctx = {"domain": domain, "results": results}
    if is_htmx(request):
        return render(request, "settings_dns.html", ctx, block="checks")
    return render(request, "settings_dns.html", ctx, page="settings")
