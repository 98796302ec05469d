"""Records of saved segments, as the segments ports carry them (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredSegment:
    """A saved segment as the membership use cases read it: its rule is the JSON document."""

    id: int
    key: str
    rule: Mapping[str, Any]


class SegmentKeyTaken(Exception):
    """Saving a segment lost to another one with the same key (a concurrent create)."""
