"""Contract of the segments ports: memberships (the worker's and the set-based refresh) and
definitions, through the use cases of ``application/segments`` on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.contract.conftest import NOW, Backend
from tidings.application.segments.memberships import refresh_contact, refresh_contacts_in, refresh_segment_in
from tidings.application.segments.segments import check_rule, rule_warnings
from tidings.domain.rules import parse_contact_rule, to_json
from tidings.domain.segments import SegmentKeyTaken
from tidings.domain.snapshot import EventRecord


def _rule(text: str) -> object:
    return to_json(parse_contact_rule(text))


def test_a_set_based_refresh_opens_and_closes_periods_once(backend: Backend) -> None:
    a = backend.add_contact("a@x.test", tags=["vip"])
    b = backend.add_contact("b@x.test")
    backend.add_segment("vip", _rule('tag("vip")'))
    with backend.uow() as uow:
        sid = uow.segments.id_of("vip")
        assert sid is not None
        assert uow.segments.matching(parse_contact_rule('tag("vip")'), NOW) == {a}
        assert refresh_segment_in(uow.segments, sid, NOW) == (1, 0)
        assert refresh_segment_in(uow.segments, sid, NOW) == (0, 0)  # nothing changed: nothing recorded
        assert uow.segments.open_members(sid) == {a}
        # a concurrent refresh already opened it: skipped, not doubled
        assert uow.segments.open_memberships([(sid, a), (sid, b)], NOW) == [(sid, b)]
        assert sorted(uow.segments.close_for_segment(sid, [a, b], NOW + timedelta(hours=1))) == [a, b]
        assert uow.segments.close_for_segment(sid, [a], NOW + timedelta(hours=2)) == []
        assert [
            (h["contact_id"], h["exited_at"] is None)
            for h in uow.segments.history(sid, contact_id=None, before=None, limit=10)
        ] == [(b, False), (a, False)]
        uow.commit()
    assert backend.events() == [(a, "segment.entered")]
    assert backend.queued() == {a}


def test_the_worker_batch_cascades_and_returns_the_events_with_ids(backend: Backend) -> None:
    a = backend.add_contact("a@x.test", tags=["vip"])
    b = backend.add_contact("b@x.test")
    backend.add_segment("vip", _rule('tag("vip")'))
    backend.add_segment("vip_too", _rule('in_segment("vip")'))
    with backend.uow() as uow:
        snaps = {
            c: s
            for c in (a, b)
            if (
                s := uow.segments.snapshot(
                    c, event_names=None, with_events=True, with_tags=True, with_consents=True, with_journeys=True
                )
            )
            is not None
        }
        changed, events = refresh_contacts_in(uow.segments, snaps, {}, NOW, enqueue=False)
        uow.commit()
    assert set(changed) == {a} and changed[a].segments == frozenset({"vip", "vip_too"})
    assert [(e.name, e.properties["segment"]) for e in events[a]] == [
        ("segment.entered", "vip"),
        ("segment.entered", "vip_too"),
    ]
    assert all(e.id is not None for e in events[a]) and b not in events
    assert backend.queued() == set()  # the worker processes these contacts: no queue rows


def test_one_contact_enters_and_exits_with_the_hint_of_its_events(backend: Backend) -> None:
    c = backend.add_contact("c@x.test")
    backend.add_segment("buyers", _rule("purchase.count(30d) >= 2"))
    backend.add_event(c, "purchase", NOW - timedelta(days=1), {})
    backend.add_event(c, "purchase", NOW, {})
    with backend.uow() as uow:
        assert [e.name for e in uow.segments.unprocessed_events(c, 10)] == ["purchase", "purchase"]
        assert refresh_contact(uow.segments, c, NOW) == [("buyers", "entered")]
        assert refresh_contact(uow.segments, c, NOW) == []
        assert refresh_contact(uow.segments, c, NOW, changed={"page_viewed"}) == []  # cannot affect it
        later = NOW + timedelta(days=29, minutes=1)
        assert refresh_contact(uow.segments, c, later, changed={"purchase"}) == [("buyers", "exited")]
        uow.commit()
    assert [n for _, n in backend.events() if n.startswith("segment.")] == ["segment.entered", "segment.exited"]


def test_pairs_and_contact_closes_and_due_refreshes(backend: Backend) -> None:
    a = backend.add_contact("a@x.test")
    backend.add_segment("s1", _rule('tag("x")'))
    backend.add_segment("s2", _rule('tag("y")'))
    with backend.uow() as uow:
        s1, s2 = uow.segments.id_of("s1"), uow.segments.id_of("s2")
        assert s1 is not None and s2 is not None
        uow.segments.open_memberships([(s1, a), (s2, a)], NOW)
        assert uow.segments.close_pairs([(a, s1)], NOW) == [(a, s1)]
        assert uow.segments.close_for_contact(a, [s1, s2], NOW) == [s2]
        assert uow.segments.due_refreshes(NOW) == []
        uow.segments.mark_evaluated(s2, NOW, NOW + timedelta(minutes=1))
        uow.segments.mark_evaluated(s1, NOW, NOW)
        assert uow.segments.due_refreshes(NOW + timedelta(minutes=1)) == [s1, s2]
        uow.commit()


def test_definitions_save_list_preview_and_warn(backend: Backend) -> None:
    a = backend.add_contact("a@x.test", tags=["vip"])
    backend.add_contact("b@x.test")
    with backend.uow() as uow:
        rule = check_rule(uow.segments, 'tag("vip")', "vip")
        values = {
            "key": "vip",
            "name": "VIP",
            "description": "",
            "rule": to_json(rule),
            "rule_text": 'tag("vip")',
            "created_at": NOW,
            "updated_at": NOW,
            "next_refresh_at": None,
        }
        sid = uow.segments.insert(values)
        assert uow.segments.id_of("vip") == sid and uow.segments.row("vip") is not None
        v1 = uow.segments.version()
        uow.segments.update(sid, {"name": "Very important", "updated_at": NOW + timedelta(seconds=1)})
        assert uow.segments.version() != v1
        refresh_segment_in(uow.segments, sid, NOW)
        listed = uow.segments.listed()
        assert [(r["key"], r["name"], r["members"]) for r in listed] == [("vip", "Very important", 1)]
        assert [r["id"] for r in uow.segments.member_page(sid, after=0, limit=10)] == [a]
        assert uow.segments.member_page(sid, after=a, limit=10) == []
        assert uow.segments.member_count(sid) == 1
        count, sample = uow.segments.preview(rule, NOW, 5)
        assert count == 1 and [r["email"] for r in sample] == ["a@x.test"]
        assert rule_warnings(uow.segments, parse_contact_rule('tag("nobody") and in_segment("vip")')) == [
            "no contact has the tag 'nobody'"
        ]
        uow.commit()
    with backend.uow() as uow, pytest.raises(SegmentKeyTaken):
        uow.segments.insert(values)
    with backend.uow() as uow:
        uow.segments.delete(sid)
        assert uow.segments.listed() == [] and uow.segments.id_of("vip") is None
        uow.commit()


def test_unprocessed_events_are_oldest_first_and_bounded(backend: Backend) -> None:
    c = backend.add_contact("c@x.test")
    for i in range(3):
        backend.add_event(c, f"e{i}", NOW + timedelta(minutes=i), {"i": i})
    with backend.uow() as uow:
        got = uow.segments.unprocessed_events(c, 2)
    assert [(e.name, dict(e.properties)) for e in got] == [("e0", {"i": 0}), ("e1", {"i": 1})]
    assert all(isinstance(e, EventRecord) for e in got)
