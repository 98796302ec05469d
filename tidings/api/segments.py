"""HTTP routes: segments (create, update, delete, list, get, preview, members, history).

A rule is given as text (``"rule": "purchase.count(30d) >= 2 and tag(\\"vip\\")"``) or in the
structured form (``"rule": {"all": [...]}``). An invalid rule is refused with 422 and a detail
whose ``loc`` is ``["body", "rule", ...path]`` and, for text, a ``column``; nothing is saved.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.segments import segments as svc

router = APIRouter(prefix="/api/segments", tags=["segments"], route_class=StrictRoute)

Rule = str | dict[str, Any] | list[Any]


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    rule: Rule = Field(description="text syntax or structured form")


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    rule: Rule | None = None


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: Rule
    sample: int = Field(default=20, ge=0, le=200)


def _error(exc: svc.SegmentError) -> ApiError:
    loc: list[Any] = ["body", exc.field] if exc.field else ["body"]
    loc += exc.path
    detail: dict[str, Any] = {"loc": loc, "msg": str(exc), "type": "value_error"}
    if exc.column is not None:
        detail["column"] = exc.column
    where = ".".join(str(x) for x in loc)
    col = f" (column {exc.column})" if exc.column is not None else ""
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "validation_error")
    return ApiError(exc.status, code, f"{where}: {exc}{col}", [detail])


@router.get("", dependencies=[RequireRead])
def list_segments(request: Request) -> dict[str, Any]:
    return {"items": svc.list_segments(container(request).segments)}


@router.post("", status_code=201, dependencies=[RequireWrite])
def create_segment(body: SegmentIn, request: Request) -> dict[str, Any]:
    c = container(request)
    try:
        return svc.create_segment(
            c.segments, body.key, body.name, body.rule, c.clock.now(), description=body.description
        )
    except svc.SegmentError as exc:
        raise _error(exc) from None


@router.post("/preview", dependencies=[RequireRead])
def preview(body: PreviewIn, request: Request) -> dict[str, Any]:
    """Count and sample of the contacts a rule matches now, with warnings; nothing is saved."""
    c = container(request)
    try:
        return svc.preview(c.segments, body.rule, c.clock.now(), sample=body.sample)
    except svc.SegmentError as exc:
        raise _error(exc) from None


@router.get("/{key}", dependencies=[RequireRead])
def get_segment(key: str, request: Request) -> dict[str, Any]:
    seg = svc.get_segment(container(request).segments, key)
    if seg is None:
        raise ApiError(404, "not_found", f"no segment {key!r}")
    return seg


@router.patch("/{key}", dependencies=[RequireWrite])
def update_segment(key: str, body: SegmentPatch, request: Request) -> dict[str, Any]:
    c = container(request)
    try:
        return svc.update_segment(
            c.segments, key, c.clock.now(), name=body.name, rule_source=body.rule, description=body.description
        )
    except svc.SegmentError as exc:
        raise _error(exc) from None


@router.put("/{key}", dependencies=[RequireWrite])
def replace_segment(key: str, body: SegmentPatch, request: Request) -> dict[str, Any]:
    return update_segment(key, body, request)


@router.delete("/{key}", status_code=204, dependencies=[RequireWrite])
def delete_segment(key: str, request: Request) -> Response:
    try:
        found = svc.delete_segment(container(request).segments, key)
    except svc.SegmentError as exc:
        raise _error(exc) from None
    if not found:
        raise ApiError(404, "not_found", f"no segment {key!r}")
    return Response(status_code=204)


@router.post("/{key}/refresh", dependencies=[RequireWrite])
def refresh(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    seg = svc.segment_id(c.segments, key)
    if seg is None:
        raise ApiError(404, "not_found", f"no segment {key!r}")
    entered, exited = svc.refresh_segment(c.segments, seg, c.clock.now())
    return {"entered": entered, "exited": exited}


@router.get("/{key}/members", dependencies=[RequireRead])
def members(
    key: str,
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    after: int = Query(0, ge=0, description="last contact id of the previous page"),
) -> dict[str, Any]:
    try:
        return svc.members(container(request).segments, key, limit=limit, after=after)
    except svc.SegmentError as exc:
        raise _error(exc) from None


@router.get("/{key}/history", dependencies=[RequireRead])
def history(
    key: str,
    request: Request,
    contact_id: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, description="id of the last row of the previous page"),
) -> dict[str, Any]:
    """Membership periods (entered_at / exited_at), newest first."""
    try:
        rows = svc.history(container(request).segments, key, contact_id=contact_id, limit=limit, before=before)
    except svc.SegmentError as exc:
        raise _error(exc) from None
    return {"items": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}
