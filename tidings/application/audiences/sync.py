"""Sync a segment to a live destination: send only what changed since the last sync.

The segment's exportable hashes now (the same rows and consent rule as the CSV export) are
compared with what the destination was last sent (``SyncedAudience``): new hashes are added,
hashes no longer in the audience — members who left, unsubscribed, were suppressed or erased —
are removed, in batches of ``batch``. Each accepted batch is recorded at once, so a sync that
fails half-way resumes from what really reached the destination; a refused batch stops the sync
with :class:`AudienceSyncError` and is not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tidings.application.audiences.export import ExportCounts, audience_rows, check_platform, segment_of
from tidings.application.ports.audiences import AudienceMembers, AudienceSync, SyncedAudience
from tidings.application.ports.clock import Clock

BATCH = 1000


@dataclass(frozen=True)
class SyncResult:
    added: int
    removed: int
    unchanged: int
    counts: ExportCounts


def _batches(values: Sequence[str], size: int) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def sync_segment(
    members: AudienceMembers, synced: SyncedAudience, destination: AudienceSync, *, destination_name: str,
    segment_key: str, platform: str, clock: Clock, batch: int = BATCH,
) -> SyncResult:
    p = check_platform(platform)
    sid = segment_of(members, segment_key)
    counts = ExportCounts()
    current: set[str] = set()
    for rows in audience_rows(members, sid, p, counts):
        for row in rows:
            current.update(row.hashes())
    before = synced.hashes(destination_name, segment_key)
    to_add = sorted(current - before)
    to_remove = sorted(before - current)
    for chunk in _batches(to_add, batch):
        destination.add(chunk)
        synced.record(destination_name, segment_key, chunk, (), clock.now())
    for chunk in _batches(to_remove, batch):
        destination.remove(chunk)
        synced.record(destination_name, segment_key, (), chunk, clock.now())
    return SyncResult(len(to_add), len(to_remove), len(current & before), counts)
