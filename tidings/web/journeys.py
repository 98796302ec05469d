"""Pages: journeys — the list, each journey drawn as a graph with live counts, A/B results,
publish / pause / resume, editing the draft, comparing versions, and the map of all journeys and
the links between them (the Simulation page is ``journey_simulate.py``)."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from jinja2.utils import htmlsafe_json_dumps
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.journeys import journeys as svc
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.links import journey_links
from tidings.domain.journeys.model import JourneyDoc, JourneyError
from tidings.store import journeys as jst
from tidings.store import page_reads_sql
from tidings.store import web_reads_sql as queries
from tidings.store.db import Connection
from tidings.store.sql_uow import joined
from tidings.web import journey_view as jv
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.graph import wrap
from tidings.web.reports import edge_funnel, step_funnel
from tidings.web.security import FormFields, Viewer, Writer, container

router = APIRouter(route_class=WebRoute)

#: what ``/journeys/new`` starts from: one empty event trigger and no steps (the builder adds them)
NEW_JOURNEY_FORM: dict[str, Any] = {
    "format": 1,
    "keys": ["key", "name", "triggers", "steps"],
    "journey": {"key": "", "name": "", "triggers": [{"event": ""}]},
    "steps": [],
    "layout": {},
}


def _edit(
    request: Request, key: str | None, source: str, problems: list[dict[str, Any]], status: int = 200
) -> Response:
    """The editor page: the builder's form of ``source`` (the empty form when it does not load)."""
    from tidings.domain.journeys.builder import to_builder
    from tidings.domain.journeys.yamlines import load
    from tidings.web.builder import builder_options

    form, loaded = NEW_JOURNEY_FORM, not source.strip()
    try:
        data = load(source) if source.strip() else None
        if isinstance(data, dict):
            form, loaded = to_builder(data), True
    except yaml.YAMLError:
        pass  # the page opens on the YAML tab; the builder waits until the text loads
    has_version = False
    if key is not None:
        with container(request).engine.connect() as conn:
            row = jst.get_journey(conn, key)
            has_version = bool(row and row["current_version"])
    # not |tojson: it sorts the keys, and the builder keeps the document's order
    builder = {"form": form, "loaded": loaded, "options": builder_options(request)}
    builder_json = htmlsafe_json_dumps(builder, dumps=json.dumps)  # Markup
    ctx = {"key": key, "source": source, "problems": problems, "builder_json": builder_json, "has_version": has_version}
    return render(request, "journey_edit.html", ctx, status=status, page="journeys")


DEFAULT_SCENARIOS = """scenarios:
  - name: ignores every message
    contact: {email: quiet@example.com, consents: {email: granted}}
    behaviour: {opens: false}
  - name: opens and clicks everything
    contact: {email: keen@example.com, consents: {email: granted}}
    behaviour: {opens: true, clicks: true}
"""


def _journey_or_404(conn: Connection, key: str) -> Any:
    row = jst.get_journey(conn, key)
    if row is None:
        raise PageNotFound(f"Journey {key!r}")
    return row


def _doc_for(conn: Connection, row: Any, version: int | None) -> tuple[JourneyDoc | None, str, int | None]:
    """The document to show: a given version, else the current one, else the draft."""
    v = version or row["current_version"]
    if v:
        vrow = jst.get_version(conn, int(row["id"]), int(v))
        if vrow is None:
            raise PageNotFound(f"Version {v} of journey {row['key']!r}")
        return parse_journey(str(vrow["source"])), str(vrow["source"]), int(v)
    if row["draft_source"]:
        try:
            return parse_journey(str(row["draft_source"])), str(row["draft_source"]), None
        except JourneyError:
            return None, str(row["draft_source"]), None
    return None, "", None


@router.get("/journeys")
def journeys_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        rows = jst.list_journeys(conn)
        active, total = page_reads_sql.enrolment_counts(conn)
        conv = {r["key"]: r["conversions"] for r in queries.journey_revenue(conn, limit=100_000)}
    items = [
        {
            **dict(r),
            "active": active.get(r["id"], 0),
            "total": total.get(r["id"], 0),
            "conv": conv.get(r["key"], 0),
        }
        for r in rows
    ]
    return render(request, "journeys.html", {"rows": items}, page="journeys")


@router.get("/journeys/new")
def new_journey(request: Request, session: Session = Writer) -> Response:
    from tidings.domain.journeys.builder import builder_yaml

    return _edit(request, None, builder_yaml(NEW_JOURNEY_FORM), [])


