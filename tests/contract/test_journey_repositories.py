"""Contract of the journeys port: documents (mutable heads) and their immutable versions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend


def test_journeys_heads_are_created_found_and_updated(backend: Backend) -> None:
    later = NOW + timedelta(minutes=5)
    with backend.uow() as uow:
        jid = uow.journeys.add("welcome", "Welcome", "key: welcome", NOW)
        other = uow.journeys.add("after-sale", "After sale", None, NOW)
        uow.commit()
    with backend.uow() as uow:
        row = uow.journeys.get("welcome", for_update=True)
        assert row is not None
        assert (row["id"], row["name"], row["status"], row["current_version"], row["draft_source"]) == (
            jid, "Welcome", "draft", None, "key: welcome"
        )
        assert (row["created_at"], row["updated_at"]) == (NOW, NOW)
        assert uow.journeys.get_by_id(jid) == row
        assert uow.journeys.get("nope") is None and uow.journeys.get_by_id(999) is None
        assert [j["id"] for j in uow.journeys.all()] == [other, jid]  # by key
        uow.journeys.update(jid, later, status="active", current_version=1, draft_source=None)
        uow.commit()
    with backend.uow() as uow:
        row = uow.journeys.get("welcome")
        assert row is not None
        assert (row["status"], row["current_version"], row["draft_source"], row["updated_at"]) == (
            "active", 1, None, later
        )


def test_versions_are_kept_in_order(backend: Backend) -> None:
    with backend.uow() as uow:
        jid = uow.journeys.add("welcome", "Welcome", None, NOW)
        for v in (1, 2):
            uow.journeys.add_version(
                jid, v, document={"key": "welcome", "v": v}, source=f"v{v}", checksum=f"c{v}",
                now=NOW + timedelta(days=v), by="ann@shop.test" if v == 1 else None,
            )
        uow.commit()
    with backend.uow() as uow:
        assert uow.journeys.versions(jid) == [
            {"version": 1, "checksum": "c1", "published_at": NOW + timedelta(days=1), "published_by": "ann@shop.test"},
            {"version": 2, "checksum": "c2", "published_at": NOW + timedelta(days=2), "published_by": None},
        ]
        v2 = uow.journeys.get_version(jid, 2)
        assert v2 is not None
        assert (v2["document"], v2["source"], v2["checksum"]) == ({"key": "welcome", "v": 2}, "v2", "c2")
        assert uow.journeys.get_version(jid, 3) is None
        assert uow.journeys.versions(jid + 1) == []


def test_a_version_is_written_once(backend: Backend) -> None:
    with backend.uow() as uow:
        jid = uow.journeys.add("welcome", "Welcome", None, NOW)
        uow.journeys.add_version(jid, 1, document={}, source="a", checksum="c", now=NOW, by=None)
        uow.commit()
    with pytest.raises(Exception), backend.uow() as uow:  # noqa: B017, PT011 (IntegrityError or ValueError)
        uow.journeys.add_version(jid, 1, document={}, source="b", checksum="d", now=NOW, by=None)
