"""Contract of the sources ports: connected vendors and the checkouts watched for abandonment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.domain.vendors.records import SourceExists


def test_sources_add_get_list_remove(backend: Backend) -> None:
    with backend.uow() as uow:
        shop = uow.sources.add("shopify", "main", "shpss_secret", 3600, NOW)
        pay = uow.sources.add("stripe", "stripe", "whsec_secret", 600, NOW)
        uow.commit()
    with backend.uow() as uow:
        rec = uow.sources.get(shop)
        assert rec is not None and (rec.vendor, rec.name, rec.secret, rec.abandon_after_seconds) == (
            "shopify", "main", "shpss_secret", 3600)
        assert rec.created_at == NOW
        assert [s.id for s in uow.sources.list()] == [shop, pay]
        assert [s.id for s in uow.sources.list("stripe")] == [pay]
        with pytest.raises(SourceExists):
            uow.sources.add("shopify", "main", "other-secret", 60, NOW)
    with backend.uow() as uow:
        assert uow.sources.remove(shop) is True
        assert uow.sources.remove(shop) is False
        uow.commit()
    with backend.uow() as uow:
        assert uow.sources.get(shop) is None
        again = uow.sources.add("shopify", "main", "shpss_secret", 3600, NOW)  # the name is free again
        assert again not in (shop, pay)  # ids are never given twice


def test_checkouts_watch_complete_due_and_abandon(backend: Backend) -> None:
    later = NOW + timedelta(hours=1)
    with backend.uow() as uow:
        sid = uow.sources.add("shopify", "main", "shpss_secret", 3600, NOW)
        uow.checkouts.watch(sid, "c-ann", "ann@shop.example", {"total": 10.0}, NOW, later)
        uow.checkouts.watch(sid, "c-bob", "bob@shop.example", {"total": 20.0}, NOW, later)
        uow.checkouts.complete(sid, ["c-bob", "c-never-watched"], NOW)
        # an update restarts the quiet period; a completed checkout stays completed
        uow.checkouts.watch(sid, "c-ann", "ann@shop.example", {"total": 12.0}, NOW + timedelta(minutes=5),
                            later + timedelta(minutes=5))
        uow.checkouts.watch(sid, "c-bob", "bob@shop.example", {"total": 25.0}, NOW, later)
        uow.commit()
    with backend.uow() as uow:
        assert uow.checkouts.due(later) == []
        assert uow.checkouts.due_count(later + timedelta(minutes=5)) == 1
        [due] = uow.checkouts.due(later + timedelta(minutes=5))
        assert (due.checkout_id, due.email, dict(due.properties)) == ("c-ann", "ann@shop.example", {"total": 12.0})
        assert due.abandon_at == later + timedelta(minutes=5)
        uow.checkouts.mark_abandoned([due.id], later + timedelta(minutes=6))
        uow.commit()
    with backend.uow() as uow:
        assert uow.checkouts.due(later + timedelta(days=1)) == []
        ann = uow.checkouts.get(sid, "c-ann")
        assert ann is not None and ann["abandoned_at"] == later + timedelta(minutes=6)
        bob = uow.checkouts.get(sid, "c-bob")
        assert bob is not None and bob["completed_at"] == NOW and bob["properties"] == {"total": 20.0}
        assert uow.checkouts.get(sid, "c-never-watched") is not None
        assert uow.sources.remove(sid) is True
        uow.commit()
    with backend.uow() as uow:
        assert uow.checkouts.get(sid, "c-ann") is None


def test_uncommitted_sources_are_forgotten(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.sources.add("zoom", "zoom", "zoom-secret", 3600, NOW)
    with backend.uow() as uow:
        assert uow.sources.list() == []
