"""The ``LeadFetcher`` port over Meta's Graph API: ``GET <base>/<lead id>?fields=...``.

The base URL is configurable (``TIDINGS_META_GRAPH_URL``, default Meta's versioned API root), so
tests and air-gapped setups point it at a local server; the page access token
(``TIDINGS_META_ACCESS_TOKEN``) goes in the ``Authorization`` header, never in a URL or a log.
Lead ids are digit strings (checked by ``domain/vendors/leadforms``) so they cannot change the path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from tidings.application.ports.sources import LeadFetchError

FIELDS = "id,created_time,ad_id,form_id,field_data,custom_disclaimer_responses,is_organic"
#: a lead is a few kilobytes; a bigger answer is not Meta's
MAX_BYTES = 256 * 1024


class GraphLeadFetcher:
    def __init__(self, base_url: str, access_token: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.timeout = timeout

    def fetch(self, lead_id: str) -> Mapping[str, Any]:
        if not lead_id.isdigit():
            raise LeadFetchError(f"lead id {lead_id!r} is not Meta's")
        url = f"{self.base_url}/{lead_id}"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                r = client.get(url, params={"fields": FIELDS}, headers={"Authorization": f"Bearer {self.access_token}"})
        except httpx.HTTPError as exc:
            raise LeadFetchError(f"Graph API unreachable: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise LeadFetchError(f"Graph API answered {r.status_code} for lead {lead_id}")
        if len(r.content) > MAX_BYTES:
            raise LeadFetchError(f"Graph API answer for lead {lead_id} is over {MAX_BYTES} bytes")
        try:
            lead = json.loads(r.content)
        except ValueError:
            raise LeadFetchError(f"Graph API answer for lead {lead_id} is not JSON") from None
        if not isinstance(lead, dict):
            raise LeadFetchError(f"Graph API answer for lead {lead_id} is not an object")
        return lead
