"""Pages: the automation audit, and the blast-radius panel shown beside publish and resume.

``/audit`` lists the findings (severity, kind, subjects linked to their journeys, message,
suggestion) and the complexity-against-value ranking. ``/journeys/{key}/preview`` is the htmx
fragment the journey page loads next to its Publish / Resume buttons: who would enter now,
messages per channel in the next 24 h and 7 days, and the name warnings of the draft.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.application.access.users import Session
from tidings.application.control import audit as au
from tidings.application.control import audit_names, audit_preview
from tidings.application.recipes.recipes import recipe_scenarios
from tidings.domain.journeys.model import JourneyError
from tidings.store import audit_sql
from tidings.web.core import WebRoute, render
from tidings.web.security import Viewer, container

router = APIRouter(route_class=WebRoute)


def _subject_link(subject: str) -> dict[str, str]:
    kind, _, name = subject.partition(":")
    if kind == "journey":
        return {"label": name, "href": f"/journeys/{name}", "kind": kind}
    if kind == "step":
        key, _, step = name.partition("/")
        return {"label": f"{key} / {step}", "href": f"/journeys/{key}", "kind": kind}
    if kind == "segment":
        return {"label": name, "href": f"/segments/{name}", "kind": kind}
    return {"label": name, "href": "", "kind": kind}


@router.get("/audit")
def audit_page(request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    with c.engine.connect() as conn:
        report = au.run(conn, c.clock.now(), audit_sql, scenarios=recipe_scenarios).to_dict()
    for f in report["findings"]:
        f["links"] = [_subject_link(s) for s in f["subjects"][:12]]
        f["more"] = max(0, len(f["subjects"]) - 12)
    return render(request, "audit.html", {"r": report}, page="audit")


@router.get("/journeys/{key}/preview")
def preview_fragment(key: str, request: Request, session: Session = Viewer) -> Response:
    c = container(request)
    data: dict[str, Any] | None = None
    warnings: list[Any] = []
    error = ""
    with c.engine.connect() as conn:
        try:
            p = audit_preview.preview(conn, c.clock.now(), audit_sql, key=key)
            data = p.to_dict()
            doc, _ = audit_preview.document(conn, audit_sql, key=key)
            warnings = audit_names.check(conn, doc, audit_sql)
        except (audit_preview.NotFound, audit_preview.PreviewError) as exc:
            error = str(exc)
        except JourneyError as exc:
            error = "; ".join(str(p) for p in exc.problems)
    return render(request, "audit_preview.html", {"p": data, "warnings": warnings, "error": error, "key": key})
