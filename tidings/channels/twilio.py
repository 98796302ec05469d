"""A small Twilio-compatible REST client shared by SMS and voice, and Twilio's request signature.

Any API that speaks Twilio's 2010-04-01 REST shape works (``TIDINGS_TWILIO_BASE_URL``): resources
are created with a form-encoded POST to ``/2010-04-01/Accounts/{sid}/<Resource>.json`` under HTTP
Basic auth (account SID, auth token); the answer is JSON with the new resource's ``sid``.

Webhooks in (inbound SMS, delivery status) are accepted only when ``X-Twilio-Signature`` verifies
with the auth token (``signature_problem``); status callbacks name our message by a signed ``ref``
(``status_ref``), never by a row number, so a guessed ref names nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tidings.application.ports.senders import DeliveryResult
from tidings.channels import tracking
from tidings.channels.webhooks import retry_after_seconds

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock


class TwilioClient:
    def __init__(
        self, base_url: str, account_sid: str, auth_token: str, *, clock: Clock, timeout: float = 15.0
    ) -> None:
        self.account_sid = account_sid
        self.clock = clock
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=(account_sid, auth_token),
            timeout=timeout,
            follow_redirects=False,
        )

    async def create(self, resource: str, form: Mapping[str, str], **detail: Any) -> DeliveryResult:
        """POST one resource (``Messages``, ``Calls``); classify the answer for the delivery loop."""
        path = f"/2010-04-01/Accounts/{self.account_sid}/{resource}.json"
        try:
            response = await self._client.post(path, data=dict(form))
        except httpx.HTTPError as exc:
            return DeliveryResult.temporary(f"{type(exc).__name__}: {exc or 'no detail'}", **detail)
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if 200 <= status < 300:
            sid = body.get("sid")
            return DeliveryResult.accepted(str(sid) if sid else None, http_status=status, **detail)
        error = f"HTTP {status}"
        if body.get("code") or body.get("message"):
            error += f": {body.get('code', '')} {body.get('message', '')}".rstrip()
        if status == 429 or status >= 500:
            return DeliveryResult.temporary(
                error,
                retry_after_s=retry_after_seconds(response.headers.get("retry-after"), self.clock.now()),
                http_status=status,
                **detail,
            )
        return DeliveryResult.permanent(error, http_status=status, **detail)

    async def aclose(self) -> None:
        await self._client.aclose()


Params = Mapping[str, str] | Sequence[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return sorted({(str(k), str(v)) for k, v in items})


def request_signature(auth_token: str, url: str, params: Params) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + every POST field as name+value,
    sorted by name, a repeated name's values sorted too)), as Twilio's own validators compute it."""
    data = url + "".join(f"{k}{v}" for k, v in _pairs(params))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def valid_signature(auth_token: str, urls: list[str], params: Params, signature: str) -> bool:
    return any(hmac.compare_digest(request_signature(auth_token, u, params), signature) for u in urls)


def url_variants(url: str) -> list[str]:
    """The URL as given and with its default port added or removed (Twilio signs either form)."""
    parts = urlsplit(url)
    out = [url]
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if parts.hostname and default:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        userinfo = parts.netloc.rpartition("@")[0]
        prefix = f"{userinfo}@" if userinfo else ""
        if parts.port is None:
            out.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
        elif parts.port == default:
            out.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}")))
    return out


def signature_problem(auth_token: str | None, urls: list[str], params: Params, signature: str) -> str | None:
    """Why a Twilio webhook must be refused, or None when its signature verifies."""
    if not auth_token:
        return "TIDINGS_TWILIO_AUTH_TOKEN is not set, so no webhook signature can be checked"
    if not signature:
        return "missing X-Twilio-Signature"
    candidates = [v for u in urls for v in url_variants(u)]
    if not valid_signature(auth_token, candidates, params, signature):
        return "invalid X-Twilio-Signature"
    return None


def status_ref(secret: str, outbox_id: int, now: datetime) -> str:
    """The ``ref`` of a status callback URL: an HMAC-signed token naming the outbox row."""
    return tracking.make_token(secret, tracking.STATUS_REF, outbox_id, 0, now)


def status_outbox_id(secret: str, ref: str, now: datetime) -> int | None:
    """The outbox id a status ref names, or None when it is forged, guessed or expired."""
    try:
        return tracking.read_token(secret, ref, tracking.STATUS_REF, now).a
    except tracking.BadToken:
        return None
