"""Ports of the audiences capability (docs/audiences.md).

- :class:`AudienceMembers`: a segment's current members with what the export needs (email, phone,
  consents, suppressed), read in id order a chunk at a time (segments can hold a million).
- :class:`SyncedAudience`: the hashes last sent to a destination for a segment (what the next
  sync diffs against).
- :class:`AudienceSync`: a live destination (an ad platform's audience API or a relay): add and
  remove hashes in batches.

The SQL is in ``store/audiences_sql.py``; the HTTP adapter in ``channels/audience_http.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from tidings.domain.audiences.eligibility import Member

__all__ = ["AudienceMembers", "AudienceSync", "AudienceSyncError", "Member", "SyncedAudience"]


class AudienceMembers(Protocol):
    def segment_id(self, key: str) -> int | None: ...

    def members(self, segment_id: int, after: int, limit: int) -> list[Member]:
        """Current members with ids above ``after``, by id, at most ``limit``."""
        ...


class SyncedAudience(Protocol):
    def hashes(self, destination: str, segment_key: str) -> set[str]:
        """What the destination holds for this segment, as far as we sent it."""
        ...

    def record(self, destination: str, segment_key: str, added: Iterable[str], removed: Iterable[str],
               now: datetime) -> None:
        """Remember a batch the destination accepted (its own transaction)."""
        ...


class AudienceSyncError(RuntimeError):
    """The destination refused or could not be reached (the message says which)."""


class AudienceSync(Protocol):
    def add(self, hashes: Sequence[str]) -> None:
        """Add these SHA-256 hashes to the audience; raises :class:`AudienceSyncError`."""
        ...

    def remove(self, hashes: Sequence[str]) -> None:
        """Remove these hashes from the audience; raises :class:`AudienceSyncError`."""
        ...
