"""Pages: campaigns — the list, a new campaign (segment with its size now, template picker with a
preview, schedule, throttle, A/B subjects), and one campaign: edit, send a test, approve (admins),
schedule, cancel, progress while sending (htmx polling) and results from the analytics rollups.

Everything goes through ``tidings.application.campaigns.campaigns``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.campaigns import campaigns as svc
from tidings.application.delivery import templates as tsvc
from tidings.application.segments import segments as ssvc
from tidings.domain.campaigns.model import CampaignError
from tidings.store.analytics import SqlAnalytics
from tidings.store.sql_uow import joined
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import Admin, FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

FIELDS = ("key", "name", "segment", "template", "channel", "subjects", "kind", "at", "date", "time",
          "throttle_max", "throttle_per", "test_share", "winner_after_hours", "metric")
DEFAULTS = {"channel": "email", "kind": "now", "throttle_per": "minute", "test_share": "20",
            "winner_after_hours": "4", "metric": "opens"}


def _choices(request: Request) -> dict[str, Any]:
    c = container(request)
    segments = [(r["key"], r["name"], r["members"]) for r in ssvc.list_segments(c.segments)]
    with c.engine.connect() as conn:
        keys = sorted({r["key"] for r in tsvc.list_templates(joined(conn))})
    return {"segments": segments, "template_keys": keys}


def _number(text: str, field: str, errors: dict[str, str], *, cast: type = float) -> Any:
    try:
        return cast(text)
    except ValueError:
        errors[field] = f"{field}: a number, not {text!r}"
        return None


def _doc(v: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The campaign document from the form's fields, and the errors the form itself can tell."""
    errors: dict[str, str] = {}
    subjects = [s.strip() for s in v["subjects"].splitlines() if s.strip()]
    schedule: dict[str, Any] = {"kind": v["kind"] or "now"}
    if v["kind"] == "at":
        at = v["at"]
        schedule["at"] = at if ("+" in at[10:] or at.endswith("Z")) else f"{at}+00:00"  # the form's time is UTC
    elif v["kind"] == "local":
        schedule |= {"date": v["date"], "time": v["time"]}
    throttle = None
    if v["throttle_max"]:
        n = _number(v["throttle_max"], "throttle_max", errors, cast=int)
        throttle = {"max": n, "per": v["throttle_per"] or "minute"} if n is not None else None
    share = _number(v["test_share"] or "20", "test_share", errors)
    hours = _number(v["winner_after_hours"] or "4", "winner_after_hours", errors)
    ab = {"test_share": (share or 0) / 100, "winner_after_hours": hours or 0, "metric": v["metric"] or "opens"}
    doc = {"key": v["key"], "name": v["name"], "segment": v["segment"], "template": v["template"],
           "channel": v["channel"] or "email", "subjects": subjects, "schedule": schedule, "throttle": throttle,
           "ab": ab if len(subjects) >= 2 else None}
    return doc, errors


FORM_FIELD = {"throttle.max": "throttle_max", "throttle.per": "throttle_per", "ab.test_share": "test_share",
              "ab.winner_after_hours": "winner_after_hours", "ab.metric": "metric", "schedule.kind": "kind",
              "schedule.at": "at", "schedule.date": "date", "schedule.time": "time"}


def _errors(exc: CampaignError) -> dict[str, str]:
    out: dict[str, str] = {}
    for path, msg in exc.problems:
        field = FORM_FIELD.get(path, path)
        out[field] = f"{out[field]}; {msg}" if field in out else msg
    return out


def _values_of(row: dict[str, Any]) -> dict[str, str]:
    sched, thr, ab = row["schedule"] or {}, row["throttle"] or {}, row["ab"] or {}
    return {
        "key": row["key"], "name": row["name"], "segment": row["segment"], "template": row["template"],
        "channel": row["channel"], "subjects": "\n".join(row["subjects"] or []), "kind": sched.get("kind", "now"),
        "at": (sched.get("at") or "")[:16], "date": sched.get("date") or "", "time": sched.get("time") or "",
        "throttle_max": str(thr.get("max") or ""), "throttle_per": thr.get("per") or "minute",
        "test_share": f"{float(ab.get('test_share', 0.2)) * 100:g}",
        "winner_after_hours": f"{float(ab.get('winner_after_hours', 4)):g}", "metric": ab.get("metric", "opens"),
    }


def _form(form: FormData) -> dict[str, str]:
    return {k: str(form.get(k, "") or DEFAULTS.get(k, "")).strip() if k != "subjects" else str(form.get(k, ""))
            for k in FIELDS}


@router.get("/campaigns")
def campaigns_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        uow = joined(conn)
        rows = [svc.public(r) | {"progress": svc.progress(uow, r)} for r in svc.listing(uow)]
    return render(request, "campaigns.html", {"rows": rows}, page="campaigns")


@router.get("/campaigns/new")
def campaign_new(request: Request, session: Session = Writer) -> Response:
    values = {k: DEFAULTS.get(k, "") for k in FIELDS}
    return render(request, "campaign_new.html", {"v": values, "errors": {}, **_choices(request)}, page="campaigns")


@router.get("/campaigns/audience")
def audience(request: Request, segment: str = "", session: Session = Viewer) -> Response:
    """The segment's size now (htmx, beside the segment picker)."""
    with container(request).engine.connect() as conn:
        n = svc.audience_size(joined(conn), segment) if segment else None
    return render(request, "_campaign_audience.html", {"audience": n, "segment": segment})


