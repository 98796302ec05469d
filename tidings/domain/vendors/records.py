"""What the sources store holds: a connected vendor, a checkout due for abandonment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SourceRecord:
    id: int
    vendor: str
    name: str
    secret: str
    abandon_after_seconds: int
    created_at: datetime


@dataclass(frozen=True)
class DueCheckout:
    id: int
    source_id: int
    checkout_id: str
    email: str
    properties: Mapping[str, Any]
    abandon_at: datetime


class SourceExists(ValueError):
    """A source of this vendor with this name exists."""
