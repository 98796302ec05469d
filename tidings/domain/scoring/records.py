"""The records the scoring repository reads and writes (``application/ports/scoring.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredModel:
    id: int
    key: str
    name: str
    version: int
    document: str
    active: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ScoreRow:
    contact_id: int
    model_id: int
    score: float
    profile: float
    stage: str | None
    state: Mapping[str, Any]
    updated_at: datetime
    #: the behaviour points as one number at one time (``score.behaviour_anchor``): all decay reads
    behaviour: float = 0.0
    behaviour_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecayRow:
    """What the decay pass reads of a score: no state, only the behaviour anchor."""

    contact_id: int
    score: float
    profile: float
    stage: str | None
    behaviour: float
    behaviour_at: datetime | None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    contact_id: int
    model_id: int
    at: datetime
    score: float
    delta: float
    stage: str | None
    reason: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event the scoring emits (``score.threshold_crossed``): stored unprocessed, the contact
    queued, so journeys see it in the worker's next pass."""

    contact_id: int
    name: str
    properties: Mapping[str, Any]
    occurred_at: datetime
    message_id: str