@router.get("/campaigns/template-preview")
def template_preview(request: Request, template: str = "", session: Session = Viewer) -> Response:
    """The chosen template's subject and a sandboxed preview (htmx, beside the template picker)."""
    out, error = None, ""
    if template:
        c = container(request)
        try:
            with c.engine.connect() as conn:
                out = tsvc.preview(joined(conn), template, contact_id=None, locale=None,
                                   public_url=c.settings.public_url)
        except LookupError as exc:
            error = str(exc.args[0])
        except Exception as exc:  # a template that fails to render says why, in the panel
            error = str(exc)
    return render(request, "_campaign_template.html", {"tpl": out, "tpl_key": template, "tpl_error": error})


@router.post("/campaigns")
def campaign_create(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = _form(form)
    doc, errors = _doc(values)
    c = container(request)
    if not errors:
        try:
            with c.engine.begin() as conn:
                svc.create(joined(conn), doc, c.clock.now(), by=session.user.email)
        except CampaignError as exc:
            errors = _errors(exc)
    if errors:
        return render(request, "campaign_new.html", {"v": values, "errors": errors, **_choices(request)},
                      status=422, page="campaigns")
    return RedirectResponse(f"/campaigns/{quote(values['key'])}?notice=created", status_code=303)


def _page(request: Request, key: str, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          notice: str = "", status: int = 200) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        try:
            shown = svc.report(joined(conn), SqlAnalytics(conn), key)
        except svc.CampaignNotFound:
            raise PageNotFound(f"campaign {key}") from None
        row = svc.get(joined(conn), key)
    ctx = {"c": shown, "v": values or _values_of(row), "errors": errors or {}, "editing": values is not None,
           "notice": notice or request.query_params.get("notice", ""), **_choices(request)}
    return render(request, "campaign.html", ctx, status=status, page="campaigns")


@router.get("/campaigns/{key}")
def campaign_page(key: str, request: Request, session: Session = Viewer) -> Response:
    return _page(request, key)


@router.get("/campaigns/{key}/progress")
def campaign_progress(key: str, request: Request, session: Session = Viewer) -> Response:
    """The progress card alone (htmx polling while the campaign is scheduled or sending)."""
    c = container(request)
    with c.engine.connect() as conn:
        try:
            shown = svc.report(joined(conn), SqlAnalytics(conn), key)
        except svc.CampaignNotFound:
            raise PageNotFound(f"campaign {key}") from None
    return render(request, "campaign.html", {"c": shown}, block="progress")


@router.post("/campaigns/{key}")
def campaign_edit(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = _form(form) | {"key": key}
    doc, errors = _doc(values)
    c = container(request)
    if not errors:
        try:
            with c.engine.begin() as conn:
                svc.edit(joined(conn), key, doc, c.clock.now())
        except svc.CampaignNotFound:
            raise PageNotFound(f"campaign {key}") from None
        except CampaignError as exc:
            errors = _errors(exc)
    if errors:
        return _page(request, key, values=values, errors=errors, status=422)
    return RedirectResponse(f"/campaigns/{quote(key)}?notice=saved", status_code=303)


def _act(request: Request, key: str, action: Any, done: str) -> Response:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            action(joined(conn), c.clock.now())
    except svc.CampaignNotFound:
        raise PageNotFound(f"campaign {key}") from None
    except CampaignError as exc:
        return _page(request, key, notice=str(exc), status=409)
    return RedirectResponse(f"/campaigns/{quote(key)}?notice={quote(done)}", status_code=303)


@router.post("/campaigns/{key}/approve")
def campaign_approve(key: str, request: Request, session: Session = Admin) -> Response:
    return _act(request, key, lambda uow, now: svc.approve(uow, key, now, by=session.user.email), "approved")


@router.post("/campaigns/{key}/schedule")
def campaign_schedule(key: str, request: Request, session: Session = Writer) -> Response:
    return _act(request, key, lambda uow, now: svc.schedule(uow, key, now), "scheduled")


@router.post("/campaigns/{key}/cancel")
def campaign_cancel(key: str, request: Request, session: Session = Writer) -> Response:
    return _act(request, key, lambda uow, now: svc.cancel(uow, key, now), "cancelled")


@router.post("/campaigns/{key}/send-test")
async def campaign_send_test(
    key: str, request: Request, session: Session = Writer, form: FormData = FormFields
) -> Response:
    """One test per subject to the address given (the templates' send-test path)."""
    import asyncio

    from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test

    to = str(form.get("to", "")).strip()
    c = container(request)

    def renders() -> list[tuple[str, dict[str, Any]]]:
        with c.engine.connect() as conn:
            return svc.test_renders(joined(conn), key, contact_id=None, public_url=c.settings.public_url)

    try:
        if "@" not in to:
            raise ValueError("give an email address to send the test to")
        done = []
        for variant, rendered in await asyncio.to_thread(renders):
            provider = await asyncio.to_thread(c.email_provider)
            await send_test(provider, rendered, key=rendered["key"], to=to, contact_id=None)
            done.append(variant)
        notice = f"sent {len(done)} test(s) to {to}"
    except svc.CampaignNotFound:
        raise PageNotFound(f"campaign {key}") from None
    except (ValueError, LookupError, NotEmail, SendTestRefused) as exc:
        notice = str(exc)
    return RedirectResponse(f"/campaigns/{quote(key)}?notice={quote(notice)}", status_code=303)
