"""Retention policies, pure: which kinds of rows may be deleted once older than N days, and the
cut-off instant of each kind at a given moment. Every kind is off (kept for ever) by default.

The kinds (what each deletes and what it protects is in docs/privacy.md, and in
``store/retention_sql.py``, which holds the SQL):

- ``events``: processed events whose ``occurred_at`` is older than the cut-off;
- ``traces``: the "why" rows of enrolments that have ended;
- ``outbox``: delivered messages and effects in a final state;
- ``inbox``: what the local sinks received;
- ``anonymous_contacts``: profiles known by no identifier and without recent activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

KINDS: tuple[str, ...] = ("events", "traces", "outbox", "inbox", "anonymous_contacts")
#: the longest policy (100 years): more is a typo, and ``now - days`` must stay a valid date
MAX_DAYS = 36500
MIN_DAYS = 1
#: kinds with a longer minimum: unsubscribe links in messages name their outbox row and work for
#: 730 days (``channels/tracking.TTL``), so a message row must outlive its unsubscribe link.
MIN_DAYS_BY_KIND: dict[str, int] = {"outbox": 730}


class InvalidPolicy(ValueError):
    """A policy that cannot be kept; ``field`` is the path of the offence (``events``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RetentionPolicy:
    """Days to keep per kind; a kind that is absent (or None) is kept for ever."""

    days: Mapping[str, int] = field(default_factory=dict)

    def document(self) -> dict[str, int | None]:
        """Every kind, with its days or None (off): the stored and answered form."""
        return {k: self.days.get(k) for k in KINDS}

    @property
    def enabled(self) -> bool:
        return bool(self.days)


def check_days(kind: str, days: Any) -> int | None:
    """``days`` for ``kind`` as the policy holds it (None: off), or :class:`InvalidPolicy`."""
    if kind not in KINDS:
        raise InvalidPolicy(kind, f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidPolicy(kind, "days must be a whole number or null (off)")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidPolicy(kind, f"days must be between {MIN_DAYS} and {MAX_DAYS}")
    least = MIN_DAYS_BY_KIND.get(kind, MIN_DAYS)
    if days < least:
        raise InvalidPolicy(kind, f"days must be at least {least}: the unsubscribe link of a message needs its row")
    return days


def parse_policy(doc: Mapping[str, Any] | None) -> RetentionPolicy:
    """A stored or submitted document -> the policy (unknown kinds and bad days refused)."""
    if doc is None:
        return RetentionPolicy()
    if not isinstance(doc, Mapping):
        raise InvalidPolicy("policy", "must be an object of kind -> days")
    days: dict[str, int] = {}
    for kind, value in doc.items():
        checked = check_days(str(kind), value)
        if checked is not None:
            days[str(kind)] = checked
    return RetentionPolicy(days)


def with_days(policy: RetentionPolicy, kind: str, days: int | None) -> RetentionPolicy:
    """The policy with one kind changed (None turns it off)."""
    checked = check_days(kind, days)
    rest = {k: v for k, v in policy.days.items() if k != kind}
    return RetentionPolicy(rest if checked is None else rest | {kind: checked})


def cutoffs(policy: RetentionPolicy, now: datetime) -> dict[str, datetime]:
    """Kind -> the instant before which its rows may go, for the enabled kinds only, in
    ``KINDS`` order. A row exactly at the cut-off is kept (callers delete ``< cutoff``)."""
    return {k: now - timedelta(days=policy.days[k]) for k in KINDS if k in policy.days}
