"""Webhooks out: a signed JSON POST to any system, safe against SSRF, with honest retry advice.

Signature (see docs/webhooks.md for receivers): ``X-Tidings-Timestamp: <unix seconds>`` and
``X-Tidings-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. The secret
is ``TIDINGS_WEBHOOK_SECRET`` (derived from the instance secret when unset).

Every request, and every redirect (followed by hand, at most 3), goes through ``ssrf.check_url``
and connects to the checked IP. 2xx = accepted; 408/425/429/5xx and network errors = temporary
(with the server's Retry-After); other 4xx, refused targets and redirect loops = permanent. The
delivery loop retries temporary failures with exponential backoff and, after
``webhook_max_attempts``, moves the row to ``dead_letters`` (services/dead_letters.py).

**v2** (a step with ``payload: v2``): the body is the contact's hand-off document (fields, score
explanation per model, the last N events; ``application/crm/document.py``, docs/crm.md) with the
step's body under ``context``, and a second signature header ``Tidings-Signature: t=<unix
seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`` with the destination host's own secret
(``TIDINGS_WEBHOOK_SECRETS``, else the webhook secret). v1 bodies and headers are unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from tidings.application.ports.senders import WEBHOOK, DeliveryResult, DeliveryStatus, OutgoingMessage
from tidings.channels.ssrf import AllowList, Resolver, SsrfRefused, check_url, system_resolver

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock
    from tidings.application.ports.wiring import Wiring
    from tidings.store.outbox import Outcome

MAX_REDIRECTS = 3
SIGNATURE_TOLERANCE_S = 300
TEMPORARY_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def signature_v2(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Tidings-Signature`` header: ``t=<timestamp>,v1=<hex>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_v2(secret: str, header: str, body: bytes, now: datetime, tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """What a v2 receiver does (the snippet in docs/crm.md): parse ``t`` and every ``v1``,
    refuse a stale ``t``, compare in constant time."""
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    macs = [v for k, _, v in parts if k == "v1"]
    if len(stamps) != 1 or not macs or not stamps[0].isdigit():
        return False
    ts = int(stamps[0])
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    expected = signature_v2(secret, ts, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, m) for m in macs)


def secret_for(container: Wiring) -> str:
    s = container.settings
    if s.webhook_secret:
        return s.webhook_secret
    return hmac.new(container.secret_key.encode(), b"tidings-webhook-signing", hashlib.sha256).hexdigest()


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """HTTP Retry-After: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def request_body(msg: OutgoingMessage) -> bytes:
    body = msg.data.get("body")
    if body is None:
        body = {"contact_id": msg.contact_id, "message": msg.message_ref}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


