"""SQL of the ad audiences: a segment's members for export (the ``AudienceMembers`` port) and
the hashes last synced to a destination (the ``SyncedAudience`` port)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from tidings.domain.audiences.eligibility import Member
from tidings.store import schema
from tidings.store.schema_audiences import audience_synced

S = audience_synced


class SqlAudienceMembers:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def segment_id(self, key: str) -> int | None:
        s = schema.segments
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(s.c.id).where(s.c.key == key)).scalar_one_or_none()
        return int(found) if found is not None else None

    def members(self, segment_id: int, after: int, limit: int) -> list[Member]:
        m, c, k, sup = schema.segment_memberships, schema.contacts, schema.consents, schema.suppressions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.c.id, c.c.email, c.c.phone)
                .join(m, m.c.contact_id == c.c.id)
                .where(m.c.segment_id == segment_id, m.c.exited_at.is_(None), c.c.id > after)
                .order_by(c.c.id)
                .limit(limit)
            ).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            consents: dict[int, dict[str, str]] = defaultdict(dict)
            for r in conn.execute(sa.select(k.c.contact_id, k.c.channel, k.c.status).where(k.c.contact_id.in_(ids))):
                consents[r.contact_id][r.channel] = r.status
            emails = [r.email for r in rows if r.email]
            suppressed = set()
            if emails:
                suppressed = set(conn.execute(
                    sa.select(sup.c.address).where(sup.c.channel == "email", sup.c.address.in_(emails))
                ).scalars())
        return [Member(r.id, r.email, r.phone, consents.get(r.id, {}), r.email in suppressed) for r in rows]


class SqlSyncedAudience:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def hashes(self, destination: str, segment_key: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(
                sa.select(S.c.hash).where(S.c.destination == destination, S.c.segment_key == segment_key)
            ).scalars())

    def record(self, destination: str, segment_key: str, added: Iterable[str], removed: Iterable[str],
               now: datetime) -> None:
        add = sorted(set(added))
        gone = sorted(set(removed))
        with self.engine.begin() as conn:
            if gone:
                conn.execute(sa.delete(S).where(S.c.destination == destination, S.c.segment_key == segment_key,
                                                S.c.hash.in_(gone)))
            if add:
                conn.execute(sa.delete(S).where(S.c.destination == destination, S.c.segment_key == segment_key,
                                                S.c.hash.in_(add)))
                conn.execute(sa.insert(S), [{"destination": destination, "segment_key": segment_key, "hash": h,
                                             "sent_at": now} for h in add])
