"""HTTP routes: retention policies (docs/privacy.md). Reading the policy and the log needs the
``read`` scope (as ``GET /api/policies``); changing it, a dry run (it is logged) and a run need
``admin``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tidings.api.deps import RequireAdmin, RequireRead, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.access.keys import ApiKey
from tidings.application.privacy import retention
from tidings.domain.retention import MAX_DAYS, MIN_DAYS, InvalidPolicy
from tidings.store.retention_sql import retention_sessions

router = APIRouter(prefix="/api/retention", tags=["retention"], route_class=StrictRoute)

Days = int | None


class PolicyIn(BaseModel):
    """Days to keep per kind; null or omitted: kept for ever (off)."""

    model_config = ConfigDict(extra="forbid")
    events: Days = Field(default=None, ge=MIN_DAYS, le=MAX_DAYS)
    traces: Days = Field(default=None, ge=MIN_DAYS, le=MAX_DAYS)
    outbox: Days = Field(default=None, ge=MIN_DAYS, le=MAX_DAYS)
    inbox: Days = Field(default=None, ge=MIN_DAYS, le=MAX_DAYS)
    anonymous_contacts: Days = Field(default=None, ge=MIN_DAYS, le=MAX_DAYS)


def _actor(key: ApiKey) -> str:
    return f"api:key {key.id}"


@router.get("", dependencies=[RequireRead])
def show_policy(request: Request) -> dict[str, Any]:
    return {"policy": retention.load_policy(retention_sessions(container(request).engine)).document()}


@router.put("", dependencies=[RequireAdmin])
def put_policy(body: PolicyIn, request: Request) -> dict[str, Any]:
    c = container(request)
    try:
        policy = retention.save_policy(retention_sessions(c.engine), body.model_dump(), c.clock.now())
    except InvalidPolicy as exc:  # the model already checks; the domain has the last word
        raise ApiError(422, "validation_error", str(exc), [{"loc": ["body", exc.field], "msg": exc.message,
                                                             "type": "value_error"}]) from None
    return {"policy": policy.document()}


@router.post("/dry-run")
def dry_run(request: Request, key: ApiKey = RequireAdmin) -> dict[str, Any]:
    """What a run would delete now, per enabled kind (nothing is deleted; the dry run is logged)."""
    c = container(request)
    return retention.run_retention(retention_sessions(c.engine), c.clock, actor=_actor(key), dry_run=True).as_dict()


@router.post("/run")
def run(request: Request, key: ApiKey = RequireAdmin) -> dict[str, Any]:
    """Apply the policy now, in batches; the counts deleted per kind."""
    c = container(request)
    return retention.run_retention(retention_sessions(c.engine), c.clock, actor=_actor(key), dry_run=False).as_dict()


@router.get("/log", dependencies=[RequireRead])
def run_log(request: Request, limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
    return {"items": retention.run_log(retention_sessions(container(request).engine), limit)}
