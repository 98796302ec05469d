"""Pages: segments — list, a builder for the rule language (conditions composed into its text
form) with a live count and sample as the rule is edited, and membership over time as a chart.

Everything goes through ``tidings.application.segments.segments`` (create/update refresh memberships; the
preview counts with the rule compiler and saves nothing).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.segments import segments as svc
from tidings.domain.rules import RuleError, parse_contact_rule
from tidings.domain.rules.ast import KEY_RE
from tidings.store import page_reads_sql
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

SAMPLE = 10
FIELD_OF = {"rule": "rule_text", "key": "key", "name": "name"}


def rule_error(exc: svc.SegmentError | RuleError) -> str:
    if exc.column:
        return f"column {exc.column}: {exc}"
    return f"at {'.'.join(map(str, exc.path))}: {exc}" if exc.path else str(exc)


def preview(request: Request, text: str) -> dict[str, Any]:
    c = container(request)
    out = svc.preview(c.segments, text, c.clock.now(), sample=SAMPLE)
    return {
        "count": out["count"],
        "sample": out["sample"],
        "text": out["rule_text"],
        "warnings": out["warnings"],
    }


@router.get("/segments")
def segments_page(request: Request, session: Session = Viewer) -> Response:
    rows = svc.list_segments(container(request).segments)
    return render(request, "segments.html", {"rows": rows}, page="segments")


@router.get("/segments/new")
def segment_new(request: Request, session: Session = Writer) -> Response:
    values = {"key": "", "name": "", "description": "", "rule_text": 'tag("vip")'}
    return render(request, "segment_edit.html", {"v": values, "errors": {}, "new": True}, page="segments")


def _values(form: Any) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip() for k in ("key", "name", "description", "rule_text")}


def _check(values: dict[str, str], new: bool) -> dict[str, str]:
    """Every field error at once (the service stops at the first)."""
    errors: dict[str, str] = {}
    if new and not KEY_RE.match(values["key"]):
        errors["key"] = "key: letters, digits, _ . : - (up to 100), e.g. vip-buyers"
    if not values["name"]:
        errors["name"] = "give the segment a name"
    try:
        parse_contact_rule(values["rule_text"])
    except RuleError as exc:
        errors["rule_text"] = rule_error(exc)
    return errors


@router.post("/segments")
def segment_create(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    values = _values(form)
    c = container(request)
    errors = _check(values, True)
    if errors:
        return render(
            request,
            "segment_edit.html",
            {"v": values, "errors": errors, "new": True},
            status=422,
            page="segments",
        )
    try:
        svc.create_segment(
            c.segments,
            values["key"],
            values["name"],
            values["rule_text"],
            c.clock.now(),
            description=values["description"],
        )
    except svc.SegmentError as exc:
        errors = {FIELD_OF.get(exc.field, "rule_text"): rule_error(exc)}
        return render(
            request,
            "segment_edit.html",
            {"v": values, "errors": errors, "new": True},
            status=422,
            page="segments",
        )
    return RedirectResponse(f"/segments/{values['key']}", status_code=303)


@router.post("/segments/preview")
def segment_preview(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """Live count and sample for the rule being typed (htmx); changes nothing."""
    text = str(form.get("rule_text", ""))
    ctx: dict[str, Any] = {"error": "", "p": None}
    try:
        ctx["p"] = preview(request, text)
    except svc.SegmentError as exc:
        ctx["error"] = rule_error(exc)
    return render(request, "segment_edit.html", ctx, block="preview")


def _segment_or_404(request: Request, key: str) -> dict[str, Any]:
    seg = svc.get_segment(container(request).segments, key)
    if seg is None:
        raise PageNotFound(f"Segment {key!r}")
    return seg


@router.get("/segments/{key}")
def segment_page(key: str, request: Request, session: Session = Viewer) -> Response:
    seg = _segment_or_404(request, key)
    values = {
        "key": seg["key"],
        "name": seg["name"],
        "description": seg["description"],
        "rule_text": seg["rule_text"] or "",
    }
    try:
        p, error = preview(request, values["rule_text"] or seg["rule"]), ""
    except svc.SegmentError as exc:
        p, error = None, rule_error(exc)
    return render(
        request,
        "segment_edit.html",
        {
            "v": values,
            "seg": seg,
            "members": seg["members"],
            "p": p,
            "error": error,
            "errors": {},
            "new": False,
        },
        page="segments",
    )


@router.post("/segments/{key}")
def segment_update(
    key: str, request: Request, session: Session = Writer, form: FormData = FormFields
) -> Response:
    values = _values(form)
    values["key"] = key
    seg = _segment_or_404(request, key)
    c = container(request)
    errors = _check(values, False)
    if errors:
        return render(
            request,
            "segment_edit.html",
            {"v": values, "seg": seg, "errors": errors, "new": False, "members": seg["members"]},
            status=422,
            page="segments",
        )
    try:
        svc.update_segment(
            c.segments,
            key,
            c.clock.now(),
            name=values["name"],
            rule_source=values["rule_text"],
            description=values["description"],
        )
    except svc.SegmentError as exc:
        errors = {FIELD_OF.get(exc.field, "rule_text"): rule_error(exc)}
        return render(
            request,
            "segment_edit.html",
            {"v": values, "seg": seg, "errors": errors, "new": False, "members": seg["members"]},
            status=422,
            page="segments",
        )
    return RedirectResponse(f"/segments/{key}", status_code=303)


@router.get("/segments/{key}/membership.json")
def membership_json(key: str, request: Request, session: Session = Viewer) -> dict[str, Any]:
    """Members at the end of each of the last 30 days (entered before, not exited by then)."""
    c = container(request)
    now = c.clock.now()
    days = 30
    with c.engine.connect() as conn:
        sid = page_reads_sql.segment_id(conn, key)
        if sid is None:
            raise PageNotFound(f"Segment {key!r}")
        labels, data = [], []
        for i in range(days - 1, -1, -1):
            at = now - timedelta(days=i)
            n = page_reads_sql.members_at(conn, sid, at)
            labels.append(at.strftime("%m-%d"))
            data.append(int(n))
    return {"type": "line", "labels": labels, "datasets": [{"label": "Members", "data": data, "fill": True}]}
