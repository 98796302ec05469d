"""Retry advice for webhooks: Retry-After parsing, backoff within the budget, then dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.application.ports.senders import DeliveryResult
from tidings.channels.webhooks import retry_after_seconds, sign, verify, webhook_outcome

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_retry_after_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds("Mon, 02 Mar 2026 09:05:00 GMT", NOW) == 300
    assert retry_after_seconds("Mon, 02 Mar 2026 08:00:00 GMT", NOW) == 0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def row(attempts: int) -> dict:
    return {"id": 1, "attempts": attempts, "contact_id": 1, "next_attempt_at": NOW}


def test_backoff_then_dead_after_the_budget() -> None:
    first = webhook_outcome(row(1), DeliveryResult.temporary("HTTP 503"), NOW, 3)
    assert first.status == "pending" and first.next_attempt_at == NOW + timedelta(seconds=30)
    second = webhook_outcome(row(2), DeliveryResult.temporary("HTTP 503"), NOW, 3)
    assert second.next_attempt_at == NOW + timedelta(seconds=60)
    slow = webhook_outcome(row(1), DeliveryResult.temporary("HTTP 429", retry_after_s=600), NOW, 3)
    assert slow.next_attempt_at == NOW + timedelta(seconds=600)
    dead = webhook_outcome(row(3), DeliveryResult.temporary("HTTP 503"), NOW, 3)
    assert dead.status == "dead" and dead.error == "HTTP 503 (gave up after 3 attempts)"
    refused = webhook_outcome(row(1), DeliveryResult.permanent("HTTP 404"), NOW, 3)
    assert refused.status == "dead" and refused.error == "HTTP 404"


def test_signature_binds_timestamp_and_body() -> None:
    sig = sign("k", 100, b'{"a":1}')
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    at = datetime.fromtimestamp(100, UTC)
    assert verify("k", "100", b'{"a":1}', sig, at)
    assert not verify("k", "101", b'{"a":1}', sig, at)  # the timestamp is signed too
    assert not verify("k", "abc", b'{"a":1}', sig, at)
