"""Ports of the content plan: the plan document, its cells, and the reviews of templates.

Implemented by ``store/plan_sql.py`` (and ``store/memory/plan.py``); the contract suite
``tests/contract/test_plan_repositories.py`` runs on both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tidings.application.ports.content import TemplateRepository
from tidings.application.ports.journeys import JourneyRepository
from tidings.application.ports.uow import UnitOfWork
from tidings.domain.plan.model import Cell, PlanDoc
from tidings.domain.plan.records import PlanRecord

__all__ = ["PlanRecord", "PlanRepository", "PlanUnitOfWork"]


class PlanRepository(Protocol):
    def get(self) -> PlanRecord | None:
        """The workspace's plan, or None when none was saved (the default plan applies)."""
        ...

    def save(self, plan: PlanDoc, now: datetime) -> None:
        """Store the plan (its feed version stays; 1 for a first plan)."""
        ...

    def rotate_feed(self, now: datetime) -> int:
        """Bump the feed version (saving the current plan or the default first); the new version."""
        ...

    def cells(self) -> list[Cell]:
        """Every stored cell, by persona, stage, question."""
        ...

    def get_cell(self, persona: str, stage: str, question: str) -> Cell | None: ...

    def put_cell(self, cell: Cell, now: datetime) -> None:
        """Create or replace the cell at its coordinates."""
        ...

    def delete_cell(self, persona: str, stage: str, question: str) -> bool: ...

    def reviews(self) -> dict[str, datetime]:
        """Template key -> when it was last marked reviewed."""
        ...

    def mark_reviewed(self, template_key: str, at: datetime, by: str | None) -> None: ...


class PlanUnitOfWork(UnitOfWork, Protocol):
    """The plan, and the templates and journeys whose state the cells' statuses read."""

    @property
    def content_plan(self) -> PlanRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def journeys(self) -> JourneyRepository: ...
