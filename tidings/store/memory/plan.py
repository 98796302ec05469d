"""The in-memory twin of ``store/plan_sql.py``."""

from __future__ import annotations

from datetime import datetime

from tidings.domain.plan.model import DEFAULT_PLAN, Cell, PlanDoc
from tidings.domain.plan.records import PlanRecord
from tidings.store.memory.state import MemoryStore


class MemoryContentPlan:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def get(self) -> PlanRecord | None:
        rec: PlanRecord | None = self.store.state.content_plan
        return rec

    def save(self, plan: PlanDoc, now: datetime) -> None:
        old = self.get()
        self.store.state.content_plan = PlanRecord(plan, old.feed_version if old else 1, now)

    def rotate_feed(self, now: datetime) -> int:
        old = self.get()
        rec = PlanRecord(old.plan if old else DEFAULT_PLAN, (old.feed_version if old else 1) + 1, now)
        self.store.state.content_plan = rec
        return rec.feed_version

    def cells(self) -> list[Cell]:
        return [c for _, c in sorted(self.store.state.content_plan_cells.items())]

    def get_cell(self, persona: str, stage: str, question: str) -> Cell | None:
        cell: Cell | None = self.store.state.content_plan_cells.get((persona, stage, question))
        return cell

    def put_cell(self, cell: Cell, now: datetime) -> None:
        self.store.state.content_plan_cells[cell.coordinates] = cell

    def delete_cell(self, persona: str, stage: str, question: str) -> bool:
        return self.store.state.content_plan_cells.pop((persona, stage, question), None) is not None

    def reviews(self) -> dict[str, datetime]:
        return {k: at for k, (at, _by) in self.store.state.template_reviews.items()}

    def mark_reviewed(self, template_key: str, at: datetime, by: str | None) -> None:
        self.store.state.template_reviews[template_key] = (at, by)