class WebhookProvider:
    """POSTs signed JSON to the step's URL through the SSRF guard."""

    channel = WEBHOOK
    name = "http"

    def __init__(
        self,
        *,
        secret: str,
        allow: AllowList,
        clock: Clock,
        resolver: Resolver = system_resolver,
        timeout: float = 10.0,
        verify_tls: bool | str = True,
        documents: Callable[..., dict[str, Any]] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.secret = secret
        #: v2: ``documents(contact_id, events=N, context=...)``, the hand-off document (Container)
        self.documents = documents
        #: v2: signing secret per destination host (``TIDINGS_WEBHOOK_SECRETS``)
        self.secrets = dict(secrets or {})
        self.allow = allow
        self.clock = clock
        self.resolver = resolver
        self._client = httpx.AsyncClient(follow_redirects=False, timeout=timeout, verify=verify_tls)

    def _headers(self, msg: OutgoingMessage, body: bytes, url: str = "") -> dict[str, str]:
        ts = int(self.clock.now().timestamp())
        extra: Mapping[str, Any] = msg.data.get("headers") or {}
        headers = {
            str(k): str(v) for k, v in extra.items() if str(k).lower() not in {"host", "content-length"}
        }
        headers.update(dict(msg.headers))
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": "Tidings-Webhooks/1",
                "X-Tidings-Timestamp": str(ts),
                "X-Tidings-Signature": sign(self.secret, ts, body),
                "X-Tidings-Message": msg.message_ref,
                "X-Tidings-Idempotency-Key": msg.idempotency_key,
            }
        )
        if msg.data.get("payload") == "v2":
            host = (httpx.URL(url).host or "").lower()
            headers["Tidings-Signature"] = signature_v2(self.secrets.get(host, self.secret), ts, body)
        return headers

    async def _body(self, msg: OutgoingMessage) -> bytes:
        if msg.data.get("payload") != "v2" or self.documents is None:
            return request_body(msg)
        doc = await asyncio.to_thread(
            self.documents, msg.contact_id, events=int(msg.data.get("events", 20)), context=msg.data.get("body") or {}
        )
        return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str).encode()

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        url = str(msg.data.get("url") or msg.recipient)
        method = str(msg.data.get("method") or "POST").upper()
        try:
            body: bytes | None = await self._body(msg)
        except LookupError as exc:  # the contact was erased since the step ran
            return DeliveryResult.permanent(str(exc), url=url)
        headers = self._headers(msg, body or b"", url)
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = await asyncio.to_thread(check_url, url, self.allow, self.resolver)
            except SsrfRefused as exc:
                return DeliveryResult.permanent(f"refused: {exc}", url=url)
            request = self._client.build_request(
                method,
                target.pinned_url,
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
            try:
                # streamed and closed unread: a receiver cannot make us hold a huge body in memory.
                response = await self._client.send(request, stream=True)
                await response.aclose()
            except httpx.HTTPError as exc:
                return DeliveryResult.temporary(
                    f"{type(exc).__name__}: {exc or 'no detail'} ({url})", url=url
                )
            status = response.status_code
            if status in {301, 302, 303, 307, 308}:
                location = response.headers.get("location")
                if not location:
                    return DeliveryResult.permanent(f"HTTP {status} without Location", url=url)
                if hop == MAX_REDIRECTS:
                    return DeliveryResult.permanent(f"more than {MAX_REDIRECTS} redirects", url=url)
                url = str(httpx.URL(url).join(location))
                if status in {301, 302, 303} and method != "GET":
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k != "Content-Type"}
                continue
            if 200 <= status < 300:
                return DeliveryResult.accepted(
                    response.headers.get("x-request-id"), http_status=status, url=url
                )
            error = f"HTTP {status} from {url}"
            if status in TEMPORARY_STATUSES or status >= 500:
                return DeliveryResult.temporary(
                    error,
                    retry_after_s=retry_after_seconds(response.headers.get("retry-after"), self.clock.now()),
                    http_status=status,
                    url=url,
                )
            return DeliveryResult.permanent(error, http_status=status, url=url)
        return DeliveryResult.permanent(f"more than {MAX_REDIRECTS} redirects", url=url)  # pragma: no cover

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        return None  # a remote server cannot be asked; receivers dedupe on X-Tidings-Idempotency-Key

    async def aclose(self) -> None:
        await self._client.aclose()


def webhook_outcome(row: dict[str, Any], result: DeliveryResult, now: datetime, max_attempts: int) -> Outcome:
    """What the delivery loop records for a webhook that did not succeed: retry with exponential
    backoff (honouring Retry-After) within ``max_attempts``, else ``dead`` (listed in dead_letters,
    retryable by an operator). A permanent failure is dead at once: retrying cannot help until
    someone fixes the receiver or the URL."""
    from tidings.store import outbox

    kind = "crm" if row.get("kind") == "crm" else "webhook"
    if result.status is DeliveryStatus.FAILED_TEMPORARY and row["attempts"] < max_attempts:
        when = now + outbox.backoff(row["attempts"], result.retry_after_s)
        return outbox.Outcome(
            row,
            "pending",
            error=result.error,
            next_attempt_at=when,
            trace_action=f"{kind}.retry",
            trace_detail={"attempt": row["attempts"], "next_attempt_at": when.isoformat()},
        )
    why = result.error or "failed"
    if result.status is DeliveryStatus.FAILED_TEMPORARY:
        why = f"{why} (gave up after {row['attempts']} attempts)"
    return outbox.Outcome(
        row, "dead", error=why, trace_action=f"{kind}.dead", trace_detail=dict(result.detail)
    )


def allow_list(container: Wiring) -> AllowList:
    return AllowList.parse(container.settings.webhook_allow, own_urls=[container.settings.public_url])


def build_provider(container: Wiring) -> WebhookProvider:
    return WebhookProvider(
        secret=secret_for(container),
        allow=allow_list(container),
        clock=container.clock,
        documents=container.handoff_document,
        secrets={host.lower(): secret for host, secret in container.settings.webhook_secrets},
    )
