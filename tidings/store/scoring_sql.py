"""The scoring repository on SQLAlchemy Core (``application/ports/scoring.py``), one connection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.scoring.funnel import StageMove
from tidings.domain.scoring.model import THRESHOLD_EVENT, Decay
from tidings.domain.scoring.records import DecayRow, HistoryRow, NewEvent, ScoreRow, StoredModel
from tidings.domain.snapshot import ContactSnapshot
from tidings.store import schema
from tidings.store.bulk_snapshots import load_snapshots
from tidings.store.ingest_sql import enqueue, insert_events
from tidings.store.types import UTCDateTime

M = schema.scoring_models
MV = schema.scoring_model_versions
S = schema.contact_scores
H = schema.score_history
C = schema.contacts
SM = schema.stage_moves
_SCORE_COLUMNS = ("score", "profile", "stage", "state", "behaviour", "behaviour_at", "updated_at")


def _model(r: Any) -> StoredModel:
    return StoredModel(int(r.id), r.key, r.name, int(r.version), r.document, bool(r.active), r.updated_at)


def _score(r: Any) -> ScoreRow:
    return ScoreRow(
        int(r.contact_id),
        int(r.model_id),
        float(r.score),
        float(r.profile),
        r.stage,
        dict(r.state),
        r.updated_at,
        float(r.behaviour),
        r.behaviour_at,
    )


def _sqlite_math(conn: sa.Connection) -> None:
    """SQLite builds without the math functions get ``power`` and ``floor`` from Python."""
    if conn.dialect.name != "sqlite":
        return
    try:
        conn.exec_driver_sql("SELECT power(0.5, 1), floor(1.5)")
    except sa.exc.OperationalError:
        raw = conn.connection.driver_connection
        raw.create_function("power", 2, math.pow, deterministic=True)  # type: ignore[union-attr]
        raw.create_function("floor", 1, math.floor, deterministic=True)  # type: ignore[union-attr]


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
        """One upsert for the batch (``INSERT … ON CONFLICT (contact_id, model_id) DO UPDATE``)."""
        if not rows:
            return
        values = [
            {
                "contact_id": r.contact_id,
                "model_id": r.model_id,
                "score": r.score,
                "profile": r.profile,
                "stage": r.stage,
                "state": dict(r.state),
                "behaviour": r.behaviour,
                "behaviour_at": r.behaviour_at,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
        insert = (postgresql if self.conn.dialect.name == "postgresql" else sqlite).insert(S)
        stmt = insert.on_conflict_do_update(
            index_elements=[S.c.contact_id, S.c.model_id],
            set_={k: insert.excluded[k] for k in _SCORE_COLUMNS},
        )
        self.conn.execute(stmt, values)

    def decay_page(self, model_id: int, after_contact_id: int, limit: int) -> list[DecayRow]:
        cols = (S.c.contact_id, S.c.score, S.c.profile, S.c.stage, S.c.behaviour, S.c.behaviour_at)
        q = (
            sa.select(*cols)
            .where(S.c.model_id == model_id, S.c.contact_id > after_contact_id)
            .order_by(S.c.contact_id)
            .limit(limit)
        )
        return [DecayRow(int(r[0]), float(r[1]), float(r[2]), r[3], float(r[4]), r[5]) for r in self.conn.execute(q)]

    def set_decayed(self, model_id: int, rows: Sequence[tuple[int, float, str | None]], now: datetime) -> None:
        if rows:
            self.conn.execute(
                sa.update(S)
                .where(S.c.model_id == model_id, S.c.contact_id == sa.bindparam("c"))
                .values(score=sa.bindparam("s"), stage=sa.bindparam("st"), updated_at=now),
                [{"c": c, "s": s, "st": st} for c, s, st in rows],
            )

    def _elapsed_s(self, now: datetime) -> Any:
        """Seconds from ``behaviour_at`` to ``now``, in SQL."""
        if self.conn.dialect.name == "postgresql":
            return sa.extract("epoch", sa.literal(now, UTCDateTime) - S.c.behaviour_at)
        naive = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        return (sa.func.julianday(naive) - sa.func.julianday(S.c.behaviour_at)) * 86400.0

    def decay_scores(self, model_id: int, decay: Decay, now: datetime, step: float) -> int:
        _sqlite_math(self.conn)
        elapsed = self._elapsed_s(now)
        if decay.kind == "half_life" and decay.half_life is not None:
            hl = decay.half_life.total_seconds()
            factor = sa.case((elapsed <= 0, 1.0), else_=sa.func.power(0.5, elapsed / hl))
            behaviour: Any = S.c.behaviour * factor
        elif decay.per is not None:
            periods = sa.func.floor((elapsed - decay.after.total_seconds()) / decay.per.total_seconds())
            loss = sa.case((periods > 0, periods * decay.points), else_=0.0)
            greatest = sa.func.greatest if self.conn.dialect.name == "postgresql" else sa.func.max
            behaviour = sa.case((S.c.behaviour <= 0, S.c.behaviour), else_=greatest(0.0, S.c.behaviour - loss))
        else:
            return 0
        new = sa.func.round(sa.cast(S.c.profile + behaviour, sa.Numeric(20, 6)), 2)
        if self.conn.dialect.name == "sqlite":
            new = sa.func.round(S.c.profile + behaviour, 2)
        res = self.conn.execute(
            sa.update(S)
            .where(S.c.model_id == model_id, S.c.behaviour_at.is_not(None), sa.func.abs(new - S.c.score) >= step)
            .values(score=new, updated_at=now)
        )
        return int(res.rowcount or 0)

    def stage_misfits(
        self, model_id: int, bands: Sequence[tuple[str | None, float | None, float | None]], after: int, limit: int
    ) -> list[DecayRow]:
        terms = []
        for stage, lo, hi in bands:
            outside = [
                c
                for c in (S.c.score < lo if lo is not None else None, S.c.score >= hi if hi is not None else None)
                if c is not None
            ]
            if outside:
                held = S.c.stage.is_(None) if stage is None else S.c.stage == stage
                terms.append(sa.and_(held, sa.or_(*outside)))
        if not terms:
            return []
        cols = (S.c.contact_id, S.c.score, S.c.profile, S.c.stage, S.c.behaviour, S.c.behaviour_at)
        q = (
            sa.select(*cols)
            .where(S.c.model_id == model_id, S.c.contact_id > after, sa.or_(*terms))
            .order_by(S.c.contact_id)
            .limit(limit)
        )
        return [DecayRow(int(r[0]), float(r[1]), float(r[2]), r[3], float(r[4]), r[5]) for r in self.conn.execute(q)]

    def copy_to_contacts(self, model_id: int, since: datetime) -> None:
        mine = sa.select(S.c.score).where(S.c.model_id == model_id, S.c.contact_id == C.c.id).scalar_subquery()
        changed = sa.select(S.c.contact_id).where(S.c.model_id == model_id, S.c.updated_at >= since)
        self.conn.execute(sa.update(C).where(C.c.id.in_(changed)).values(score=mine))

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

    # ----------------------------------------------------------------- the stage funnel over time

    def add_stage_moves(self, model_id: int, moves: Sequence[StageMove]) -> None:
        if not moves:
            return
        rows = [
            {
                "model_id": model_id,
                "day": m.day.isoformat(),
                "from_stage": m.from_stage or "",
                "to_stage": m.to_stage,
                "direction": m.direction,
                "moved": m.moved,
            }
            for m in moves
        ]
        ins = (postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert)(SM)
        stmt = ins.on_conflict_do_update(
            index_elements=["model_id", "day", "from_stage", "to_stage", "direction"],
            set_={"moved": SM.c.moved + ins.excluded.moved},
        )
        self.conn.execute(stmt, rows)

    def stage_moves(self, model_id: int, since: date, until: date) -> list[StageMove]:
        q = (
            sa.select(SM.c.day, SM.c.from_stage, SM.c.to_stage, SM.c.direction, SM.c.moved)
            .where(SM.c.model_id == model_id, SM.c.day >= since.isoformat(), SM.c.day <= until.isoformat())
            .order_by(SM.c.day, SM.c.from_stage, SM.c.to_stage, SM.c.direction)
        )
        return [
            StageMove(date.fromisoformat(r.day), r.from_stage or None, r.to_stage, r.direction, int(r.moved))
            for r in self.conn.execute(q)
        ]

    def reset_stage_moves(self, model_id: int) -> None:
        self.conn.execute(sa.delete(SM).where(SM.c.model_id == model_id))

    def threshold_events(self, after_id: int, limit: int) -> list[tuple[int, datetime, dict[str, Any]]]:
        e = schema.events
        q = (
            sa.select(e.c.id, e.c.occurred_at, e.c.properties)
            .where(e.c.name == THRESHOLD_EVENT, e.c.id > after_id)
            .order_by(e.c.id)
            .limit(limit)
        )
        return [(int(r.id), r.occurred_at, dict(r.properties or {})) for r in self.conn.execute(q)]

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
