"""A small Twilio-compatible REST client shared by SMS and voice, and Twilio's request signature.

Any API that speaks Twilio's 2010-04-01 REST shape works (``TIDINGS_TWILIO_BASE_URL``): resources
are created with a form-encoded POST to ``/2010-04-01/Accounts/{sid}/<Resource>.json`` under HTTP
Basic auth (account SID, auth token); the answer is JSON with the new resource's ``sid``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from tidings.application.ports.senders import DeliveryResult
from tidings.channels.webhooks import retry_after_seconds

if TYPE_CHECKING:
    from tidings.clock import Clock


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


def request_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + concatenated sorted key+value))."""
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def valid_signature(auth_token: str, urls: list[str], params: Mapping[str, str], signature: str) -> bool:
    return any(hmac.compare_digest(request_signature(auth_token, u, params), signature) for u in urls)
