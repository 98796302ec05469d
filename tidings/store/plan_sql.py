"""SQL of the content plan (the ``application.ports.plan`` port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.plan.model import DEFAULT_PLAN, Cell, PlanDoc, parse_plan
from tidings.domain.plan.records import PlanRecord
from tidings.store.schema_plan import content_plan, content_plan_cells, template_reviews

P = content_plan
C = content_plan_cells
R = template_reviews


def _upsert(conn: sa.Connection, table: sa.Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
    """Insert the row, or update ``values`` of the one at ``keys``: one statement, so two writers
    racing on a first row do not collide."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    q = dialect.insert(table).values(**keys, **values)
    conn.execute(q.on_conflict_do_update(index_elements=list(keys), set_=values))


def _cell(row: Any) -> Cell:
    return Cell(row.persona, row.stage, row.question, tuple(row.templates), tuple(row.assets), row.channel,
                row.owner, row.publish_on, row.review_on, row.notes)


class SqlContentPlan:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self) -> PlanRecord | None:
        row = self.conn.execute(sa.select(P).where(P.c.id == 1)).first()
        if row is None:
            return None
        return PlanRecord(parse_plan(row.document), int(row.feed_version), row.updated_at)

    def save(self, plan: PlanDoc, now: datetime) -> None:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        q = dialect.insert(P).values(id=1, document=plan.as_doc(), feed_version=1, updated_at=now)
        self.conn.execute(q.on_conflict_do_update(index_elements=["id"],
                                                  set_={"document": plan.as_doc(), "updated_at": now}))

    def rotate_feed(self, now: datetime) -> int:
        if self.get() is None:
            self.save(DEFAULT_PLAN, now)
        self.conn.execute(sa.update(P).where(P.c.id == 1).values(feed_version=P.c.feed_version + 1, updated_at=now))
        return int(self.conn.execute(sa.select(P.c.feed_version).where(P.c.id == 1)).scalar_one())

    def cells(self) -> list[Cell]:
        q = sa.select(C).order_by(C.c.persona, C.c.stage, C.c.question)
        return [_cell(r) for r in self.conn.execute(q)]

    def _where(self, persona: str, stage: str, question: str) -> sa.ColumnElement[bool]:
        return sa.and_(C.c.persona == persona, C.c.stage == stage, C.c.question == question)

    def get_cell(self, persona: str, stage: str, question: str) -> Cell | None:
        row = self.conn.execute(sa.select(C).where(self._where(persona, stage, question))).first()
        return _cell(row) if row is not None else None

    def put_cell(self, cell: Cell, now: datetime) -> None:
        values = {"templates": list(cell.templates), "assets": list(cell.assets), "channel": cell.channel,
                  "owner": cell.owner, "publish_on": cell.publish_on, "review_on": cell.review_on,
                  "notes": cell.notes, "updated_at": now}
        _upsert(self.conn, C, {"persona": cell.persona, "stage": cell.stage, "question": cell.question}, values)

    def delete_cell(self, persona: str, stage: str, question: str) -> bool:
        return bool(self.conn.execute(sa.delete(C).where(self._where(persona, stage, question))).rowcount)

    def reviews(self) -> dict[str, datetime]:
        return {r.template_key: r.reviewed_at for r in self.conn.execute(sa.select(R))}

    def mark_reviewed(self, template_key: str, at: datetime, by: str | None) -> None:
        _upsert(self.conn, R, {"template_key": template_key}, {"reviewed_at": at, "reviewed_by": by})
