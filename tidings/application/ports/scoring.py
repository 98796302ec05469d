"""The scoring capability's repository (``tidings.store.scoring_sql`` on SQL, ``store/memory`` in memory).

It works on one connection or unit of work (the caller's transaction): the worker scores a
batch of events in the transaction that processes them, so a score moves exactly once per event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from tidings.application.ports.uow import Transaction, UnitOfWork
from tidings.domain.scoring.funnel import StageMove
from tidings.domain.scoring.model import Decay
from tidings.domain.scoring.records import DecayRow, HistoryRow, NewEvent, ScoreRow, StoredModel
from tidings.domain.snapshot import ContactSnapshot


class ScoringRepository(Protocol):
    # models
    def models(self, *, active_only: bool = False) -> list[StoredModel]: ...
    def model(self, key: str) -> StoredModel | None: ...
    def save_model(self, key: str, name: str, document: str, now: datetime) -> StoredModel:
        """Insert the model, or a new version of it when the document changed (active kept)."""
        ...

    def set_active(self, key: str, active: bool, now: datetime) -> bool: ...
    def model_versions(self, model_id: int) -> list[tuple[int, datetime]]: ...

    # scores
    def scores(self, model_id: int, contact_ids: Sequence[int]) -> dict[int, ScoreRow]: ...
    def contact_scores(self, contact_id: int) -> list[ScoreRow]: ...
    def save_scores(self, rows: Sequence[ScoreRow]) -> None: ...
    def decay_page(self, model_id: int, after_contact_id: int, limit: int) -> list[DecayRow]:
        """A page of a model's scores in contact id order, without their state (the decay pass)."""
        ...

    def set_decayed(self, model_id: int, rows: Sequence[tuple[int, float, str | None]], now: datetime) -> None:
        """New (contact id, score, stage) after decay; the state and anchor are unchanged."""
        ...

    def decay_scores(self, model_id: int, decay: Decay, now: datetime, step: float) -> int:
        """Set-based: every score becomes ``profile + decayed behaviour`` at ``now`` (rounded to
        cents) where that moves it by ``step`` or more, ``updated_at = now``. Returns how many."""
        ...

    def stage_misfits(
        self, model_id: int, bands: Sequence[tuple[str | None, float | None, float | None]], after: int, limit: int
    ) -> list[DecayRow]:
        """Scores outside their stage's band (``score.stage_bands``), a page in contact id order."""
        ...

    def copy_to_contacts(self, model_id: int, since: datetime) -> None:
        """``contacts.score`` from this model's scores updated at or after ``since``."""
        ...

    def add_history(self, rows: Sequence[HistoryRow]) -> None: ...
    def history(self, contact_id: int, model_id: int, limit: int) -> list[HistoryRow]: ...
    def stage_counts(self, model_id: int) -> dict[str | None, int]: ...

    # the stage funnel over time
    def add_stage_moves(self, model_id: int, moves: Sequence[StageMove]) -> None:
        """Add these moves to the per-day counts (the same day, stages and direction add up)."""
        ...

    def stage_moves(self, model_id: int, since: date, until: date) -> list[StageMove]:
        """The model's per-day moves from ``since`` to ``until`` (both included), by day."""
        ...

    def reset_stage_moves(self, model_id: int) -> None: ...
    def threshold_events(self, after_id: int, limit: int) -> list[tuple[int, datetime, dict[str, Any]]]:
        """``score.threshold_crossed`` events (id, occurred at, properties) after ``after_id``, by id."""
        ...

    # the contact side
    def snapshots(self, contact_ids: Sequence[int]) -> dict[int, ContactSnapshot]: ...
    def write_contacts(self, rows: Sequence[tuple[int, float, str | None]]) -> None:
        """``contacts.score`` (and ``lifecycle_stage`` when not None) for a model that writes them."""
        ...

    def add_events(self, events: Sequence[NewEvent], now: datetime, *, enqueue_contacts: bool = True) -> None:
        """Store them unprocessed; ``enqueue_contacts=False`` inside the worker's own pass (it
        re-queues contacts left with unprocessed events when it finishes them)."""
        ...


class ScoringUnitOfWork(UnitOfWork, Protocol):
    @property
    def scoring(self) -> ScoringRepository: ...


#: the scoring repository on a transaction's connection (the worker's hook, like the analytics one).
ScoringFactory = Callable[[Transaction], ScoringRepository]
