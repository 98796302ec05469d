"""HTTP routes: lead-scoring models (documents, like journeys) and a contact's score explained.

A model is posted as its YAML or JSON text; a refused document is a 422 whose details give each
problem's field path, line and rule id.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.scoring import models as sm
from tidings.application.scoring.funnel import rebuild_stage_moves, stage_funnel_over_time
from tidings.application.scoring.scores import decay_pass, explain_contact, stage_funnel
from tidings.domain.scoring.funnel import FunnelRangeError
from tidings.domain.scoring.model import ScoringError
from tidings.domain.scoring.records import StoredModel

router = APIRouter(tags=["scoring"], route_class=StrictRoute)
MAX_DOCUMENT = 256 * 1024


async def document_text(request: Request) -> str:
    """The request body as a document's text (read on the event loop; nothing else is done here)."""
    raw = await request.body()
    if len(raw) > MAX_DOCUMENT:
        raise ApiError(413, "too_large", f"a scoring document is at most {MAX_DOCUMENT} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "validation_error", "the body is not UTF-8 text", [{"loc": ["body"], "msg": str(exc)}]
        ) from exc


def _refused(exc: ScoringError) -> ApiError:
    return ApiError(422, "invalid_scoring_model", exc.lines()[0] if exc.problems else str(exc), exc.details())


def _model(m: StoredModel, *, document: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": m.key,
        "name": m.name,
        "version": m.version,
        "active": m.active,
        "updated_at": m.updated_at.isoformat(),
    }
    if document:
        out["document"] = m.document
    return out


def _unknown(exc: sm.UnknownModel) -> ApiError:
    return ApiError(404, "not_found", str(exc), [{"loc": ["path", "key"], "msg": str(exc)}])


@router.get("/api/scoring/models", dependencies=[RequireRead])
def list_models(request: Request) -> dict[str, Any]:
    """Every scoring model, latest version."""
    return {"items": [_model(m) for m in sm.list_models(container(request).uow(read_only=True))]}


@router.post("/api/scoring/models", status_code=201, dependencies=[RequireWrite])
def publish_model(request: Request, text: str = Depends(document_text)) -> dict[str, Any]:
    """Publish a model from its YAML/JSON text: a new version when the document changed."""
    c = container(request)
    try:
        return _model(sm.publish_model(c.uow(), c.clock, text), document=True)
    except ScoringError as exc:
        raise _refused(exc) from exc


@router.post("/api/scoring/models/validate", dependencies=[RequireRead])
def validate_model(text: str = Depends(document_text)) -> dict[str, Any]:
    """Check a document without publishing it: ``{"ok": false, "problems": [...]}`` with lines."""
    try:
        m = sm.validate_model(text)
    except ScoringError as exc:
        return {"ok": False, "problems": exc.details()}
    return {"ok": True, "key": m.key, "rules": len(m.behaviour) + len(m.profile), "problems": []}


@router.get("/api/scoring/models/{key}", dependencies=[RequireRead])
def get_model(key: str, request: Request) -> dict[str, Any]:
    try:
        return _model(sm.get_model(container(request).uow(read_only=True), key), document=True)
    except sm.UnknownModel as exc:
        raise _unknown(exc) from exc


def _set_active(request: Request, key: str, active: bool) -> dict[str, Any]:
    c = container(request)
    try:
        return _model(sm.set_model_active(c.uow(), c.clock, key, active))
    except sm.UnknownModel as exc:
        raise _unknown(exc) from exc


@router.post("/api/scoring/models/{key}/pause", dependencies=[RequireWrite])
def pause_model(key: str, request: Request) -> dict[str, Any]:
    """Stop scoring events with this model (scores are kept)."""
    return _set_active(request, key, False)


@router.post("/api/scoring/models/{key}/resume", dependencies=[RequireWrite])
def resume_model(key: str, request: Request) -> dict[str, Any]:
    return _set_active(request, key, True)


@router.get("/api/scoring/models/{key}/funnel", dependencies=[RequireRead])
def funnel(key: str, request: Request) -> dict[str, Any]:
    """Contacts per stage and the share that reached the next stage."""
    with container(request).uow(read_only=True) as uow:
        try:
            return stage_funnel(uow.scoring, key)
        except sm.UnknownModel as exc:
            raise _unknown(exc) from exc


@router.get("/api/scoring/models/{key}/funnel/over-time", dependencies=[RequireRead])
def funnel_over_time(
    key: str,
    request: Request,
    over: str = Query("week", description="day, week (from Monday) or month"),
    since: date | None = Query(None, alias="from", description="first day (inclusive); default 12 weeks back"),
    until: date | None = Query(None, alias="to", description="last day (inclusive), YYYY-MM-DD; default today (UTC)"),
) -> dict[str, Any]:
    """Per period: contacts moved up into each stage (``entered``), moved down out of it
    (``demoted``), and ``to_next``, entered the next stage / entered this one in that period."""
    c = container(request)
    with c.uow(read_only=True) as uow:
        try:
            return stage_funnel_over_time(uow.scoring, key, c.clock.now().date(), since=since, until=until, over=over)
        except sm.UnknownModel as exc:
            raise _unknown(exc) from exc
        except FunnelRangeError as exc:
            raise ApiError(422, "validation_error", str(exc), [{"loc": ["query", exc.field], "msg": str(exc)}]) from exc


@router.post("/api/scoring/funnel/rebuild", dependencies=[RequireWrite])
def rebuild_funnel(request: Request) -> dict[str, Any]:
    """Recount every model's funnel over time from its ``score.threshold_crossed`` events."""
    with container(request).uow() as uow:
        counted = rebuild_stage_moves(uow.scoring)
        uow.commit()
    return {"counted": counted}


@router.post("/api/scoring/decay", dependencies=[RequireWrite])
def decay_now(request: Request) -> dict[str, Any]:
    """Bring every decaying model's scores to now (the worker does it on a schedule)."""
    c = container(request)
    with c.uow() as uow:
        r = decay_pass(uow.scoring, c.clock.now())
        uow.commit()
    return {"scored": r.scored, "changed": r.changed, "crossings": r.crossings}


@router.get("/api/contacts/{contact_id}/score", dependencies=[RequireRead])
def contact_score(contact_id: int, request: Request) -> dict[str, Any]:
    """The contact's score in every model, how it is made ("57 = +30 … −3 decay") and its history."""
    c = container(request)
    with c.uow(read_only=True) as uow:
        try:
            models = explain_contact(uow.scoring, contact_id, c.clock.now())
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc), [{"loc": ["path", "contact_id"], "msg": str(exc)}]) from exc
    return {"contact_id": contact_id, "models": models}


@router.get("/api/contacts/{contact_id}/handoff", dependencies=[RequireRead])
def contact_handoff(
    contact_id: int,
    request: Request,
    events: int = Query(20, ge=0, le=100, description="how many of the latest events"),
) -> dict[str, Any]:
    """The contact's hand-off document as a v2 webhook would carry it now (docs/crm.md): fields,
    score explanation per model, latest events; ``context`` is empty (a step fills it)."""
    c = container(request)
    try:
        return c.handoff_document(contact_id, events=events)
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc), [{"loc": ["path", "contact_id"], "msg": str(exc)}]) from exc
