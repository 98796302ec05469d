"""Retry timing of the delivery loop (pure)."""

from __future__ import annotations

from datetime import timedelta

from tidings.store.outbox import BACKOFF_MAX, MAX_ATTEMPTS, backoff


def test_backoff_doubles_from_30s_and_caps_at_6h() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert backoff(30) == BACKOFF_MAX == timedelta(hours=6)
    assert MAX_ATTEMPTS == 8


def test_provider_retry_after_wins_when_longer() -> None:
    assert backoff(1, retry_after_s=600) == timedelta(seconds=600)
    assert backoff(3, retry_after_s=5) == timedelta(seconds=120)
