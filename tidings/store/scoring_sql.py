"""The scoring repository on SQLAlchemy Core (``application/ports/scoring.py``), one connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.scoring.records import HistoryRow, NewEvent, ScoreRow, StoredModel
from tidings.domain.snapshot import ContactSnapshot
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots
from tidings.store.ingest_sql import enqueue, insert_events

M = schema.scoring_models
MV = schema.scoring_model_versions
S = schema.contact_scores
H = schema.score_history
C = schema.contacts


def _model(r: Any) -> StoredModel:
    return StoredModel(int(r.id), r.key, r.name, int(r.version), r.document, bool(r.active), r.updated_at)


def _score(r: Any) -> ScoreRow:
    return ScoreRow(
        int(r.contact_id), int(r.model_id), float(r.score), float(r.profile), r.stage, dict(r.state), r.updated_at
    )


class SqlScoring:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # ----------------------------------------------------------------- models

    def models(self, *, active_only: bool = False) -> list[StoredModel]:
        q = sa.select(M).order_by(M.c.key)
        if active_only:
            q = q.where(M.c.active.is_(True))
        return [_model(r) for r in self.conn.execute(q)]

    def model(self, key: str) -> StoredModel | None:
        r = self.conn.execute(sa.select(M).where(M.c.key == key)).first()
        return _model(r) if r is not None else None

    def save_model(self, key: str, name: str, document: str, now: datetime) -> StoredModel:
        old = self.model(key)
        if old is None:
            mid = self.conn.execute(
                sa.insert(M)
                .values(key=key, name=name, version=1, document=document, active=True, created_at=now, updated_at=now)
                .returning(M.c.id)
            ).scalar_one()
            version = 1
        elif old.document == document and old.name == name:
            return old
        else:
            mid, version = old.id, old.version + 1
            self.conn.execute(
                sa.update(M).where(M.c.id == mid).values(name=name, version=version, document=document, updated_at=now)
            )
        self.conn.execute(sa.insert(MV).values(model_id=mid, version=version, document=document, published_at=now))
        saved = self.model(key)
        assert saved is not None
        return saved

    def set_active(self, key: str, active: bool, now: datetime) -> bool:
        res = self.conn.execute(sa.update(M).where(M.c.key == key).values(active=active, updated_at=now))
        return bool(res.rowcount)

    def model_versions(self, model_id: int) -> list[tuple[int, datetime]]:
        q = sa.select(MV.c.version, MV.c.published_at).where(MV.c.model_id == model_id).order_by(MV.c.version)
        return [(int(r.version), r.published_at) for r in self.conn.execute(q)]

    # ----------------------------------------------------------------- scores

    def scores(self, model_id: int, contact_ids: Sequence[int]) -> dict[int, ScoreRow]:
        ids = sorted(set(contact_ids))
        out: dict[int, ScoreRow] = {}
        for i in range(0, len(ids), 900):
            q = sa.select(S).where(S.c.model_id == model_id, S.c.contact_id.in_(ids[i : i + 900]))
            out.update({int(r.contact_id): _score(r) for r in self.conn.execute(q)})
        return out

    def contact_scores(self, contact_id: int) -> list[ScoreRow]:
        q = sa.select(S).where(S.c.contact_id == contact_id).order_by(S.c.model_id)
        return [_score(r) for r in self.conn.execute(q)]

    def save_scores(self, rows: Sequence[ScoreRow]) -> None:
        if not rows:
            return
        keys = [(r.contact_id, r.model_id) for r in rows]
        have = set()
        for mid in {k[1] for k in keys}:
            ids = [c for c, m in keys if m == mid]
            for i in range(0, len(ids), 900):
                q = sa.select(S.c.contact_id).where(S.c.model_id == mid, S.c.contact_id.in_(ids[i : i + 900]))
                have |= {(int(c), mid) for c in self.conn.execute(q).scalars()}
        values = [
            {
                "contact_id": r.contact_id,
                "model_id": r.model_id,
                "score": r.score,
                "profile": r.profile,
                "stage": r.stage,
                "state": dict(r.state),
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
        new = [v for v in values if (v["contact_id"], v["model_id"]) not in have]
        old = [{f"v_{k}": x for k, x in v.items()} for v in values if (v["contact_id"], v["model_id"]) in have]
        if new:
            self.conn.execute(sa.insert(S), new)
        if old:
            self.conn.execute(
                sa.update(S)
                .where(S.c.contact_id == sa.bindparam("v_contact_id"), S.c.model_id == sa.bindparam("v_model_id"))
                .values({k: sa.bindparam(f"v_{k}") for k in ("score", "profile", "stage", "state", "updated_at")}),
                old,
            )

    def scores_after(self, model_id: int, after_contact_id: int, limit: int) -> list[ScoreRow]:
        q = (
            sa.select(S)
            .where(S.c.model_id == model_id, S.c.contact_id > after_contact_id)
            .order_by(S.c.contact_id)
            .limit(limit)
        )
        return [_score(r) for r in self.conn.execute(q)]

    def add_history(self, rows: Sequence[HistoryRow]) -> None:
        if rows:
            self.conn.execute(
                sa.insert(H),
                [
                    {
                        "contact_id": r.contact_id,
                        "model_id": r.model_id,
                        "at": r.at,
                        "score": r.score,
                        "delta": r.delta,
                        "stage": r.stage,
                        "reason": dict(r.reason),
                    }
                    for r in rows
                ],
            )

    def history(self, contact_id: int, model_id: int, limit: int) -> list[HistoryRow]:
        q = (
            sa.select(H)
            .where(H.c.contact_id == contact_id, H.c.model_id == model_id)
            .order_by(H.c.at.desc(), H.c.id.desc())
            .limit(limit)
        )
        return [
            HistoryRow(
                int(r.contact_id), int(r.model_id), r.at, float(r.score), float(r.delta), r.stage, dict(r.reason)
            )
            for r in self.conn.execute(q)
        ]

    def stage_counts(self, model_id: int) -> dict[str | None, int]:
        q = sa.select(S.c.stage, sa.func.count()).where(S.c.model_id == model_id).group_by(S.c.stage)
        return {r[0]: int(r[1]) for r in self.conn.execute(q)}

    # ----------------------------------------------------------------- the contact side

    def snapshots(self, contact_ids: Sequence[int]) -> dict[int, ContactSnapshot]:
        return dict(load_snapshots(self.conn, list(contact_ids), events=True))

    def write_contacts(self, rows: Sequence[tuple[int, float, str | None]]) -> None:
        scores = [{"c": cid, "s": score} for cid, score, _ in rows]
        stages = [{"c": cid, "st": stage} for cid, _, stage in rows if stage is not None]
        if scores:
            self.conn.execute(sa.update(C).where(C.c.id == sa.bindparam("c")).values(score=sa.bindparam("s")), scores)
        if stages:
            self.conn.execute(
                sa.update(C).where(C.c.id == sa.bindparam("c")).values(lifecycle_stage=sa.bindparam("st")), stages
            )

    def add_events(self, events: Sequence[NewEvent], now: datetime, *, enqueue_contacts: bool = True) -> None:
        if not events:
            return
        events = list({e.message_id: e for e in events}.values())  # one row per message id
        rows = [
            {
                "contact_id": e.contact_id,
                "name": e.name,
                "properties": dict(e.properties),
                "occurred_at": e.occurred_at,
                "received_at": now,
                "message_id": e.message_id,
                "source": "scoring",
                "value": None,
            }
            for e in events
        ]
        insert_events(self.conn, rows)
        if enqueue_contacts:
            enqueue(self.conn, {e.contact_id for e in events}, now)
