"""The ``AudienceSync`` port over HTTP: batches of hashes POSTed to a configured endpoint.

``POST <url>`` with ``{"operation": "add"|"remove", "schema": ["EMAIL_SHA256"|"PHONE_SHA256"...],
"platform", "hashes": [...]}`` and ``Authorization: Bearer <TIDINGS_AUDIENCE_TOKEN>`` (when set); a
2xx is accepted, anything else raises ``AudienceSyncError``. The URL passes the SSRF guard
(``channels/ssrf.py``, ``TIDINGS_WEBHOOK_ALLOW`` for exceptions) and the request goes to the
checked IP; it must be ``https`` except on a loopback host (a relay on the same machine, tests).
No redirect is followed.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from tidings.application.ports.audiences import AudienceSyncError
from tidings.channels.ssrf import AllowList, Resolver, SsrfRefused, check_url, is_loopback_name, system_resolver


class HttpAudienceSync:
    def __init__(self, url: str, platform: str, allow: AllowList, token: str | None = None,
                 resolver: Resolver = system_resolver, timeout: float = 30.0) -> None:
        self.url = url
        self.platform = platform
        self.allow = allow
        self.token = token
        self.resolver = resolver
        self.timeout = timeout

    def add(self, hashes: Sequence[str]) -> None:
        self._post("add", hashes)

    def remove(self, hashes: Sequence[str]) -> None:
        self._post("remove", hashes)

    def _post(self, operation: str, hashes: Sequence[str]) -> None:
        try:
            target = check_url(self.url, self.allow, self.resolver)
        except SsrfRefused as exc:
            raise AudienceSyncError(f"refused: {exc}") from None
        if target.scheme != "https" and not is_loopback_name(target.host):
            raise AudienceSyncError(f"{self.url}: an audience destination must use https")
        headers = {"Host": target.host_header, "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"operation": operation, "platform": self.platform, "schema": "SHA256", "hashes": list(hashes)}
        try:
            with httpx.Client(follow_redirects=False, timeout=self.timeout) as client:
                response = client.post(target.pinned_url, json=body, headers=headers,
                                       extensions={"sni_hostname": target.host} if target.scheme == "https" else {})
        except httpx.HTTPError as exc:
            raise AudienceSyncError(f"{type(exc).__name__}: {exc or 'no detail'} ({self.url})") from None
        if not 200 <= response.status_code < 300:
            raise AudienceSyncError(f"{self.url} answered {response.status_code} to {operation} "
                                    f"of {len(hashes)} hashes")
