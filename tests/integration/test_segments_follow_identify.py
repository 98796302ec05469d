"""Real-time segments follow the traits an identify call changes: a new attribute value enters
the contact into the segment when the worker processes it (found by benchmarks/live.py: the
worker's hint spelled changed attributes as ``attributes.<key>``, the rule's dependency as
``<key>``, so attribute changes never re-evaluated a segment until its full refresh)."""

from __future__ import annotations

from typing import Any

from tests.integration.journey_support import drain
from tidings.bootstrap import Container
from tidings.worker import JourneyWorker


def _members(api: Any, key: str) -> list[str]:
    r = api.get(f"/api/segments/{key}/members")
    assert r.status_code == 200, r.text
    return sorted(str(m.get("email")) for m in r.json()["items"])


def test_an_identify_that_sets_a_trait_enters_and_leaves_the_segment(api: Any, container: Container) -> None:
    assert (
        api.post("/api/segments", json={"key": "pro", "name": "Pro", "rule": 'attributes.plan == "pro"'}).status_code
        == 201
    )
    assert (
        api.post(
            "/v1/identify", json={"userId": "u1", "traits": {"email": "a@example.org", "plan": "free"}}
        ).status_code
        == 200
    )
    drain(JourneyWorker(container))
    assert _members(api, "pro") == []
    assert api.post("/v1/identify", json={"userId": "u1", "traits": {"plan": "pro"}}).status_code == 200
    drain(JourneyWorker(container))
    assert _members(api, "pro") == ["a@example.org"]
    assert api.post("/v1/identify", json={"userId": "u1", "traits": {"plan": "free"}}).status_code == 200
    drain(JourneyWorker(container))
    assert _members(api, "pro") == []