@router.post("/journeys/new")
def create_journey(request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    return _save_draft(request, form, None)


def _save_draft(request: Request, form: FormData, key: str | None) -> Response:
    source = str(form.get("source", ""))
    c = container(request)
    problems: list[dict[str, Any]] = []
    try:
        with c.engine.begin() as conn:
            doc = svc.validate(joined(conn), source)
            if key is not None and doc.key != key:
                problems = [
                    {
                        "msg": f"the key is {key!r}: a document with another key is another journey",
                        "loc": ["key"],
                        "line": None,
                        "step": None,
                    }
                ]
            else:
                svc.save_draft(joined(conn), source, c.clock.now())
    except JourneyError as exc:
        problems = exc.details()
    except yaml.YAMLError as exc:
        problems = [{"msg": str(exc), "loc": [], "line": None, "step": None}]
    if problems:
        return _edit(request, key, source, problems, status=422)
    return RedirectResponse(f"/journeys/{doc.key}", status_code=303)


@router.post("/journeys/preview-graph")
def preview_graph(request: Request, session: Session = Viewer, form: FormData = FormFields) -> Response:
    """The document being edited, drawn (or its problems listed), live as it is typed (htmx)."""
    source = str(form.get("source", ""))
    problems: list[dict[str, Any]] = []
    graph = None
    try:
        with container(request).engine.connect() as conn:
            graph = jv.journey_graph(svc.validate(joined(conn), source))
    except JourneyError as exc:
        problems = exc.details()
    except yaml.YAMLError as exc:
        problems = [{"msg": str(exc), "loc": [], "line": None, "step": None}]
    return render(request, "journey_edit.html", {"g": graph, "live_problems": problems}, block="live")


@router.get("/journeys/map")
def journeys_map(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    docs: list[JourneyDoc] = []
    items: list[dict[str, Any]] = []
    with c.engine.connect() as conn:
        for r in jst.list_journeys(conn):
            try:
                doc, _source, _shown = _doc_for(conn, r, None)
            except JourneyError:
                doc = None
            if doc is None:
                continue
            docs.append(doc)
            items.append({**dict(r), "trigger_text": wrap("; ".join(jv.trigger_text(t) for t in doc.triggers), 30)})
        seg_rules = page_reads_sql.segment_rules(conn)
    links = journey_links(docs, seg_rules)
    graph = jv.map_graph(items, links)
    return render(request, "journey_map.html", {"g": graph, "links": links, "journeys": items}, page="map")


@router.get("/journeys/{journey_id}/by-id")
def by_id(journey_id: int, request: Request, session: Session = Viewer) -> Response:
    with container(request).engine.connect() as conn:
        row = jst.get_journey_by_id(conn, journey_id)
    if row is None:
        raise PageNotFound(f"Journey {journey_id}")
    return RedirectResponse(f"/journeys/{row['key']}", status_code=303)


@router.get("/journeys/{key}")
def journey_page(key: str, request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    try:
        version = int(request.query_params.get("version") or 0) or None
    except ValueError:
        version = None
    with c.engine.connect() as conn:
        row = _journey_or_404(conn, key)
        doc, source, shown = _doc_for(conn, row, version)
        versions = jst.versions(conn, int(row["id"]))
        counts = jv.step_counts(conn, int(row["id"]), shown) if shown else None
        funnel = step_funnel(conn, int(row["id"]), shown) if doc else {}
        moves = edge_funnel(conn, int(row["id"]), shown) if doc else {}
        graph = jv.journey_graph(doc, counts, link_steps=True, funnel=funnel, moves=moves) if doc else None
        ab = jv.ab_results(conn, int(row["id"]), doc) if doc else []
        desc = svc.describe(joined(conn), key)
        now = c.clock.now()
        conv, revenue = _conv(conn, key, now)
        econ = _economics(conn, key, now)
    return render(
        request,
        "journey.html",
        {
            "j": row,
            "doc": doc,
            "source": source,
            "shown": shown,
            "versions": versions,
            "g": graph,
            "ab": ab,
            "desc": desc,
            "conv": conv,
            "revenue": revenue,
            "econ": econ,
            "notice": request.query_params.get("notice", ""),
        },
        page="journeys",
    )


def _economics(conn: Connection, journey: str, now: Any) -> dict[str, Any]:
    """Hours saved, cost, revenue, ROI, break-even (application/analytics/economics.py)."""
    from tidings.application.analytics.economics import journey_economics
    from tidings.store.measurement import SqlAnalyticsStore

    return journey_economics(SqlAnalyticsStore(conn), journey, now)


def _conv(conn: Connection, journey: str, now: Any) -> tuple[int, float]:
    from tidings.store.web_reads_sql import conversions

    return conversions(conn, now - timedelta(days=3650), now + timedelta(days=1), journey)


@router.get("/journeys/{key}/edit")
def edit_journey(key: str, request: Request, session: Session = Writer) -> Response:
    with container(request).engine.connect() as conn:
        row = _journey_or_404(conn, key)
        source = row["draft_source"]
        if not source and row["current_version"]:
            vrow = jst.get_version(conn, int(row["id"]), int(row["current_version"]))
            source = vrow["source"] if vrow else ""
    return _edit(request, key, str(source or ""), [])


@router.post("/journeys/{key}/edit")
def save_journey(key: str, request: Request, session: Session = Writer, form: FormData = FormFields) -> Response:
    return _save_draft(request, form, key)


def _action(request: Request, key: str, what: str) -> Response:
    c = container(request)
    session = request.state.web_session
    try:
        with c.engine.begin() as conn:
            _journey_or_404(conn, key)
            if what == "publish":
                from tidings.application.control.audit_names import checker
                from tidings.store import audit_sql

                by = session.user.email if session else None
                names = partial(checker(audit_sql), conn)
                p = svc.publish(joined(conn), c.clock.now(), key=key, by=by, check_names=names)
                notice = (
                    f"published version {p.version}" if p.created else f"unchanged: still version {p.version}"
                )
                notice += "".join(f"; warning: {w} (stopped at run time by its loop_limit)" for w in p.warnings)
                if p.name_warnings:
                    notice += "; name warnings: " + "; ".join(str(w) for w in p.name_warnings)
            elif what == "pause":
                svc.pause(joined(conn), key, c.clock.now())
                notice = "paused: no new entries, waiting timers are held"
            else:
                svc.resume(joined(conn), key, c.clock.now())
                notice = "resumed"
    except (svc.Conflict, svc.NotFound) as exc:
        notice = f"not done: {exc}"
    except JourneyError as exc:
        notice = "not published: " + "; ".join(str(p) for p in exc.problems)
    from urllib.parse import quote

    return RedirectResponse(f"/journeys/{key}?notice={quote(notice)}", status_code=303)


@router.post("/journeys/{key}/publish")
def publish(key: str, request: Request, session: Session = Writer) -> Response:
    return _action(request, key, "publish")


@router.post("/journeys/{key}/pause")
def pause(key: str, request: Request, session: Session = Writer) -> Response:
    return _action(request, key, "pause")


@router.post("/journeys/{key}/resume")
def resume(key: str, request: Request, session: Session = Writer) -> Response:
    return _action(request, key, "resume")


def _changes(old: str, new: str) -> list[Any]:
    """The version diff as sentences (``domain/journeys/docdiff.py``); none if a side is not YAML."""
    from tidings.domain.journeys.docdiff import changes

    try:
        a, b = yaml.safe_load(old) or {}, yaml.safe_load(new) or {}
    except yaml.YAMLError:
        return []
    return changes(a, b) if isinstance(a, dict) and isinstance(b, dict) else []


@router.get("/journeys/{key}/diff")
def diff(key: str, request: Request, session: Session = Viewer) -> Response:
    p = request.query_params
    with container(request).engine.connect() as conn:
        row = _journey_or_404(conn, key)
        versions = jst.versions(conn, int(row["id"]))
        names = [str(v["version"]) for v in versions] + (["draft"] if row["draft_source"] else [])
        a = p.get("a") or (names[-2] if len(names) > 1 else (names[0] if names else ""))
        b = p.get("b") or (names[-1] if names else "")

        def text_of(name: str) -> str:
            if name == "draft":
                return str(row["draft_source"] or "")
            try:
                vrow = jst.get_version(conn, int(row["id"]), int(name))
            except ValueError:
                return ""
            return str(vrow["source"]) if vrow else ""

        lines = jv.diff_lines(text_of(a), text_of(b), f"v{a}", f"v{b}") if a and b else []
        summary = _changes(text_of(a), text_of(b)) if a and b else []
    return render(
        request,
        "journey_diff.html",
        {"j": row, "names": names, "a": a, "b": b, "lines": lines, "summary": summary},
        page="journeys",
    )
