"""HTTP routes: vendor sources (admin) and the vendors' webhooks in (docs/sources.md).

- ``GET /api/sources``, ``POST /api/sources`` (the secret, when generated, is in this answer
  only), ``DELETE /api/sources/{id}``: scope ``admin``.
- ``POST /webhooks/{vendor}/{source_id}``: one source's deliveries. ``POST /webhooks/{vendor}``:
  the delivery is matched to the vendor's source whose secret signs it (one URL for several
  shops). No API key: the vendor's signature is the authentication. A bad signature is 401 and
  stores nothing; a body over 1 MiB is 413; a topic that is not mapped is 200 ``ignored``.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import RequireAdmin, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.ports.sources import LeadFetchError, SourceExists
from tidings.application.sources import sources as use
from tidings.application.sources.webhooks import DeliveryRefused, SignatureRefused, receive
from tidings.bootstrap import Container
from tidings.domain.vendors.model import VENDORS
from tidings.domain.vendors.signatures import meta_verify_token

log = logging.getLogger("tidings.sources")

router = APIRouter(tags=["sources"], route_class=StrictRoute)

#: vendors send small JSON documents; anything bigger is refused before it is verified
MAX_WEBHOOK_BYTES = 1024 * 1024


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vendor: str = Field(description=f"one of {', '.join(VENDORS)}")
    name: str | None = Field(default=None, max_length=200, description="default: the vendor's name")
    secret: str | None = Field(default=None, max_length=500,
                               description="the vendor's signing secret; omitted: generated and answered once")
    abandon_after_minutes: int = Field(default=use.DEFAULT_ABANDON_AFTER // 60, ge=1, le=30 * 1440,
                                       description="a checkout quiet this long becomes Cart Abandoned")


def _refused(exc: use.SourceInputError) -> ApiError:
    return ApiError(422, "validation_error", exc.message, [{"loc": ["body", exc.field], "msg": exc.message}])


@router.get("/api/sources", dependencies=[RequireAdmin])
def list_sources(request: Request) -> dict[str, Any]:
    c = container(request)
    return {"items": [use.describe(s) for s in use.list_sources(c.uow(read_only=True))]}


@router.post("/api/sources", status_code=201, dependencies=[RequireAdmin])
def add_source(body: SourceIn, request: Request) -> dict[str, Any]:
    c = container(request)
    try:
        new = use.add_source(c.uow(), body.vendor, body.name, body.secret, c.clock.now(),
                             body.abandon_after_minutes * 60)
    except use.SourceInputError as exc:
        raise _refused(exc) from None
    except SourceExists as exc:
        raise ApiError(409, "conflict", str(exc), [{"loc": ["body", "name"], "msg": str(exc)}]) from None
    out = use.describe(new.record)
    if new.generated_secret is not None:
        out["secret"] = new.generated_secret
        out["secret_shown_once"] = True
    return out


@router.delete("/api/sources/{source_id}", dependencies=[RequireAdmin])
def remove_source(source_id: int, request: Request) -> dict[str, Any]:
    if not use.remove_source(container(request).uow(), source_id):
        raise ApiError(404, "not_found", f"no source {source_id}", [{"loc": ["path", "source_id"], "msg": "unknown"}])
    return {"removed": source_id}


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, "payload_too_large", f"webhook bodies are at most {MAX_WEBHOOK_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, "payload_too_large", f"webhook bodies are at most {MAX_WEBHOOK_BYTES} bytes")
    return body


def _deliver(c: Container, vendor: str, source_id: int | None, headers: dict[str, str], body: bytes) -> Any:
    if vendor not in VENDORS:
        raise ApiError(404, "not_found", f"unknown vendor {vendor!r}; one of {', '.join(VENDORS)}")
    with c.uow(read_only=True) as uow:
        if source_id is None:
            candidates = uow.sources.list(vendor)
        else:
            one = uow.sources.get(source_id)
            candidates = [one] if one is not None and one.vendor == vendor else []
    try:
        receipt = receive(vendor, candidates, headers, body, now=c.clock.now(), wall_now=c.lease_clock.now(),
                          run=c.intake, leads=c.lead_fetcher() if vendor == "meta-leads" else None)
    except LeadFetchError as exc:
        log.warning("meta-leads delivery not stored: %s", exc)
        raise ApiError(503, "lead_fetch_failed", "the lead could not be read from the Graph API; "
                       "retry later") from None
    except SignatureRefused:
        raise ApiError(401, "bad_signature", "the webhook signature does not verify") from None
    except DeliveryRefused as exc:
        raise ApiError(422, "invalid_payload", exc.message, [{"loc": ["body"], "msg": exc.message}]) from None
    if receipt.challenge is not None:
        return JSONResponse(receipt.challenge)
    return {"status": receipt.status, "source_id": receipt.source_id, "topic": receipt.topic,
            "accepted": receipt.accepted, "duplicates": len(receipt.duplicates), "reason": receipt.reason}


@router.post("/webhooks/{vendor}", include_in_schema=False)
async def webhook(vendor: str, request: Request) -> Any:
    body = await _body(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(_deliver, container(request), vendor, None, headers, body)


@router.post("/webhooks/{vendor}/{source_id}", include_in_schema=False)
async def webhook_of_source(vendor: str, source_id: int, request: Request) -> Any:
    body = await _body(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(_deliver, container(request), vendor, source_id, headers, body)


def _meta_subscription(c: Container, source_id: int | None, params: dict[str, str]) -> PlainTextResponse:
    """Meta's subscription check: ``hub.challenge`` echoed when ``hub.verify_token`` is a source's."""
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") != "subscribe" or not token or "hub.challenge" not in params:
        raise ApiError(400, "bad_request", "expected hub.mode=subscribe, hub.verify_token and hub.challenge")
    with c.uow(read_only=True) as uow:
        sources = uow.sources.list("meta-leads")
    ok = any(hmac.compare_digest(meta_verify_token(s.secret), token)
             for s in sources if source_id is None or s.id == source_id)
    if not ok:
        log.warning("meta-leads subscription check refused: verify token of no source")
        raise ApiError(403, "forbidden", "the verify token is not a meta-leads source's")
    return PlainTextResponse(params["hub.challenge"][:200])


@router.get("/webhooks/meta-leads", include_in_schema=False)
def meta_subscription(request: Request) -> PlainTextResponse:
    return _meta_subscription(container(request), None, dict(request.query_params))


@router.get("/webhooks/meta-leads/{source_id}", include_in_schema=False)
def meta_subscription_of_source(source_id: int, request: Request) -> PlainTextResponse:
    return _meta_subscription(container(request), source_id, dict(request.query_params))
