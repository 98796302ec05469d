"""What the content plan's repository hands back (``application/ports/plan.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.domain.plan.model import PlanDoc


@dataclass(frozen=True, slots=True)
class PlanRecord:
    plan: PlanDoc
    #: part of the signed calendar feed URL: bumping it revokes every URL handed out
    feed_version: int
    updated_at: datetime
