"""A CSV export named after a key in any script gets a header the client can read (no 5xx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def test_csv_export_of_a_non_latin_key(api: Any) -> None:
    key = "весна-春天"
    r = api.get(f"/api/analytics/campaigns/{quote(key)}?format=csv")
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        disposition = r.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="campaign-')
        assert f"filename*=UTF-8''{quote('campaign-' + key + '.csv', safe='')}" in disposition
