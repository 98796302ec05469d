"""HTTP routes: the automation audit and the blast-radius preview of a journey.

``GET /api/audit`` is the report (findings ``{kind, severity, subjects, message, suggestion}``
and the complexity-against-value ranking). ``GET /api/journeys/{key}/preview`` simulates the
journey's draft (else its current version, or ``?version=N``) over the current population;
``POST /api/journeys/preview`` does the same for a document in the body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.journeys import _document_text, _run
from tidings.api.routing import StrictRoute
from tidings.application.control import audit as au
from tidings.application.control import audit_preview as ap
from tidings.application.recipes.recipes import recipe_scenarios
from tidings.store import audit_sql

router = APIRouter(tags=["audit"], route_class=StrictRoute)


@router.get("/api/audit", dependencies=[RequireRead])
def get_audit(
    request: Request,
    tag_limit: int | None = Query(None, ge=1, description="warn above this many distinct tags (default 100)"),
    idle_days: int | None = Query(None, ge=1, le=36500, description="idle after this many days without entry (30)"),
    chain_depth: int | None = Query(None, ge=1, description="report chains of more journeys than this (3)"),
    min_enrolments: int | None = Query(None, ge=1, description="never-reached steps from this many enrolments (20)"),
    complexity_limit: int | None = Query(None, ge=1, description="suggest simplifying above this (40)"),
) -> dict[str, Any]:
    """The automation audit over every published journey."""
    settings = au.settings_from(tag_limit=tag_limit, idle_days=idle_days, chain_depth=chain_depth,
                                min_enrolments=min_enrolments, complexity_limit=complexity_limit)  # fmt: skip
    c = container(request)
    with c.engine.connect() as conn:
        return au.run(conn, c.clock.now(), audit_sql, settings, recipe_scenarios).to_dict()


def _preview(request: Request, **kwargs: Any) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        try:
            return _run(lambda: ap.preview(conn, c.clock.now(), audit_sql, **kwargs)).to_dict()
        except ap.PreviewError as exc:
            raise ApiError(422, "validation_error", str(exc), [{"loc": ["query"], "msg": str(exc)}]) from exc
        except ap.NotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc


@router.get("/api/journeys/{key}/preview", dependencies=[RequireRead])
def preview_journey(
    key: str,
    request: Request,
    version: int | None = Query(None, ge=1, description="preview this version (a migration target)"),
    sample: int = Query(ap.DEFAULT_SAMPLE, ge=1, le=100_000, description="simulate at most this many contacts"),
) -> dict[str, Any]:
    """Blast radius: contacts that would enter now, messages per channel in the next 24 h and 7 d."""
    return _preview(request, key=key, version=version, sample=sample)


@router.post("/api/journeys/preview", dependencies=[RequireRead])
async def preview_document(
    request: Request,
    sample: int = Query(ap.DEFAULT_SAMPLE, ge=1, le=100_000, description="simulate at most this many contacts"),
) -> dict[str, Any]:
    """Blast radius of the document in the body (YAML or JSON), before saving it."""
    text = await _document_text(request)
    return await run_in_threadpool(_preview, request, text=text, sample=sample)
