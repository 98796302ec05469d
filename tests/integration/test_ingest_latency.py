"""The small-request ingest path: group commit, bulk email/phone resolution, the key cache."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tidings.application.access.keys import KeyVerifier, create_key, revoke_key
from tidings.application.ingest.ingest import Incoming, IngestError, ingest
from tidings.store import schema
from tidings.store.ingest_sql import IngestWriter
from tidings.store.sql_uow import SqlUnitOfWork

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def event(message_id: str, **who: Any) -> Incoming:
    return Incoming(kind="track", message_id=message_id, occurred_at=NOW, name="purchase", **who)


def count(engine: sa.Engine, table: sa.Table, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def test_queued_requests_share_one_commit_and_fail_alone(engine: sa.Engine) -> None:
    writer = IngestWriter(engine)
    requests = {
        "a": [event("a1", email="a@example.test"), event("a2", email="a@example.test")],
        "bad": [event("b1", email="b@example.test"), event("b2", contact_id=999_999)],
        "c": [event("c1", phone="+14155550100")],
    }
    results: dict[str, Any] = {}

    def post(name: str) -> None:
        try:
            results[name] = writer.run(lambda conn: ingest(SqlUnitOfWork.joining(conn), requests[name], NOW, "api"))
        except Exception as exc:
            results[name] = exc

    if writer.sqlite:
        writer.lock.acquire()  # a running transaction: the three requests queue behind it
    threads = [threading.Thread(target=post, args=(n,)) for n in requests]
    for t in threads:
        t.start()
    if writer.sqlite:
        deadline = time.monotonic() + 10
        while len(writer._pending) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer._pending) == 3
        writer.lock.release()
    for t in threads:
        t.join(10)
    writer.close()

    assert results["a"].accepted == 2 and results["c"].accepted == 1
    assert isinstance(results["bad"], IngestError) and results["bad"].field == "contact_id"
    e, c = schema.events, schema.contacts
    # the failed request left nothing behind (its savepoint was rolled back), the others are committed
    assert count(engine, e, e.c.message_id.in_(["a1", "a2", "c1"])) == 3
    assert count(engine, e, e.c.message_id.in_(["b1", "b2"])) == 0
    assert count(engine, c, c.c.email == "b@example.test") == 0
    assert count(engine, c, c.c.email == "a@example.test") == 1
    assert count(engine, c, c.c.phone == "+14155550100") == 1


def test_email_and_phone_events_resolve_in_bulk_like_resolve_contact(engine: sa.Engine) -> None:
    e, c = schema.events, schema.contacts
    with engine.begin() as conn:
        known = conn.execute(
            sa.insert(c)
            .values(email="known@example.test", attributes={}, anonymous=False, created_at=NOW, updated_at=NOW)
            .returning(c.c.id)
        ).scalar_one()
    items = [
        event("m1", email="new@example.test"),
        event("m2", email="known@example.test"),
        event("m3", email="new@example.test"),
        event("m4", phone="+14155550101"),
    ]
    with engine.begin() as conn:
        result = ingest(SqlUnitOfWork.joining(conn), items, NOW, "api")
    assert result.accepted == 4
    with engine.connect() as conn:
        owner = dict(conn.execute(sa.select(e.c.message_id, e.c.contact_id).where(e.c.name == "purchase")).all())
        created = conn.execute(
            sa.select(e.c.contact_id, e.c.properties).where(e.c.name == "contact.updated").order_by(e.c.id)
        ).all()
        new_id = conn.execute(sa.select(c.c.id).where(c.c.email == "new@example.test")).scalar_one()
        phone_id = conn.execute(sa.select(c.c.id, c.c.anonymous).where(c.c.phone == "+14155550101")).one()
    assert owner["m2"] == known and owner["m1"] == owner["m3"] == new_id and owner["m4"] == phone_id.id
    assert not phone_id.anonymous
    assert {cid: props for cid, props in created} == {
        new_id: {"changed": {"email": {"from": None, "to": "new@example.test"}}, "created": True},
        phone_id.id: {"changed": {"phone": {"from": None, "to": "+14155550101"}}, "created": True},
    }
    # the new contacts are queued for the worker with their events
    q = schema.contact_queue
    assert count(engine, q, q.c.contact_id.in_([known, new_id, phone_id.id])) == 3


def test_cached_keys_are_forgotten_when_revoked(engine: sa.Engine) -> None:
    key, secret = create_key(SqlUnitOfWork(engine), "t", ["track"], NOW)
    verifier = KeyVerifier(lambda: SqlUnitOfWork(engine, read_only=True), ttl_seconds=60)
    assert verifier.cached(secret) == (False, None)
    assert verifier.verify(secret) == key
    assert verifier.cached(secret) == (True, key)
    assert revoke_key(SqlUnitOfWork(engine), key.id, NOW)
    assert verifier.cached(secret) == (False, None)
    assert verifier.verify(secret) is None
    assert verifier.cached("tdk_wrong") == (False, None)


def test_the_api_forgets_a_revoked_key_at_once(api: Any, container: Any) -> None:
    key, secret = create_key(container.uow(), "t", ["track"], NOW)
    auth = {"Authorization": f"Bearer {secret}"}
    for _ in range(2):  # looked up, then cached: the scope is checked either way
        assert api.get("/api/contacts", headers=auth).status_code == 403  # a track key never reads
    assert api.post("/v1/track", json={"userId": "u1", "event": "e"}, headers=auth).status_code == 200
    revoke_key(container.uow(), key.id, NOW)
    assert api.post("/v1/track", json={"userId": "u1", "event": "e"}, headers=auth).status_code == 401
