"""Contract of the content plan port: the plan (one per workspace), its cells, template reviews."""

from __future__ import annotations

from datetime import date, timedelta

from tests.contract.conftest import NOW, Backend
from tidings.domain.plan.model import DEFAULT_PLAN, Cell, parse_plan


def test_plan_save_get_and_feed_rotation(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.content_plan.get() is None
        assert uow.content_plan.rotate_feed(NOW) == 2  # saves the default plan first
        rec = uow.content_plan.get()
        assert rec is not None and rec.plan == DEFAULT_PLAN and rec.feed_version == 2
        small = parse_plan({"personas": [{"key": "dev", "name": "Dev", "description": "Writes code.\nLots."}],
                            "stages": [{"key": "aware", "name": "Aware"}],
                            "questions": [{"key": "why", "name": "Why?"}], "review_months": 3})
        uow.content_plan.save(small, NOW + timedelta(hours=1))
        uow.commit()
    with backend.uow() as uow:
        rec = uow.content_plan.get()
        assert rec is not None
        assert rec.plan == small and rec.feed_version == 2  # saving keeps the feed version
        assert rec.updated_at == NOW + timedelta(hours=1)


def test_cells_put_replace_delete(backend: Backend) -> None:
    a = Cell("founder", "awareness", "why", ("welcome", "tips"), ("https://blog.example.com/why",), "email",
             "ana@example.com", date(2026, 4, 1), date(2026, 10, 1), "Ünïcode notes\nline two")
    b = Cell("customer", "loyalty", "next", (), (), "sms")
    with backend.uow() as uow:
        uow.content_plan.put_cell(a, NOW)
        uow.content_plan.put_cell(b, NOW)
        uow.commit()
    with backend.uow() as uow:
        assert uow.content_plan.cells() == [b, a]  # by persona, stage, question
        assert uow.content_plan.get_cell("founder", "awareness", "why") == a
        changed = Cell("founder", "awareness", "why", ("welcome",), (), None, None, None, None, "")
        uow.content_plan.put_cell(changed, NOW)
        assert uow.content_plan.get_cell(*a.coordinates) == changed
        assert uow.content_plan.delete_cell(*b.coordinates) is True
        assert uow.content_plan.delete_cell(*b.coordinates) is False
        assert uow.content_plan.get_cell(*b.coordinates) is None
        uow.commit()
    with backend.uow() as uow:
        assert uow.content_plan.cells() == [changed]


def test_cells_not_committed_are_forgotten(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.content_plan.put_cell(Cell("founder", "decision", "cost", ("price",)), NOW)
    with backend.uow() as uow:
        assert uow.content_plan.cells() == []


def test_template_reviews(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.content_plan.reviews() == {}
        uow.content_plan.mark_reviewed("welcome", NOW, "ana@example.com")
        uow.content_plan.mark_reviewed("tips", NOW, None)
        uow.content_plan.mark_reviewed("welcome", NOW + timedelta(days=2), "bo@example.com")
        uow.commit()
    with backend.uow() as uow:
        assert uow.content_plan.reviews() == {"welcome": NOW + timedelta(days=2), "tips": NOW}
