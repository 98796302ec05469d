"""SQL of the campaigns capability: the ``CampaignRepository`` port (application/ports/campaigns.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.store import schema

C, R, OUT = schema.campaigns, schema.campaign_recipients, schema.outbox
M, S, F = schema.segment_memberships, schema.segments, schema.analytics_firsts
CHUNK = 500


def _chunks(seq: Sequence[Any], n: int = CHUNK) -> list[Sequence[Any]]:
    return [seq[i : i + n] for i in range(0, len(seq), n)]


class SqlCampaigns:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, values: Mapping[str, Any]) -> int:
        return int(self.conn.execute(sa.insert(C).values(**values).returning(C.c.id)).scalar_one())

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(C).where(C.c.key == key)).mappings().first()
        return dict(row) if row is not None else None

    def update(self, campaign_id: int, values: Mapping[str, Any]) -> None:
        self.conn.execute(sa.update(C).where(C.c.id == campaign_id).values(**values))

    def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        q = sa.select(C).order_by(C.c.id.desc()).limit(limit)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def due(self, now: datetime) -> list[dict[str, Any]]:
        q = (
            sa.select(C)
            .where(sa.or_(sa.and_(C.c.status == "scheduled", C.c.start_at <= now), C.c.status == "sending"))
            .order_by(C.c.id)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def _members(self, segment: str) -> sa.Select[Any]:
        return (
            sa.select(M.c.contact_id)
            .join(S, S.c.id == M.c.segment_id)
            .where(S.c.key == segment, M.c.exited_at.is_(None))
        )

    def audience(self, segment: str) -> list[tuple[int, str | None]]:
        ct = schema.contacts
        q = (
            sa.select(ct.c.id, ct.c.timezone)
            .where(ct.c.id.in_(self._members(segment).scalar_subquery()))
            .order_by(ct.c.id)
        )
        return [(int(i), tz) for i, tz in self.conn.execute(q)]

    def audience_count(self, segment: str) -> int:
        q = sa.select(sa.func.count()).select_from(self._members(segment).subquery())
        return int(self.conn.execute(q).scalar_one())

    def segment_exists(self, segment: str) -> bool:
        return self.conn.execute(sa.select(S.c.id).where(S.c.key == segment)).first() is not None

    def freeze(self, campaign_id: int, recipients: Sequence[Mapping[str, Any]]) -> None:
        rows = [
            {"campaign_id": campaign_id, "contact_id": r["contact_id"], "variant": r.get("variant"),
             "send_at": r.get("send_at"), "outbox_id": None}
            for r in recipients
        ]
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(R).on_conflict_do_nothing(index_elements=["campaign_id", "contact_id"])
        for part in _chunks(rows):
            self.conn.execute(stmt, list(part))

    def recipients(self, campaign_id: int, *, waiting: bool = False) -> list[dict[str, Any]]:
        q = sa.select(R.c.contact_id, R.c.variant, R.c.send_at, R.c.outbox_id).where(R.c.campaign_id == campaign_id)
        if waiting:
            q = q.where(R.c.variant.is_(None))
        return [dict(r) for r in self.conn.execute(q.order_by(R.c.contact_id)).mappings()]

    def unqueued(self, campaign_id: int, now: datetime, limit: int) -> list[dict[str, Any]]:
        q = (
            sa.select(R.c.contact_id, R.c.variant, R.c.send_at, R.c.outbox_id)
            .where(R.c.campaign_id == campaign_id, R.c.outbox_id.is_(None), R.c.variant.is_not(None))
            .order_by(R.c.send_at, R.c.contact_id)
            .limit(limit)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def assign(self, campaign_id: int, slots: Sequence[tuple[int, str, datetime]]) -> None:
        stmt = (
            sa.update(R)
            .where(R.c.campaign_id == sa.bindparam("cid"), R.c.contact_id == sa.bindparam("contact"))
            .values(variant=sa.bindparam("v"), send_at=sa.bindparam("at"))
        )
        params = [{"cid": campaign_id, "contact": c, "v": v, "at": at} for c, v, at in slots]
        for part in _chunks(params):
            self.conn.execute(stmt, list(part))

    def outbox_ids(self, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in _chunks(list(keys)):
            q = sa.select(OUT.c.idempotency_key, OUT.c.id).where(OUT.c.idempotency_key.in_(list(part)))
            out.update({str(k): int(i) for k, i in self.conn.execute(q)})
        return out

    def mark_queued(self, campaign_id: int, queued: Sequence[tuple[int, int]]) -> None:
        stmt = (
            sa.update(R)
            .where(R.c.campaign_id == sa.bindparam("cid"), R.c.contact_id == sa.bindparam("contact"))
            .values(outbox_id=sa.bindparam("oid"))
        )
        params = [{"cid": campaign_id, "contact": c, "oid": o} for c, o in queued]
        for part in _chunks(params):
            self.conn.execute(stmt, list(part))

    def latest_slots(self, campaign_id: int, limit: int) -> list[datetime]:
        q = (
            sa.select(R.c.send_at)
            .where(R.c.campaign_id == campaign_id, R.c.send_at.is_not(None))
            .order_by(R.c.send_at.desc())
            .limit(limit)
        )
        return sorted(self.conn.execute(q).scalars())

    def progress(self, campaign_id: int) -> dict[str, int]:
        q = (
            sa.select(OUT.c.status, sa.func.count())
            .select_from(R.outerjoin(OUT, OUT.c.id == R.c.outbox_id))
            .where(R.c.campaign_id == campaign_id)
            .group_by(OUT.c.status)
        )
        out: dict[str, int] = {"audience": 0, "waiting": 0}
        for status, n in self.conn.execute(q):
            key = str(status) if status is not None else "waiting"
            out["audience"] += int(n)
            out[key] = out.get(key, 0) + int(n)
        return out

    def variant_counts(self, campaign_id: int, first_kind: str) -> dict[str, tuple[int, int]]:
        q = (
            sa.select(R.c.variant, sa.func.count(), sa.func.count(F.c.message_id))
            .select_from(
                R.join(OUT, OUT.c.id == R.c.outbox_id).outerjoin(
                    F, sa.and_(F.c.message_id == R.c.outbox_id, F.c.kind == first_kind)
                )
            )
            .where(R.c.campaign_id == campaign_id, OUT.c.status.in_(("sent", "delivered")))
            .group_by(R.c.variant)
        )
        return {str(v): (int(n), int(k)) for v, n, k in self.conn.execute(q)}

    def recent_sends(self, contact_ids: Sequence[int], since: datetime) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for part in _chunks(list(contact_ids)):
            q = sa.select(OUT.c.contact_id, OUT.c.channel, OUT.c.category, OUT.c.next_attempt_at, OUT.c.sent_at).where(
                OUT.c.contact_id.in_(list(part)),
                OUT.c.kind == "message",
                OUT.c.status.in_(("pending", "sending", "sent", "delivered")),
                OUT.c.created_at >= since,
            )
            for r in self.conn.execute(q).mappings():
                out.append({"contact_id": r["contact_id"], "channel": r["channel"], "category": r["category"],
                            "at": r["sent_at"] or r["next_attempt_at"]})
        return out

    def skip_pending(self, campaign_id: int, reason: str) -> int:
        ids = sa.select(R.c.outbox_id).where(R.c.campaign_id == campaign_id, R.c.outbox_id.is_not(None))
        res = self.conn.execute(
            sa.update(OUT)
            .where(OUT.c.id.in_(ids.scalar_subquery()), OUT.c.status == "pending")
            .values(status="skipped", error=reason)
        )
        return int(res.rowcount or 0)


def pending_campaign_work(conn: sa.Connection, now: datetime) -> int:
    """Campaigns the sender has work on now (the test clock's settle waits for them)."""
    unqueued = sa.exists().where(R.c.campaign_id == C.c.id, R.c.outbox_id.is_(None), R.c.variant.is_not(None))
    waiting = sa.exists().where(R.c.campaign_id == C.c.id, R.c.variant.is_(None))
    q = sa.select(sa.func.count()).where(
        sa.or_(
            sa.and_(C.c.status == "scheduled", C.c.start_at <= now),
            sa.and_(
                C.c.status == "sending",
                sa.or_(
                    unqueued,
                    sa.and_(waiting, C.c.winner.is_(None), C.c.winner_due_at <= now),
                    sa.not_(waiting),
                ),
            ),
        )
    )
    return int(conn.execute(q).scalar_one())
