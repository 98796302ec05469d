"""resolve_contact and merges at the service level: every per-contact table follows the merge."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tidings.application.contacts.identity import merge_contacts, resolve_contact
from tidings.store import schema
from tidings.store.identity_sql import per_contact_tables
from tidings.store.sql_uow import joined


def test_resolve_creates_then_finds(engine: sa.Engine, clock: Any) -> None:
    now = clock.now()
    with engine.begin() as conn:
        a = resolve_contact(joined(conn), email="a@example.com", now=now)
        assert resolve_contact(joined(conn), email="a@example.com", now=now) == a
        assert resolve_contact(joined(conn), external_id="u1", email="a@example.com", now=now) == a
        assert resolve_contact(joined(conn), external_id="u1", now=now) == a  # the external id was filled in
        assert resolve_contact(joined(conn), phone="+14155550132", now=now, create=False) is None
        anon = resolve_contact(joined(conn), anonymous_id="dev-1", now=now)
        assert anon != a
        row = conn.execute(sa.select(schema.contacts).where(schema.contacts.c.id == anon)).mappings().one()
        assert row["anonymous"] is True
        # naming both merges the anonymous one into the known one
        assert resolve_contact(joined(conn), external_id="u1", anonymous_id="dev-1", now=now) == a
        assert (
            conn.execute(sa.select(schema.contacts.c.id).where(schema.contacts.c.id == anon)).first() is None
        )
        # two known people with different external ids are never merged implicitly
        b = resolve_contact(joined(conn), external_id="u2", now=now)
        assert resolve_contact(joined(conn), external_id="u2", email="a@example.com", now=now) == b
        email_of_b = conn.execute(
            sa.select(schema.contacts.c.email).where(schema.contacts.c.id == b)
        ).scalar()
        assert email_of_b is None


def test_merge_moves_every_per_contact_table(engine: sa.Engine, clock: Any) -> None:
    now = clock.now()
    tables = {t.name for t in per_contact_tables()}
    assert {
        "events",
        "contact_tags",
        "consents",
        "segment_memberships",
        "enrollments",
        "timers",
        "outbox",
        "traces",
        "contact_aliases",
        "contact_queue",
        "tasks",
    } <= tables
    with engine.begin() as conn:
        src = resolve_contact(joined(conn), anonymous_id="anon-1", now=now)
        dst = resolve_contact(joined(conn), external_id="user-1", now=now)
        conn.execute(
            sa.insert(schema.contact_tags),
            [
                {"contact_id": src, "tag": "t", "created_at": now},
                {"contact_id": dst, "tag": "t", "created_at": now},
                {"contact_id": src, "tag": "only-src", "created_at": now},
            ],
        )
        conn.execute(
            sa.insert(schema.segment_memberships).values(contact_id=src, segment_id=1, entered_at=now)
        )
        # both in segment 2: a unique (segment_id, contact_id) keeps only the target's membership
        m = schema.segment_memberships
        conn.execute(sa.insert(m).values(contact_id=src, segment_id=2, entered_at=now))
        conn.execute(sa.insert(m).values(contact_id=dst, segment_id=2, entered_at=now))
        conn.execute(
            sa.insert(schema.enrollments).values(
                contact_id=src,
                journey_id=1,
                version=1,
                status="active",
                state={},
                entered_at=now,
                updated_at=now,
            )
        )
        conn.execute(sa.insert(schema.timers).values(contact_id=src, kind="wait", due_at=now, payload={}))
        conn.execute(
            sa.insert(schema.tasks).values(contact_id=src, title="call", status="open", created_at=now)
        )
        merge_contacts(joined(conn), src, dst, now)
        for t in per_contact_tables():
            left = conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.contact_id == src)
            ).scalar()
            assert left == 0, t.name
        tags = sorted(
            conn.execute(
                sa.select(schema.contact_tags.c.tag).where(schema.contact_tags.c.contact_id == dst)
            ).scalars()
        )
        assert tags == ["only-src", "t"]
        segs = sorted(conn.execute(sa.select(m.c.segment_id).where(m.c.contact_id == dst)).scalars())
        assert segs == [1, 2]
        for t in (schema.enrollments, schema.timers, schema.tasks):
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.contact_id == dst)).scalar()
                == 1
            )
        names = (
            conn.execute(sa.select(schema.events.c.name).where(schema.events.c.contact_id == dst))
            .scalars()
            .all()
        )
        assert "contact.merged" in names
        queued = conn.execute(sa.select(schema.contact_queue.c.contact_id)).scalars().all()
        assert queued == [dst]


def test_newer_consent_wins_on_merge(engine: sa.Engine, clock: Any) -> None:
    from datetime import timedelta

    now = clock.now()
    with engine.begin() as conn:
        src = resolve_contact(joined(conn), anonymous_id="anon-2", now=now)
        dst = resolve_contact(joined(conn), email="c@example.com", now=now)
        k = schema.consents
        conn.execute(
            sa.insert(k),
            [
                {
                    "contact_id": dst,
                    "channel": "email",
                    "status": "granted",
                    "recorded_at": now,
                    "proof": {},
                    "topics": {},
                },
                {
                    "contact_id": src,
                    "channel": "email",
                    "status": "unsubscribed",
                    "recorded_at": now + timedelta(days=1),
                    "proof": {},
                    "topics": {},
                },
                {
                    "contact_id": dst,
                    "channel": "sms",
                    "status": "granted",
                    "recorded_at": now + timedelta(days=2),
                    "proof": {},
                    "topics": {},
                },
                {
                    "contact_id": src,
                    "channel": "sms",
                    "status": "denied",
                    "recorded_at": now,
                    "proof": {},
                    "topics": {},
                },
            ],
        )
        merge_contacts(joined(conn), src, dst, now)
        got = dict(conn.execute(sa.select(k.c.channel, k.c.status).where(k.c.contact_id == dst)).all())
    assert got == {"email": "unsubscribed", "sms": "granted"}


def test_demo_is_idempotent(container: Any, engine: sa.Engine) -> None:
    from tidings.cli.demo import CONTACTS, load_demo
    from tidings.domain.demo.history import SIZE

    load_demo(container)
    with engine.connect() as conn:
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (schema.contacts, schema.events, schema.contact_tags, schema.consents)
        ]
    load_demo(container)
    with engine.connect() as conn:
        again = [
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in (schema.contacts, schema.events, schema.contact_tags, schema.consents)
        ]
    assert counts == again
    assert counts[0] == len(CONTACTS) + SIZE and counts[1] > len(CONTACTS)  # the showcase + the history
