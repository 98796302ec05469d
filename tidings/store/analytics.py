"""SQL for the analytics capability (``application/ports/analytics.AnalyticsRepository``).

Rollup rows are upserted (``INSERT ... ON CONFLICT DO UPDATE SET m = m + excluded.m``) in one
statement per batch on SQLite and PostgreSQL; reports read only ``analytics_daily``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.analytics.metrics import DIMENSIONS, METRICS
from tidings.domain.event_names import canonical_event_name
from tidings.store import analytics_groups as groups
from tidings.store import schema

D, F, E = schema.analytics_daily, schema.analytics_firsts, schema.analytics_edges
_CHUNK = 500


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _chunks(ids: Sequence[Any]) -> list[Sequence[Any]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


class SqlAnalytics:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # ----------------------------------------------------------------- feeding

    def messages(self, ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
        o = schema.outbox
        out: dict[int, Mapping[str, Any]] = {}
        for part in _chunks(list(ids)):
            q = sa.select(
                o.c.id, o.c.journey_id, o.c.journey_version, o.c.step_id, o.c.template, o.c.channel, o.c.payload
            ).where(o.c.id.in_(part))
            for r in self.conn.execute(q).mappings():
                row = dict(r)
                row["campaign"] = (row.pop("payload") or {}).get("campaign")
                out[int(r["id"])] = row
        return out

    def journey_ids(self, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        j = schema.journeys
        return {str(k): int(i) for k, i in self.conn.execute(sa.select(j.c.key, j.c.id).where(j.c.key.in_(keys)))}

    def enrollment_versions(self, ids: Sequence[int]) -> dict[int, int]:
        e = schema.enrollments
        out: dict[int, int] = {}
        for part in _chunks(list(ids)):
            out.update(
                {int(i): int(v) for i, v in self.conn.execute(sa.select(e.c.id, e.c.version).where(e.c.id.in_(part)))}
            )
        return out

    def claim_firsts(self, pairs: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
        """Record these (message, kind) pairs; returns those not recorded before."""
        if not pairs:
            return set()
        seen: set[tuple[int, str]] = set()
        for part in _chunks(sorted({m for m, _ in pairs})):
            seen.update(
                (int(m), str(k))
                for m, k in self.conn.execute(sa.select(F.c.message_id, F.c.kind).where(F.c.message_id.in_(part)))
            )
        new = sorted(set(pairs) - seen)
        if new:
            self.conn.execute(
                _insert(self.conn, F).on_conflict_do_nothing(), [{"message_id": m, "kind": k} for m, k in new]
            )
        return set(new)

    def add_rollups(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        params = [{**{m: 0 for m in METRICS}, **dict(r)} for r in rows]
        ins = _insert(self.conn, D)
        stmt = ins.on_conflict_do_update(
            index_elements=list(DIMENSIONS), set_={m: D.c[m] + ins.excluded[m] for m in METRICS}
        )
        self.conn.execute(stmt, params)

    def add_edges(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Step-to-step moves: ``day, journey_id, journey_version, src, dst, moved`` (added up)."""
        if not rows:
            return
        ins = _insert(self.conn, E)
        stmt = ins.on_conflict_do_update(
            index_elements=["day", "journey_id", "journey_version", "src", "dst"],
            set_={"moved": E.c.moved + ins.excluded.moved},
        )
        self.conn.execute(stmt, [dict(r) for r in rows])

    def add_entrants(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """First entries with their control group (``store/analytics_groups.add_entrants``)."""
        return groups.add_entrants(self.conn, rows)

    def add_members(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Passes through split steps by chance (``experiment_members``)."""
        groups.add_members(self.conn, rows)

    def credit_conversions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """``journey.converted`` events onto their entrants' group rollups."""
        return groups.credit_conversions(self.conn, rows)

    # ----------------------------------------------------------------- backfill

    def reset(self) -> None:
        self.conn.execute(sa.delete(D))
        self.conn.execute(sa.delete(F))
        groups.reset(self.conn)

    def rebuild_entrants(self, after_id: int, limit: int) -> tuple[int, int]:
        return groups.rebuild_entrants(self.conn, after_id, limit)

    def rebuild_members(self, after_id: int, limit: int) -> tuple[int, int]:
        return groups.rebuild_members(self.conn, after_id, limit)

    def count_processed_events(self, names: Sequence[str]) -> int:
        e = schema.events
        q = sa.select(sa.func.count()).where(e.c.name.in_(list(names)), e.c.processed_at.is_not(None))
        return int(self.conn.execute(q).scalar_one())

    def processed_events(self, names: Sequence[str], after_id: int, limit: int) -> list[dict[str, Any]]:
        e = schema.events
        q = (
            sa.select(e.c.id, e.c.contact_id, e.c.name, e.c.occurred_at, e.c.properties, e.c.value)
            .where(e.c.id > after_id, e.c.name.in_(list(names)), e.c.processed_at.is_not(None))
            .order_by(e.c.id)
            .limit(limit)
        )
        return [dict(r) for r in self.conn.execute(q).mappings()]

    # ----------------------------------------------------------------- reads

    def journey(self, key: str) -> Mapping[str, Any] | None:
        """id, key, name and the current version's ``settings.control_group`` (percent, 0 when none)."""
        j, v = schema.journeys, schema.journey_versions
        row = (
            self.conn.execute(
                sa.select(j.c.id, j.c.key, j.c.name, v.c.document)
                .select_from(j.outerjoin(v, (v.c.journey_id == j.c.id) & (v.c.version == j.c.current_version)))
                .where(j.c.key == key)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        settings = (row["document"] or {}).get("settings") or {}
        return {
            "id": row["id"],
            "key": row["key"],
            "name": row["name"],
            "control_group": float(settings.get("control_group") or 0),
        }

    def entrants(self, journey_id: int, start: date | None, end: date | None) -> list[int]:
        """Distinct contacts who entered the journey in the range (days inclusive)."""
        e = schema.enrollments
        q = sa.select(e.c.contact_id).where(e.c.journey_id == journey_id).distinct()
        if start is not None:
            q = q.where(e.c.entered_at >= datetime.combine(start, time(), UTC))
        if end is not None:
            q = q.where(e.c.entered_at < datetime.combine(end + timedelta(days=1), time(), UTC))
        return [int(r[0]) for r in self.conn.execute(q)]

    def group_sums(self, journey_id: int, start: date | None, end: date | None) -> dict[bool, dict[str, float]]:
        """The control-group rollups of a journey in the range (days inclusive), per group."""
        return groups.group_sums(self.conn, journey_id, start, end)

    def sums(
        self, where: Mapping[str, Any], start: date | None, end: date | None, group_by: Sequence[str]
    ) -> list[dict[str, Any]]:
        cols = [D.c[g] for g in group_by]
        q = sa.select(*cols, *(sa.func.coalesce(sa.func.sum(D.c[m]), 0).label(m) for m in METRICS))
        q = q.where(*(D.c[k] == v for k, v in where.items()))
        if start is not None:
            q = q.where(D.c.day >= start.isoformat())
        if end is not None:
            q = q.where(D.c.day <= end.isoformat())
        if cols:
            q = q.group_by(*cols).order_by(*cols)
        return [
            {**{g: r[g] for g in group_by}, **{m: float(r[m]) if m == "revenue" else int(r[m]) for m in METRICS}}
            for r in self.conn.execute(q).mappings()
        ]

    def edge_sums(
        self, journey_id: int, start: date | None, end: date | None, version: int | None = None
    ) -> list[dict[str, Any]]:
        """Moves per (src, dst) of a journey in the range (days inclusive), of one version if given."""
        q = sa.select(E.c.src, E.c.dst, sa.func.sum(E.c.moved).label("moved")).where(E.c.journey_id == journey_id)
        if version is not None:
            q = q.where(E.c.journey_version == version)
        if start is not None:
            q = q.where(E.c.day >= start.isoformat())
        if end is not None:
            q = q.where(E.c.day <= end.isoformat())
        q = q.group_by(E.c.src, E.c.dst).order_by(E.c.src, E.c.dst)
        return [{"src": r.src, "dst": r.dst, "moved": int(r.moved)} for r in self.conn.execute(q)]

    def goal_events(self, name: str, start: date | None, end: date | None) -> list[dict[str, Any]]:
        """Events named ``name`` in the range (days inclusive): contact, time, properties, value."""
        e = schema.events
        name = canonical_event_name(name)  # the one vocabulary: spec names are stored dotted
        q = sa.select(e.c.contact_id, e.c.occurred_at, e.c.properties, e.c.value).where(e.c.name == name)
        if start is not None:
            q = q.where(e.c.occurred_at >= datetime.combine(start, time(), UTC))
        if end is not None:
            q = q.where(e.c.occurred_at < datetime.combine(end + timedelta(days=1), time(), UTC))
        rows = self.conn.execute(q.order_by(e.c.id)).mappings()
        return [{**dict(r), "properties": r["properties"] or {}} for r in rows]

    def has_event(self, name: str) -> bool:
        e = schema.events
        name = canonical_event_name(name)
        return self.conn.execute(sa.select(e.c.id).where(e.c.name == name).limit(1)).first() is not None

    def conversions(self, where: Mapping[str, Any], start: date | None, end: date | None) -> list[dict[str, Any]]:
        """``journey.converted`` events in the range (days inclusive), of ``where['journey']`` if given."""
        key = where.get("journey")
        out = []
        for r in self.goal_events("journey.converted", start, end):
            if key is None or r["properties"].get("journey") == key:
                out.append(r)
        return out

    def human_clicks(self, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Human clicks of these contacts, with the clicked message's journey, step and template."""
        e, o, j = schema.events, schema.outbox, schema.journeys
        out: list[dict[str, Any]] = []
        for part in _chunks(sorted(set(contact_ids))):
            q = sa.select(e.c.contact_id, e.c.occurred_at, e.c.properties).where(
                e.c.name == "message.clicked", e.c.contact_id.in_(part)
            )
            out.extend(dict(r) for r in self.conn.execute(q).mappings() if not (r["properties"] or {}).get("machine"))
        mids = sorted(
            {int(c["properties"]["message_id"]) for c in out if c["properties"].get("message_id") is not None}
        )
        dims: dict[int, dict[str, Any]] = {}
        for part in _chunks(mids):
            q2 = (
                sa.select(o.c.id, o.c.template, o.c.step_id, o.c.channel, j.c.key)
                .select_from(o.outerjoin(j, j.c.id == o.c.journey_id))
                .where(o.c.id.in_(part))
            )
            dims.update({int(r["id"]): dict(r) for r in self.conn.execute(q2).mappings()})
        for c in out:
            mid = c["properties"].get("message_id")
            d = dims.get(int(mid), {}) if mid is not None else {}
            c.update(message_id=mid, journey=d.get("key"), step=d.get("step_id"), template=d.get("template"))
        return out
