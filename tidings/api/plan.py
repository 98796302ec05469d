"""HTTP routes: the content plan (docs/content-plan.md).

- ``GET /api/content-plan`` (scope ``read``): the plan with its cells; ``PUT`` (``write``): the
  whole plan (with ``cells``: those replace the stored ones); ``PUT /api/content-plan/cells``
  (``write``): one cell. An invalid document is 422 with every problem's field path.
- ``GET /api/content-plan/gaps[?status=...]`` (``read``): counts per status and every cell not live
  (of those statuses), with why.
- ``GET /api/content-plan/calendar`` (JSON), ``calendar.csv`` (``read``) and ``calendar.ics``:
  with a read key, or with ``?feed=TOKEN`` from ``GET /api/content-plan/feed`` so that a
  calendar app can subscribe without a key (``POST /api/content-plan/feed/rotate`` revokes it).
- ``GET /api/content-plan/stale?months=N``: templates not reviewed in N months;
  ``POST /api/content-plan/reviews/{key}`` (``write``): mark a template reviewed now.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response

from tidings.api.deps import RequireRead, RequireWrite, container, require
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.plan import plan as use
from tidings.domain.plan.calendar import to_csv, to_ical
from tidings.domain.plan.model import PlanInvalid
from tidings.domain.plan.status import CellStatus

router = APIRouter(tags=["content plan"], route_class=StrictRoute)

CELL_EXAMPLE = {"persona": "founder", "stage": "awareness", "question": "why", "templates": ["welcome"],
                "assets": ["https://blog.example.com/why-automate"], "channel": "email", "owner": "ana@example.com",
                "publish_on": "2027-01-15", "review_on": "2027-07-15", "notes": ""}
_read = require("read")


def _invalid(exc: PlanInvalid) -> ApiError:
    details = [{"loc": ["body", *(p.replace("]", "").replace("[", ".").split(".") if p else [])], "msg": m}
               for p, m in exc.errors]
    return ApiError(422, "validation_error", str(exc), details)


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "validation_error", f"{name}: a date YYYY-MM-DD",
                       [{"loc": ["query", name], "msg": "a date YYYY-MM-DD"}]) from None


@router.get("/api/content-plan", dependencies=[RequireRead])
def show_plan(request: Request) -> dict[str, Any]:
    return use.plan_json(container(request).uow(read_only=True))


@router.put("/api/content-plan", dependencies=[RequireWrite])
def save_plan(request: Request, body: dict[str, Any] = Body()) -> dict[str, Any]:
    c = container(request)
    try:
        use.save_plan(c.uow(), body, c.clock.now())
    except PlanInvalid as exc:
        raise _invalid(exc) from None
    return use.plan_json(c.uow(read_only=True))


@router.put("/api/content-plan/cells", dependencies=[RequireWrite])
def set_cell(request: Request, body: dict[str, Any] = Body(examples=[CELL_EXAMPLE])) -> dict[str, Any]:
    c = container(request)
    try:
        cell = use.set_cell(c.uow(), body, c.clock.now())
    except PlanInvalid as exc:
        raise _invalid(exc) from None
    view = use.gaps(c.uow(read_only=True), c.clock.now().date()).cell(*cell.coordinates)
    assert view is not None
    return use.view_json(view)


@router.get("/api/content-plan/gaps", dependencies=[RequireRead])
def gaps(request: Request, status: list[CellStatus] | None = Query(None, description="only cells of these statuses"),
         ) -> dict[str, Any]:
    c = container(request)
    doc = use.report_json(use.gaps(c.uow(read_only=True), c.clock.now().date()))
    if status:
        wanted = {str(s) for s in status}
        doc["gaps"] = [g for g in doc["gaps"] if g["status"] in wanted]
    return doc


def _entries(request: Request, since: str | None, until: str | None) -> list[Any]:
    return use.calendar(container(request).uow(read_only=True), since=_day(since, "from"), until=_day(until, "to"))


@router.get("/api/content-plan/calendar", dependencies=[RequireRead])
def calendar(request: Request, since: str | None = Query(None, alias="from"),
             until: str | None = Query(None, alias="to")) -> dict[str, Any]:
    return {"items": [e.as_doc() for e in _entries(request, since, until)]}


@router.get("/api/content-plan/calendar.csv", dependencies=[RequireRead])
def calendar_csv(request: Request, since: str | None = Query(None, alias="from"),
                 until: str | None = Query(None, alias="to")) -> Response:
    return Response(to_csv(_entries(request, since, until)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="content-calendar.csv"'})


async def _feed_or_read(request: Request) -> None:
    """A calendar app has no key: the signed ``feed`` token stands for one (checked in the route)."""
    if "feed" not in request.query_params:
        await _read(request)


@router.get("/api/content-plan/calendar.ics", dependencies=[Depends(_feed_or_read)])
def calendar_ics(request: Request, feed: str | None = Query(None, description="the token of the feed URL")) -> Response:
    c = container(request)
    if feed is not None and not use.feed_allowed(c.uow(read_only=True), c.secret_key, feed):
        raise ApiError(401, "unauthorized", "unknown or revoked calendar feed token",
                       [{"loc": ["query", "feed"], "msg": "unknown or revoked"}])
    body = to_ical(use.calendar(c.uow(read_only=True)), c.clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="content-calendar.ics"'})


@router.get("/api/content-plan/feed", dependencies=[RequireRead])
def feed(request: Request) -> dict[str, str]:
    c = container(request)
    return {"url": use.feed_url(c.uow(read_only=True), c.secret_key, c.settings.public_url)}


@router.post("/api/content-plan/feed/rotate", dependencies=[RequireWrite])
def rotate(request: Request) -> dict[str, str]:
    c = container(request)
    use.rotate_feed(c.uow(), c.clock.now())
    return {"url": use.feed_url(c.uow(read_only=True), c.secret_key, c.settings.public_url)}


@router.get("/api/content-plan/stale", dependencies=[RequireRead])
def stale(request: Request, months: int = Query(6, ge=1, le=120)) -> dict[str, Any]:
    c = container(request)
    return {"months": months, "items": [use.template_json(t) for t in use.stale(c.uow(read_only=True),
                                                                                c.clock.now().date(), months)]}


@router.post("/api/content-plan/reviews/{key}", dependencies=[RequireWrite])
def review(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    now = c.clock.now()
    try:
        use.mark_reviewed(c.uow(), key, now)
    except PlanInvalid:
        raise ApiError(404, "not_found", f"template {key!r} not found",
                       [{"loc": ["path", "key"], "msg": "unknown"}]) from None
    return {"key": key, "reviewed_at": now.isoformat()}
