"""SQL for the measurement use cases (experiments, goals, economics): the ports.measurement.AnalyticsStore port.

Reads what the engine and the channels already record: ``split`` traces (exposures), message
and goal events (outcomes), ``journey.converted`` events (attributed revenue), outbox rows
(sends per channel), contacts (leads, stages).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tidings.domain.event_names import canonical_event_name
from tidings.domain.experiments.spec import Exposure, JourneyHead, Outcome
from tidings.store import analytics_groups as groups
from tidings.store import schema as s

#: lifecycle stages that count as "marketing qualified or later" for the mqls KPI.
MQL_STAGES = ("mql", "marketing_qualified", "sql", "sales_qualified", "opportunity", "customer")


class SqlAnalyticsStore:
    """The :class:`~tidings.application.ports.analytics.AnalyticsStore` over one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    @classmethod
    @contextlib.contextmanager
    def writing(cls, engine: sa.Engine) -> Iterator[SqlAnalyticsStore]:
        """The store in a transaction of its own, kept when the block ends without an exception."""
        with engine.begin() as conn:
            yield cls(conn)

    # ------------------------------------------------------------- experiments

    def journey_heads(self) -> list[JourneyHead]:
        j, v = s.journeys, s.journey_versions
        rows = self.conn.execute(
            sa.select(j.c.id, j.c.key, j.c.name, j.c.status, j.c.current_version, v.c.source)
            .select_from(j.outerjoin(v, sa.and_(v.c.journey_id == j.c.id, v.c.version == j.c.current_version)))
            .order_by(j.c.key)
        ).all()
        return [JourneyHead(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def _split_traces(self, journey_id: int, step_id: str) -> sa.Select[Any]:
        t = s.traces
        return sa.select(t.c.contact_id, t.c.detail, t.c.at).where(
            t.c.journey_id == journey_id, t.c.step_id == step_id, t.c.action == "split"
        )

    def exposures(self, journey_id: int, step_id: str) -> list[Exposure]:
        """Contacts through the split by chance, their first pass (``experiment_members``; a
        rollout's passes are not part of the test)."""
        return [Exposure(cid, variant, at) for cid, variant, at in groups.members(self.conn, journey_id, step_id)]

    def outcomes(self, journey_id: int, step_id: str, names: Sequence[str]) -> list[Outcome]:
        """Events named ``names`` of the split's members, from their first pass on."""
        m, e = s.experiment_members, s.events
        rows = self.conn.execute(
            sa.select(e.c.contact_id, e.c.name, e.c.occurred_at, e.c.properties, e.c.value)
            .select_from(e.join(m, m.c.contact_id == e.c.contact_id))
            .where(m.c.journey_id == journey_id, m.c.step_id == step_id)
            .where(e.c.name.in_(list(names)), e.c.occurred_at >= m.c.entered_at)
        ).all()
        return [Outcome(int(r[0]), r[1], r[2], r[3] or {}, r[4]) for r in rows]

    def member_counts(self, journey_id: int, step_id: str) -> tuple[dict[str, int], datetime | None]:
        """Contacts exposed per variant (``experiment_members``: one row per contact) and the first exposure."""
        m = s.experiment_members
        rows = self.conn.execute(
            sa.select(m.c.variant, sa.func.count(), sa.func.min(m.c.entered_at))
            .where(m.c.journey_id == journey_id, m.c.step_id == step_id)
            .group_by(m.c.variant)
            .order_by(m.c.variant)
        ).all()
        return {str(v): int(n) for v, n, _ in rows}, min((at for _, _, at in rows), default=None)

    def member_outcomes(
        self, journey_id: int, step_id: str, names: Sequence[str], properties: bool = True
    ) -> list[tuple[Exposure, Outcome]]:
        """Events named ``names`` of the split's members from their first pass on, each with that pass
        (``properties=False``: without their properties, when the conversion rule does not read them).

        The goal events are read first (``MATERIALIZED``: a few thousand by the name index) and
        each looked up among the members by primary key, instead of one events probe per member."""
        m, e = s.experiment_members, s.events
        goal = (
            sa.select(
                e.c.contact_id, e.c.name, e.c.occurred_at, e.c.properties if properties else sa.null(), e.c.value
            )
            .where(e.c.name.in_(list(names)))
            .cte("goal")
            .prefix_with("MATERIALIZED")
        )
        rows = self.conn.execute(
            sa.select(m.c.variant, m.c.entered_at, *goal.c)
            .select_from(goal.join(m, (m.c.contact_id == goal.c.contact_id) & (m.c.journey_id == journey_id)))
            .where(m.c.step_id == step_id, goal.c.occurred_at >= m.c.entered_at)
        ).all()
        return [
            (Exposure(int(r[2]), str(r[0]), r[1]), Outcome(int(r[2]), r[3], r[4], r[5] or {}, r[6])) for r in rows
        ]

    def exposures_from_traces(self, journey_id: int, step_id: str) -> list[Exposure]:
        """:meth:`exposures` read from the split traces, as before ``experiment_members`` (the reference)."""
        rows = self.conn.execute(self._split_traces(journey_id, step_id)).all()
        return [
            Exposure(int(cid), str((detail or {}).get("variant")), at)
            for cid, detail, at in rows
            if not (detail or {}).get("rollout")
        ]

    def decisions(self) -> dict[str, Mapping[str, Any]]:
        d = s.experiment_decisions
        return {r["key"]: dict(r) for r in self.conn.execute(sa.select(d)).mappings()}

    def record_decision(
        self,
        key: str,
        journey_id: int,
        step_id: str,
        winner: str,
        verdict: str,
        detail: Mapping[str, Any],
        now: datetime,
        by: str | None,
    ) -> bool:
        """Record a rollout once (False when the experiment was already decided)."""
        d = s.experiment_decisions
        if self.conn.execute(sa.select(d.c.key).where(d.c.key == key)).first() is not None:
            return False
        self.conn.execute(
            d.insert().values(
                key=key,
                journey_id=journey_id,
                step_id=step_id,
                winner=winner,
                verdict=verdict,
                detail=dict(detail),
                decided_at=now,
                decided_by=by,
            )
        )
        return True

    # ------------------------------------------------------------------- goals

    def goal_documents(self) -> list[Mapping[str, Any]]:
        g = s.marketing_goals
        return [dict(r) for r in self.conn.execute(sa.select(g).order_by(g.c.key)).mappings()]

    def save_goal(self, key: str, name: str, document: Mapping[str, Any], now: datetime) -> None:
        g = s.marketing_goals
        values = {"name": name, "document": dict(document), "updated_at": now}
        done = self.conn.execute(g.update().where(g.c.key == key).values(**values)).rowcount
        if not done:
            self.conn.execute(g.insert().values(key=key, created_at=now, **values))

    def delete_goal(self, key: str) -> bool:
        g = s.marketing_goals
        return bool(self.conn.execute(g.delete().where(g.c.key == key)).rowcount)

    def kpi_series(self, kpi: str, start: datetime, end: datetime, event: str | None) -> float:
        """The value of ``kpi`` over [start, end) (see docs/measurement.md for each definition)."""
        event = canonical_event_name(event) if event else event  # spec names are stored dotted
        c, e = s.contacts, s.events
        in_range = sa.and_(e.c.occurred_at >= start, e.c.occurred_at < end)
        if kpi == "leads":
            q = sa.select(sa.func.count()).where(c.c.created_at >= start, c.c.created_at < end, ~c.c.anonymous)
            return float(self.conn.execute(q).scalar_one())
        if kpi == "mqls":
            q = sa.select(sa.func.count()).where(
                c.c.created_at >= start, c.c.created_at < end, c.c.lifecycle_stage.in_(MQL_STAGES)
            )
            return float(self.conn.execute(q).scalar_one())
        if kpi == "customers":
            q = sa.select(sa.func.count(sa.distinct(e.c.contact_id))).where(e.c.name == event, in_range)
            return float(self.conn.execute(q).scalar_one())
        if kpi == "revenue":
            q = sa.select(sa.func.coalesce(sa.func.sum(e.c.value), 0.0)).where(e.c.name == event, in_range)
            return float(self.conn.execute(q).scalar_one())
        if kpi == "retention":
            before = sa.select(e.c.contact_id).where(e.c.name == event, e.c.occurred_at < start).distinct()
            base = self.conn.execute(sa.select(sa.func.count()).select_from(before.subquery())).scalar_one()
            if not base:
                return 0.0
            again = sa.select(sa.func.count(sa.distinct(e.c.contact_id))).where(
                e.c.name == event, in_range, e.c.contact_id.in_(before)
            )
            return float(self.conn.execute(again).scalar_one()) / float(base)
        if kpi == "unsubscribe_rate":

            def n(name: str) -> int:
                return int(self.conn.execute(sa.select(sa.func.count()).where(e.c.name == name, in_range)).scalar_one())

            sent = n("message.sent")
            return n("message.unsubscribed") / sent if sent else 0.0
        raise ValueError(f"unknown kpi {kpi!r}")

    # --------------------------------------------------------------- economics

    def economics_inputs(self, journey_key: str) -> Mapping[str, Any] | None:
        x = s.journey_economics
        row = self.conn.execute(sa.select(x.c.inputs).where(x.c.journey_key == journey_key)).first()
        return None if row is None else dict(row[0])

    def save_economics(self, journey_key: str, inputs: Mapping[str, Any], now: datetime) -> None:
        x = s.journey_economics
        done = self.conn.execute(
            x.update().where(x.c.journey_key == journey_key).values(inputs=dict(inputs), updated_at=now)
        ).rowcount
        if not done:
            self.conn.execute(x.insert().values(journey_key=journey_key, inputs=dict(inputs), updated_at=now))

    def journey_activity(self, journey_id: int, start: datetime | None, end: datetime) -> Mapping[str, Any]:
        """Enrolments, first enrolment, sends per channel and attributed revenue of a journey, in [start, end]."""
        en, o, e, j = s.enrollments, s.outbox, s.events, s.journeys
        key = self.conn.execute(sa.select(j.c.key).where(j.c.id == journey_id)).scalar_one()
        conds = [en.c.journey_id == journey_id, en.c.entered_at <= end]
        if start is not None:
            conds.append(en.c.entered_at >= start)
        n, first = self.conn.execute(sa.select(sa.func.count(), sa.func.min(en.c.entered_at)).where(*conds)).one()
        oconds = [o.c.journey_id == journey_id, o.c.sent_at.is_not(None), o.c.sent_at <= end]
        if start is not None:
            oconds.append(o.c.sent_at >= start)
        sends = {
            str(ch): int(cnt)
            for ch, cnt in self.conn.execute(
                sa.select(o.c.channel, sa.func.count()).where(*oconds).group_by(o.c.channel)
            ).all()
        }
        econds = [e.c.name == "journey.converted", e.c.occurred_at <= end]
        if start is not None:
            econds.append(e.c.occurred_at >= start)
        conversions, revenue = 0, 0.0
        for props, value in self.conn.execute(sa.select(e.c.properties, e.c.value).where(*econds)):
            if (props or {}).get("journey") == key:
                conversions += 1
                revenue += float(value or 0)
        return {
            "enrolments": int(n),
            "first_enrolment": first,
            "sends": sends,
            "conversions": conversions,
            "revenue": revenue,
        }

    def holdout_sums(self, journey_id: int, start: datetime | None, end: datetime) -> Mapping[str, Any]:
        """The journey's control group (percent, from the current version's settings) and per group
        (entrants, revenue, sum of squared revenue per entrant) from the group rollups, days of [start, end]."""
        percent = self._percent(journey_id)
        g = groups.group_sums(self.conn, journey_id, start.date() if start else None, end.date())
        return {
            "percent": percent,
            "treated": (int(g[False]["entrants"]), g[False]["revenue"], g[False]["revenue_sq"]),
            "control": (int(g[True]["entrants"]), g[True]["revenue"], g[True]["revenue_sq"]),
        }

    def _percent(self, journey_id: int) -> float:
        j, v = s.journeys, s.journey_versions
        doc = self.conn.execute(
            sa.select(v.c.document)
            .select_from(j.outerjoin(v, (v.c.journey_id == j.c.id) & (v.c.version == j.c.current_version)))
            .where(j.c.id == journey_id)
        ).scalar_one()
        return float(((doc or {}).get("settings") or {}).get("control_group") or 0)

    def holdout_revenue(self, journey_id: int, start: datetime | None, end: datetime) -> Mapping[str, Any]:
        """The journey's key, its control group (percent, from the current version's settings), the
        distinct contacts who entered in [start, end] and each one's ``journey.converted`` revenue."""
        j, v, en, e = s.journeys, s.journey_versions, s.enrollments, s.events
        key, doc = self.conn.execute(
            sa.select(j.c.key, v.c.document)
            .select_from(j.outerjoin(v, (v.c.journey_id == j.c.id) & (v.c.version == j.c.current_version)))
            .where(j.c.id == journey_id)
        ).one()
        percent = float(((doc or {}).get("settings") or {}).get("control_group") or 0)
        conds = [en.c.journey_id == journey_id, en.c.entered_at <= end]
        econds = [e.c.name == "journey.converted", e.c.occurred_at <= end]
        if start is not None:
            conds.append(en.c.entered_at >= start)
            econds.append(e.c.occurred_at >= start)
        entrants = [int(r[0]) for r in self.conn.execute(sa.select(en.c.contact_id).where(*conds).distinct())]
        revenue: dict[int, float] = {}
        for cid, props, value in self.conn.execute(sa.select(e.c.contact_id, e.c.properties, e.c.value).where(*econds)):
            if (props or {}).get("journey") == key:
                revenue[int(cid)] = revenue.get(int(cid), 0.0) + float(value or 0)
        return {"key": key, "percent": percent, "entrants": entrants, "revenue": revenue}
