"""HTTP routes: health, API keys, and the test clock (only in test mode)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireAdmin, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.store.api_reads_sql import SqlApiReads

router = APIRouter(route_class=StrictRoute)


@router.get("/healthz", tags=["system"])
def healthz(request: Request) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        SqlApiReads(conn).ping()
    return {"status": "ok", "now": c.clock.now().isoformat(), "test_clock": c.manual_clock is not None}


#: the furthest one advance may move the test clock: 100 years (datetime ends at year 9999)
MAX_ADVANCE_SECONDS = 100 * 366 * 86400


class ClockAdvance(BaseModel):
    seconds: float | None = Field(default=None, ge=0, le=MAX_ADVANCE_SECONDS,
                                  description="move forward by this many seconds (at most 100 years)")
    to: datetime | None = Field(default=None, description="move forward to this instant (ISO 8601)")
    settle: bool = Field(default=True, description="wait until the worker has done all work now due")


def settle(request: Request, timeout: float = 30.0) -> dict[str, int]:
    """Wait until the background worker has no due work left (test mode helper)."""
    c = container(request)
    deadline = time.monotonic() + timeout
    stable = 0
    while True:
        with c.engine.connect() as conn:
            work = SqlApiReads(conn).pending_work(c.clock.now())
        if not any(work.values()):
            stable += 1
            if stable >= 2:
                return work
        else:
            stable = 0
        if time.monotonic() > deadline:
            raise ApiError(504, "not_settled", f"work still pending after {timeout:.0f}s: {work}")
        time.sleep(0.02)


@router.get("/api/test/clock", tags=["test"])
def get_clock(request: Request) -> dict[str, Any]:
    c = container(request)
    return {"now": c.clock.now().isoformat(), "test_clock": c.manual_clock is not None}


@router.post("/api/test/clock/advance", tags=["test"], dependencies=[RequireAdmin])
def advance_clock(body: ClockAdvance, request: Request) -> dict[str, Any]:
    c = container(request)
    clock = c.manual_clock
    if clock is None:
        raise ApiError(404, "not_found", "the test clock is off: start `tidings serve --test-clock`")
    if (body.seconds is None) == (body.to is None):
        raise ApiError(
            422,
            "validation_error",
            "give exactly one of 'seconds' or 'to'",
            [{"loc": ["body"], "msg": "give exactly one of 'seconds' or 'to'"}],
        )
    if body.settle:
        settle(request)
    if body.seconds is not None:
        # Move in steps so timers fall due in order, as they would in real time.
        target = clock.now() + timedelta(seconds=body.seconds)
    else:
        assert body.to is not None
        if body.to.tzinfo is None:
            raise ApiError(
                422, "validation_error", "'to' needs a time zone", [{"loc": ["body", "to"], "msg": "needs a time zone"}]
            )
        target = body.to
    if target < clock.now():
        raise ApiError(422, "validation_error", "time only moves forward", [{"loc": ["body"], "msg": "in the past"}])
    while True:
        with c.engine.connect() as conn:
            nxt = SqlApiReads(conn).next_timer_due()
        if nxt is None or nxt > target or not body.settle:
            break
        if nxt > clock.now():
            clock.set(nxt)
        settle(request)
    clock.set(max(target, clock.now()))
    if body.settle:
        settle(request)
    return {"now": clock.now().isoformat()}


@router.post("/api/test/settle", tags=["test"], dependencies=[RequireAdmin])
def settle_endpoint(request: Request) -> dict[str, Any]:
    if container(request).manual_clock is None:
        raise ApiError(404, "not_found", "the test clock is off: start `tidings serve --test-clock`")
    return {"pending": settle(request)}
