"""HTTP routes: dead letters (webhooks that gave up) — list and retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tidings.api.deps import RequireAdmin, RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.delivery import dead_letters
from tidings.store.sql_uow import joined

router = APIRouter(tags=["dead letters"], route_class=StrictRoute)


@router.get("/api/dead-letters", dependencies=[RequireRead])
def list_dead(request: Request, include_retried: bool = False, limit: int = 200) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        items = dead_letters.list_dead_letters(
            joined(conn), include_retried=include_retried, limit=min(max(limit, 1), 1000)
        )
    return {"items": items}


@router.post("/api/dead-letters/{dead_letter_id}/retry", dependencies=[RequireAdmin])
def retry_dead(request: Request, dead_letter_id: int) -> dict[str, Any]:
    c = container(request)
    try:
        with c.engine.begin() as conn:
            return dead_letters.retry(joined(conn), dead_letter_id, c.clock.now())
    except dead_letters.DeadLetterError as exc:
        status = 404 if "no dead letter" in str(exc) else 409
        raise ApiError(
            status,
            "not_found" if status == 404 else "conflict",
            str(exc),
            [{"loc": ["path", "dead_letter_id"], "msg": str(exc)}],
        ) from None
