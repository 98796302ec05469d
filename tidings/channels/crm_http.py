"""JSON over HTTP for the CRM adapters: every call through the SSRF guard, no redirects, tokens
only in the ``Authorization`` header (never in a URL, an error or a log line).

``call`` returns the decoded JSON of a 2xx answer (None for an empty body) or raises ``CrmError``:
408/425/429/5xx and network errors are temporary (with the server's Retry-After), any other
status is permanent with the CRM's message, read by the adapter's ``describe`` function.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from tidings.application.ports.crm import CrmError
from tidings.channels.ssrf import AllowList, Resolver, SsrfRefused, check_url, system_resolver
from tidings.channels.webhooks import TEMPORARY_STATUSES, retry_after_seconds

log = logging.getLogger("tidings.channels.crm")

#: a CRM's answer to one record call is small; more is not the CRM's
MAX_BYTES = 1024 * 1024
#: the CRM's error body -> its message (HubSpot ``message``, Salesforce ``[{message, errorCode}]``)
Describe = Callable[[int, Any], tuple[str, str | None]]


class CrmHttp:
    def __init__(
        self,
        system: str,
        token: str,
        allow: AllowList,
        describe: Describe,
        *,
        resolver: Resolver = system_resolver,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        #: the injected clock's ``now`` (a Retry-After given as an HTTP date is read against it)
        self.now = now
        self.system = system
        self._token = token
        self.allow = allow
        self.describe = describe
        self.resolver = resolver
        self._client = httpx.Client(follow_redirects=False, timeout=timeout, transport=transport)

    def __repr__(self) -> str:  # never the token
        return f"CrmHttp({self.system!r})"

    def call(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            target = check_url(url, self.allow, self.resolver)
        except SsrfRefused as exc:
            raise CrmError(f"{self.system}: refused: {exc}", temporary=False) from None
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": "Tidings-CRM/1",
            "Host": target.host_header,
        }
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), default=str).encode()
            headers["Content-Type"] = "application/json"
        request = self._client.build_request(
            method,
            target.pinned_url,
            params=params,
            content=content,
            headers=headers,
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            raise CrmError(f"{self.system}: {type(exc).__name__} calling {_path(url)}", temporary=True) from None
        status = response.status_code
        data = _json(response)
        if 200 <= status < 300:
            return data
        message, code = self.describe(status, data)
        text = f"{self.system} HTTP {status} on {method} {_path(url)}: {message}"
        temporary = status in TEMPORARY_STATUSES or status >= 500
        retry = retry_after_seconds(response.headers.get("retry-after"), self.now()) if temporary else None
        log.info("%s", text)
        raise CrmError(text, temporary=temporary, status=status, retry_after_s=retry, code=code)

    def close(self) -> None:
        self._client.close()


def _path(url: str) -> str:
    """The path only: a query could carry something an operator should not read in a dead letter."""
    return httpx.URL(url).path


def _json(response: httpx.Response) -> Any:
    if not response.content or len(response.content) > MAX_BYTES:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None
