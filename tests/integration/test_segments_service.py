"""Segments service: set-based and incremental refresh, history, events, cascade, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tidings.application.segments import segments as svc
from tidings.application.segments.segment_refresher import SegmentRefresher
from tidings.clock import ManualClock
from tidings.domain.rules import RuleDeps
from tidings.store import schema
from tidings.store.segments_sql import SqlSegments, SqlSegmentStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def add_contact(engine: sa.Engine, email: str, **kw: Any) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(schema.contacts)
                .values(
                    email=email,
                    attributes=kw.pop("attributes", {}),
                    created_at=NOW,
                    updated_at=NOW,
                    **kw,
                )
                .returning(schema.contacts.c.id)
            ).scalar_one()
        )


def add_event(engine: sa.Engine, cid: int, name: str, at: datetime, **props: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.events).values(contact_id=cid, name=name, properties=props, occurred_at=at, received_at=at)
        )


def seg_events(engine: sa.Engine) -> list[tuple[int, str, str]]:
    e = schema.events
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(e.c.contact_id, e.c.name, e.c.properties).where(e.c.name.like("segment.%")).order_by(e.c.id)
        ).all()
    return [(r.contact_id, r.name, r.properties["segment"]) for r in rows]


def queued(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars())


def test_create_computes_members_and_writes_entry_events(engine: sa.Engine) -> None:
    a = add_contact(engine, "a@x.test", attributes={"plan": "pro"})
    b = add_contact(engine, "b@x.test", attributes={"plan": "free"})
    seg = svc.create_segment(SqlSegmentStore(engine), "pro", "Pro", 'attributes.plan == "pro"', NOW)
    assert seg["members"] == 1
    assert seg["rule"] == {"attribute": "plan", "op": "eq", "value": "pro"}
    assert [r["id"] for r in svc.members(SqlSegmentStore(engine), "pro")["items"]] == [a]
    assert seg_events(engine) == [(a, "segment.entered", "pro")]
    assert a in queued(engine) and b not in queued(engine)


def test_update_moves_members_and_keeps_history(engine: sa.Engine) -> None:
    a = add_contact(engine, "a@x.test", score=5)
    b = add_contact(engine, "b@x.test", score=50)
    svc.create_segment(SqlSegmentStore(engine), "hi", "High", "score > 10", NOW)
    later = NOW + timedelta(hours=1)
    seg = svc.update_segment(SqlSegmentStore(engine), "hi", later, rule_source="score < 10")
    assert seg["members"] == 1 and seg["rule_text"] == "score < 10"
    hist = svc.history(SqlSegmentStore(engine), "hi")
    periods = {(h["contact_id"], h["exited_at"] is None) for h in hist}
    assert periods == {(b, False), (a, True)}
    closed = [h for h in hist if h["contact_id"] == b][0]
    assert closed["entered_at"] == NOW and closed["exited_at"] == later
    assert seg_events(engine)[-2:] == [(a, "segment.entered", "hi"), (b, "segment.exited", "hi")]


def test_invalid_rule_is_refused_and_nothing_saved(engine: sa.Engine) -> None:
    with pytest.raises(svc.SegmentError) as exc:
        svc.create_segment(SqlSegmentStore(engine), "bad", "Bad", "score >= 1 and purchases.count(30q) > 1", NOW)
    assert exc.value.column == len("score >= 1 and purchases.count(30q") == 34
    with pytest.raises(svc.SegmentError) as exc2:
        bad = {"all": [{"tag": "a"}, {"field": "nope", "op": "eq"}]}
        svc.create_segment(SqlSegmentStore(engine), "bad", "Bad", bad, NOW)
    assert exc2.value.path == ["all", 1, "field"]
    assert svc.list_segments(SqlSegmentStore(engine)) == []


def test_segment_cycles_are_refused(engine: sa.Engine) -> None:
    svc.create_segment(SqlSegmentStore(engine), "a", "A", 'tag("x")', NOW)
    svc.create_segment(SqlSegmentStore(engine), "b", "B", 'in_segment("a")', NOW)
    with pytest.raises(svc.SegmentError, match="depend on itself"):
        svc.update_segment(SqlSegmentStore(engine), "a", NOW, rule_source='in_segment("b")')
    with pytest.raises(svc.SegmentError, match="used by"):
        svc.delete_segment(SqlSegmentStore(engine), "a")


def test_refresh_contact_enters_exits_and_cascades(engine: sa.Engine) -> None:
    c = add_contact(engine, "c@x.test")
    svc.create_segment(SqlSegmentStore(engine), "buyers", "Buyers", "purchase.count(30d) >= 2", NOW)
    svc.create_segment(SqlSegmentStore(engine), "vip", "VIP", 'in_segment("buyers") and not tag("blocked")', NOW)
    add_event(engine, c, "purchase", NOW - timedelta(days=1))
    add_event(engine, c, "purchase", NOW)
    with engine.begin() as conn:
        changes = svc.refresh_contact(SqlSegments(conn), c, NOW)
    assert changes == [("buyers", "entered"), ("vip", "entered")]
    with engine.begin() as conn:  # nothing changed: nothing happens
        assert svc.refresh_contact(SqlSegments(conn), c, NOW) == []
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.contact_tags).values(contact_id=c, tag="blocked", created_at=NOW))
        # a hint that cannot affect "vip" leaves it alone ...
        assert svc.refresh_contact(SqlSegments(conn), c, NOW, changed=RuleDeps(fields=frozenset({"email"}))) == []
        # ... the tag change does not
        assert svc.refresh_contact(SqlSegments(conn), c, NOW, changed={"tag.added"}) == [("vip", "exited")]
    with engine.begin() as conn:  # 29 days later one purchase fell out of the window
        assert svc.refresh_contact(SqlSegments(conn), c, NOW + timedelta(days=29, minutes=1)) == [("buyers", "exited")]
    assert [(n, s) for _, n, s in seg_events(engine)] == [
        ("segment.entered", "buyers"),
        ("segment.entered", "vip"),
        ("segment.exited", "vip"),
        ("segment.exited", "buyers"),
    ]


def test_refresh_contact_reads_its_unprocessed_events_as_the_hint(engine: sa.Engine) -> None:
    c = add_contact(engine, "c@x.test", attributes={"plan": "free"})
    svc.create_segment(SqlSegmentStore(engine), "pro", "Pro", 'attributes.plan == "pro"', NOW)
    with engine.begin() as conn:
        conn.execute(sa.update(schema.contacts).values(attributes={"plan": "pro"}))
    add_event(engine, c, "page_viewed", NOW)  # an unrelated event: "pro" is not re-read
    with engine.begin() as conn:
        assert svc.refresh_contact(SqlSegments(conn), c, NOW) == []
    add_event(engine, c, "contact.updated", NOW, changed={"attributes": {"plan": "pro"}})
    with engine.begin() as conn:
        assert svc.refresh_contact(SqlSegments(conn), c, NOW) == [("pro", "entered")]


def test_preview_counts_samples_and_warns(engine: sa.Engine) -> None:
    for i in range(25):
        add_contact(engine, f"p{i}@x.test", score=i)
    out = svc.preview(SqlSegmentStore(engine), "score >= 3 or attributes.nobody_has_this == 1", NOW)
    assert out["count"] == 22 and len(out["sample"]) == 20
    assert out["warnings"] == ["no contact has the attribute 'nobody_has_this'"]
    assert svc.list_segments(SqlSegmentStore(engine)) == []


def test_scheduled_refresher_slides_time_relative_segments(engine: sa.Engine, container: Any) -> None:
    clock: ManualClock = container.clock
    c = add_contact(engine, "c@x.test")
    add_event(engine, c, "visit", clock.now())
    svc.create_segment(SqlSegmentStore(engine), "lapsed", "Lapsed", "last_seen more than 14d ago", clock.now())
    refresher = SegmentRefresher(container.segments, container.clock, every=timedelta(hours=1))
    assert refresher.run_once() == 0  # not due yet
    clock.advance(timedelta(days=15))
    assert refresher.run_once() == 1
    assert [r["id"] for r in svc.members(SqlSegmentStore(engine), "lapsed")["items"]] == [c]
    assert refresher.run_once() == 0  # next refresh is an hour away
    seg = svc.get_segment(SqlSegmentStore(engine), "lapsed")
    assert seg is not None and seg["next_refresh_at"] == clock.now() + timedelta(hours=1)


def test_a_stale_view_never_records_a_change_twice(engine: sa.Engine) -> None:
    from tidings.store.snapshots import load_snapshot

    c = add_contact(engine, "c@x.test", score=50)
    with engine.connect() as conn:
        stale = load_snapshot(conn, c)  # taken before the segment existed
    svc.create_segment(SqlSegmentStore(engine), "hi", "High", "score > 10", NOW)  # the set-based refresh enters c
    with engine.begin() as conn:
        assert svc.refresh_contact(SqlSegments(conn), c, NOW, snapshot=stale) == []
    assert seg_events(engine) == [(c, "segment.entered", "hi")]
    assert len(svc.history(SqlSegmentStore(engine), "hi")) == 1
