"""Benchmark: a journey report, its control-group lift and an experiment's counts over many contacts
and engagement events, and the rollup hook's pace.

    .venv/bin/python benchmarks/analytics.py [--contacts 1000000] [--events 10000000] [--days 365]
        [--bulk] [--feed-sample 50000] [--no-reference] [--postgres-url URL] [--no-sqlite]

On a fresh database (SQLite temp file; PostgreSQL in a fresh schema when --postgres-url is given):

1. one journey (a split step with an ``experiment:`` block, 5 send steps, 2 versions, a 10 % control
   group), ``--contacts`` contacts, one enrolment each with its control group recorded at entry
   (``journey_entrants`` + the ``analytics_groups`` entrant counts), one ``split`` trace and one
   ``experiment_members`` row each, 3 % of them buying (``order.completed``, the experiment's goal)
   after their split; one outbox row per message (``--events`` / 2.5 messages);
2. engagement events per message (sent; human and Apple-MPP opens; human and scanner clicks;
   a few unsubscribes, bounces and conversions), spread over ``--days`` days. The first
   ``--feed-sample`` events go through the product's rollup hook (``rollups.feed`` on
   ``SqlAnalytics``, 500 per transaction as the worker does: ``feed_events_per_s``, target
   1,000/s). Without ``--bulk`` every event does; with ``--bulk`` (the default from 2M events on)
   the rest are written with the database's bulk path (SQLite ``executemany`` in transactions of
   200,000 rows, PostgreSQL ``COPY`` through psycopg's ``cursor.copy``) and their rollups (and
   control-group conversions) added up in Python with the same classifier
   (``domain/analytics/metrics.contribution``) and written with the hook's upserts, so 10M events
   are made in minutes;
3. timed, median of 5: the journey report with the control group's lift (``journey_report_ms``,
   target < 1,000 ms), the same without the control group (``journey_report_rollups_ms``), the
   incremental revenue (``incremental_ms``: ``economics._incremental`` over ``holdout_sums``), an
   experiment's live report (``experiment_ms``: ``experiments.show_experiment``, counts and
   statistics) and its counts alone (``experiment_counts_ms``); the ceiling in
   the same run: ``count(*)`` of one event name (``events_count_ms``). With the reference (default;
   ``--no-reference`` skips it) the computations these replaced are timed once and their answers
   compared: every entrant hashed into its group (``reference_lift_ms``, ``reference_incremental_ms``)
   and the counts with exposures read from the split traces (``reference_experiment_ms``).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tidings.application.analytics import economics, experiments, reports, rollups  # noqa: E402
from tidings.domain.analytics.holdout import in_control_group  # noqa: E402
from tidings.domain.analytics.metrics import DIMENSIONS, contribution  # noqa: E402
from tidings.domain.experiments.spec import Exposure, Outcome, count, count_members  # noqa: E402
from tidings.domain.journeys.document import parse_journey  # noqa: E402
from tidings.domain.snapshot import EventRecord  # noqa: E402
from tidings.store import analytics_groups as groups  # noqa: E402
from tidings.store import schema  # noqa: E402
from tidings.store.analytics import SqlAnalytics  # noqa: E402
from tidings.store.db import create_engine  # noqa: E402
from tidings.store.measurement import SqlAnalyticsStore  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402

STEPS = [f"send-{i}" for i in range(5)]
BATCH = 500
ROWS_PER_TX = 200_000
#: fewer than the ~3 events a message gets on average, so the stream reaches --events
EVENTS_PER_MESSAGE = 2.5
START = datetime(2026, 1, 1, tzinfo=UTC)
CONTROL = 10.0
SOURCE = (
    "key: bench\nname: bench\nsettings:\n  control_group: 10\ntriggers:\n  - event: signed.up\nsteps:\n"
    "  - id: offer\n    type: split\n    variants:\n      - {name: A, next: send-0}\n      - {name: B, next: send-0}\n"
    "    experiment:\n      metric: conversion\n      event: order.completed\n      window: 7d\n"
    + "".join(
        f"  - id: {s}\n    type: send\n    channel: email\n    template: t-{s}\n    next: {nxt}\n"
        for s, nxt in zip(STEPS, [*STEPS[1:], "end"], strict=True)
    )
)


class Bulk:
    """The database's fast bulk path on one engine: SQLite ``executemany`` in big transactions,
    PostgreSQL ``COPY ... FROM STDIN`` (psycopg ``cursor.copy``); JSON and times encoded once."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"

    def _value(self, v: Any) -> Any:
        if isinstance(v, datetime):
            naive = v.astimezone(UTC).replace(tzinfo=None)
            return naive if self.pg else naive.isoformat(" ", "microseconds")
        if isinstance(v, dict):
            return orjson.dumps(v).decode()
        if isinstance(v, bool) and not self.pg:
            return int(v)
        return v

    def write(self, table: sa.Table, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        chunk: list[tuple[Any, ...]] = []
        for r in rows:
            chunk.append(tuple(self._value(v) for v in r))
            if len(chunk) >= ROWS_PER_TX:
                n += self._flush(table, cols, chunk)
                chunk = []
        if chunk:
            n += self._flush(table, cols, chunk)
        return n

    def _flush(self, table: sa.Table, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        with self.engine.begin() as conn:
            cur = conn.connection.cursor()
            try:
                if self.pg:
                    schema_name = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
                    with cur.copy(f'COPY "{schema_name}".{table.name} ({", ".join(cols)}) FROM STDIN') as copy:
                        for r in rows:
                            copy.write_row(r)
                else:
                    marks = ", ".join("?" * len(cols))
                    cur.executemany(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})", rows)
            finally:
                cur.close()
        return len(rows)


def _setup(engine: sa.Engine, bulk: Bulk, contacts: int, days: int) -> tuple[int, dict[int, datetime]]:
    now = START
    doc = parse_journey(SOURCE)
    document = {"key": "bench", "settings": {"control_group": CONTROL}, "steps": [{"id": s} for s in doc.steps]}
    with engine.begin() as conn:
        jid = int(
            conn.execute(
                sa.insert(schema.journeys)
                .values(key="bench", name="bench", status="active", current_version=1, created_at=now, updated_at=now)
                .returning(schema.journeys.c.id)
            ).scalar_one()
        )
        for v in (1, 2):
            conn.execute(
                sa.insert(schema.journey_versions).values(
                    journey_id=jid, version=v, document=document, source=SOURCE, checksum="x", published_at=now
                )
            )
    bulk.write(
        schema.contacts,
        ("id", "email", "attributes", "created_at", "updated_at"),
        ((i, f"c{i}@bench.test", {}, now, now) for i in range(1, contacts + 1)),
    )
    rng = random.Random(3)
    entered = {
        i: now + timedelta(days=rng.randrange(days), seconds=rng.randrange(86400)) for i in range(1, contacts + 1)
    }
    bulk.write(
        schema.enrollments,
        ("id", "contact_id", "journey_id", "version", "enroll_key", "status", "end_reason", "step_id", "state",
         "entered_at", "updated_at"),
        ((i, i, jid, 1 + i % 2, "", "ended", "completed", STEPS[-1], {}, at, now) for i, at in entered.items()),
    )  # fmt: skip
    held = {i: in_control_group("bench", i, CONTROL) for i in entered}
    bulk.write(
        schema.journey_entrants,
        ("journey_id", "contact_id", "journey_version", "held_out", "entered_at", "revenue"),
        ((jid, i, 1 + i % 2, held[i], at, 0.0) for i, at in entered.items()),
    )
    counts: dict[tuple[str, int, bool], int] = {}
    for i, at in entered.items():
        k = (at.date().isoformat(), 1 + i % 2, held[i])
        counts[k] = counts.get(k, 0) + 1
    with engine.begin() as conn:
        groups.add_groups(
            conn,
            [{"day": d, "journey_id": jid, "journey_version": v, "held_out": h, "entrants": n}
             for (d, v, h), n in counts.items()],
        )  # fmt: skip
    variants = {i: "AB"[rng.random() < 0.5] for i in entered}
    bulk.write(
        schema.experiment_members,
        ("journey_id", "step_id", "contact_id", "variant", "entered_at"),
        ((jid, "offer", i, variants[i], at) for i, at in entered.items()),
    )
    bulk.write(
        schema.traces,
        ("contact_id", "enrollment_id", "journey_id", "journey_version", "step_id", "stimulus", "action", "detail",
         "at"),
        ((i, i, jid, 1 + i % 2, "offer", "entry", "split", {"variant": variants[i], "point": 0.5}, at)
         for i, at in entered.items()),
    )  # fmt: skip
    buyers = [i for i in entered if rng.random() < (0.04 if variants[i] == "B" else 0.02)]
    bulk.write(
        schema.events,
        ("contact_id", "name", "properties", "occurred_at", "received_at", "value", "processed_at"),
        (
            (i, "order.completed", {"total": 10}, at, at, 10.0, at)
            for i in buyers
            for at in [entered[i] + timedelta(days=rng.randrange(10), seconds=rng.randrange(86400))]
        ),
    )
    return jid, entered


def _messages(bulk: Bulk, jid: int, messages: int, contacts: int, days: int) -> None:
    rng = random.Random(7)
    bulk.write(
        schema.outbox,
        ("id", "contact_id", "idempotency_key", "kind", "channel", "category", "template", "journey_id",
         "journey_version", "step_id", "payload", "status", "attempts", "next_attempt_at", "created_at", "sent_at"),
        ((i, 1 + rng.randrange(contacts), f"bench:{i}", "message", "email", "marketing", f"t-{STEPS[i % 5]}", jid,
          1 + i % 2, STEPS[i % 5], {}, "sent", 0, START, START,
          START + timedelta(days=rng.randrange(days), seconds=rng.randrange(86400)))
         for i in range(1, messages + 1)),
    )  # fmt: skip


def _events_of(m: dict[str, Any], rng: random.Random) -> list[EventRecord]:
    p = {"message_id": m["id"], "channel": "email", "template": m["template"], "step": m["step_id"]}
    at = m["sent_at"]
    out = [EventRecord("message.sent", at, p)]
    if rng.random() < 0.02:
        return [*out, EventRecord("message.bounced", at, {**p, "bounce_type": "hard"})]
    if rng.random() < 0.35:
        out.append(EventRecord("message.opened", at + timedelta(seconds=1), {**p, "machine": True}))
    for _ in range(rng.choice((0, 1, 2, 3))):
        out.append(EventRecord("message.opened", at + timedelta(hours=2), {**p, "machine": False}))
    if rng.random() < 0.15:
        out.append(EventRecord("message.clicked", at + timedelta(hours=2), {**p, "machine": False}))
    if rng.random() < 0.05:
        out.append(EventRecord("message.clicked", at + timedelta(seconds=3), {**p, "machine": True}))
    if rng.random() < 0.005:
        out.append(EventRecord("message.unsubscribed", at + timedelta(hours=3), p))
    if rng.random() < 0.01:
        conv = {"journey": "bench", "step": m["step_id"], "revenue": 20.0, "attributed_to": {"message_id": m["id"]},
                "enrollment": m["contact_id"]}  # fmt: skip
        out.append(EventRecord("journey.converted", at + timedelta(hours=4), conv, 20.0))
    return out


class Rollup:
    """The hook's arithmetic in memory for the bulk path: rollup rows per dimension key and the
    control-group conversions, written with the hook's own upserts."""

    def __init__(self, jid: int, held: dict[int, bool], revenue: dict[int, float], converted: set[int]) -> None:
        self.jid, self.held, self.revenue, self.converted = jid, held, revenue, converted
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []

    def message(self, m: dict[str, Any], evs: Sequence[EventRecord]) -> None:
        firsts: set[str] = set()
        for e in evs:
            c = contribution(e.name, e.properties, e.value)
            if c is None:
                continue
            dims = {"day": e.occurred_at.date().isoformat(), "journey_id": self.jid,
                    "journey_version": 1 + m["id"] % 2, "step": m["step_id"], "template": m["template"],
                    "channel": "email", "campaign": ""}  # fmt: skip
            row = self.rows.setdefault(tuple(dims[d] for d in DIMENSIONS), dims)
            deltas = dict(c.always)
            if c.first_kind and c.first_kind not in firsts:
                firsts.add(c.first_kind)
                deltas.update({k: deltas.get(k, 0) + v for k, v in c.first.items()})
            for k, v in deltas.items():
                row[k] = row.get(k, 0) + v
            if e.name == "journey.converted":
                cid = int(e.properties["enrollment"])
                r, v = self.revenue.get(cid, 0.0), float(e.value or 0)
                self.revenue[cid] = r + v
                first = cid not in self.converted
                self.converted.add(cid)
                self.groups.append(
                    {"day": dims["day"], "journey_id": self.jid, "journey_version": 1 + cid % 2,
                     "held_out": self.held[cid], "converted": int(first), "revenue": v,
                     "revenue_sq": (r + v) ** 2 - r * r}
                )  # fmt: skip

    def write(self, conn: sa.Connection) -> None:
        SqlAnalytics(conn).add_rollups(list(self.rows.values()))
        groups.add_groups(conn, self.groups)
        self.rows, self.groups = {}, []


def _stream(engine: sa.Engine, bulk: Bulk, jid: int, target: int, sample: int, held: dict[int, bool]) -> dict[str, Any]:
    """Events per message, chunk by chunk: the first ``sample`` inserted and fed to the rollup hook,
    the rest written with the bulk path and rolled up in memory."""
    o = schema.outbox
    rng = random.Random(11)
    done, sent, insert_s, feed_s, bulk_s, fed, after = 0, 0, 0.0, 0.0, 0.0, 0, 0
    roll: Rollup | None = None
    while done < target:
        with engine.connect() as conn:
            msgs = [
                dict(r)
                for r in conn.execute(
                    sa.select(o.c.id, o.c.contact_id, o.c.template, o.c.step_id, o.c.sent_at)
                    .where(o.c.id > after).order_by(o.c.id).limit(20_000 if done >= sample else 5000)
                ).mappings()
            ]
        if not msgs:
            break
        after = int(msgs[-1]["id"])
        per = [(m, _events_of(m, rng)) for m in msgs]
        if done < sample:  # through the product's hook, as the worker does
            evs = [(int(m["contact_id"]), e) for m, es in per for e in es][: target - done]
            t = time.perf_counter()
            rows = [
                {"contact_id": cid, "name": e.name, "properties": dict(e.properties), "occurred_at": e.occurred_at,
                 "received_at": e.occurred_at, "value": e.value, "processed_at": e.occurred_at}
                for cid, e in evs
            ]  # fmt: skip
            with engine.begin() as conn:
                conn.execute(sa.insert(schema.events), rows)
            insert_s += time.perf_counter() - t
            t = time.perf_counter()
            plain = [e for _, e in evs]
            for k in range(0, len(plain), BATCH):
                with engine.begin() as conn:
                    rollups.feed(SqlAnalytics(conn), plain[k : k + BATCH])
            feed_s += time.perf_counter() - t
            fed += len(evs)
        else:  # the bulk path: COPY / executemany, rollups added up here
            if roll is None:
                roll = Rollup(jid, held, *_entrant_state(engine, jid))
            t = time.perf_counter()
            kept: list[tuple[dict[str, Any], list[EventRecord]]] = []
            left = target - done
            for m, es in per:
                if left <= 0:
                    break
                kept.append((m, es[:left]))
                left -= len(es[:left])
            evs = [(int(m["contact_id"]), e) for m, es in kept for e in es]
            bulk.write(
                schema.events,
                ("contact_id", "name", "properties", "occurred_at", "received_at", "value", "processed_at"),
                ((cid, e.name, dict(e.properties), e.occurred_at, e.occurred_at, e.value, e.occurred_at)
                 for cid, e in evs),
            )  # fmt: skip
            for m, es in kept:
                roll.message(m, es)
            with engine.begin() as conn:
                roll.write(conn)
            bulk_s += time.perf_counter() - t
        sent += sum(e.name == "message.sent" for _, e in evs)
        done += len(evs)
    return {"events": done, "sent": sent, "fed": fed, "insert_s": insert_s, "feed_s": feed_s, "bulk_s": bulk_s}


def _entrant_state(engine: sa.Engine, jid: int) -> tuple[dict[int, float], set[int]]:
    """What the hook recorded on the entrants so far (revenue, converted), to go on from."""
    n = schema.journey_entrants
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(n.c.contact_id, n.c.revenue, n.c.converted_at).where(
                n.c.journey_id == jid, (n.c.revenue != 0) | n.c.converted_at.is_not(None)
            )
        ).all()
    return {int(c): float(r) for c, r, _ in rows}, {int(c) for c, _, at in rows if at is not None}


def _edges(engine: sa.Engine, jid: int, contacts: int, days: int) -> None:
    per_day = max(1, contacts // days)
    rows = []
    for d in range(days):
        day = (START + timedelta(days=d)).date().isoformat()
        for v in (1, 2):
            chain = ["", "offer", *STEPS, ""]
            for a, b in zip(chain, chain[1:], strict=False):
                rows.append({"day": day, "journey_id": jid, "journey_version": v, "src": a, "dst": b,
                             "moved": per_day // 2})  # fmt: skip
    with engine.begin() as conn:
        SqlAnalytics(conn).add_edges(rows)


def _median_ms(fn: Any, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 1)


def _timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, round((time.perf_counter() - t) * 1000, 1)


def _experiment_counts(store: SqlAnalyticsStore, jid: int, now: datetime) -> Any:
    """An experiment's arms from ``experiment_members`` (what ``show_experiment`` counts with)."""
    head, spec = experiments._find(store, "bench.offer")
    exposed, _ = store.member_counts(jid, "offer")
    pairs = store.member_outcomes(jid, "offer", spec.events, spec.where is not None)
    return count_members(spec, exposed, pairs, journey_id=head.id, matches=experiments._matcher(now))


def _experiment_from_traces(conn: sa.Connection, store: SqlAnalyticsStore, jid: int, now: datetime) -> Any:
    """An experiment's arms the way they were counted before ``experiment_members``: exposures from
    the split traces, outcomes joined to each contact's first split trace."""
    head, spec = experiments._find(store, "bench.offer")
    t, e = schema.traces, schema.events
    exposed = (
        sa.select(t.c.contact_id, sa.func.min(t.c.at).label("at"))
        .where(t.c.journey_id == jid, t.c.step_id == "offer", t.c.action == "split")
        .group_by(t.c.contact_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(e.c.contact_id, e.c.name, e.c.occurred_at, e.c.properties, e.c.value)
        .select_from(e.join(exposed, exposed.c.contact_id == e.c.contact_id))
        .where(e.c.name.in_(list(spec.events)), e.c.occurred_at >= exposed.c.at)
    ).all()
    outcomes = [Outcome(int(r[0]), r[1], r[2], r[3] or {}, r[4]) for r in rows]
    exposures: list[Exposure] = store.exposures_from_traces(jid, "offer")
    return count(spec, exposures, outcomes, journey_id=head.id, matches=experiments._matcher(now))


def run(
    url: str, contacts: int, events: int, days: int, label: str, *, use_bulk: bool, sample: int, reference: bool,
    schema_name: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    engine = create_engine(url, schema=schema_name) if schema_name else create_engine(url)
    upgrade(engine)
    bulk = Bulk(engine)
    t0 = time.perf_counter()
    jid, entered = _setup(engine, bulk, contacts, days)
    held = {i: in_control_group("bench", i, CONTROL) for i in entered}
    _messages(bulk, jid, max(1, int(events / EVENTS_PER_MESSAGE)) + 100, contacts, days)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = _stream(engine, bulk, jid, events, sample if use_bulk else events, held)
    stream_s = time.perf_counter() - t0
    _edges(engine, jid, contacts, days)
    now = START + timedelta(days=days + 30)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        repo, store = SqlAnalytics(conn), SqlAnalyticsStore(conn)
        data = reports.journey_report(repo, "bench", reports.Range())
        full_ms = _median_ms(lambda: reports.journey_report(repo, "bench", reports.Range()))
        j = dict(repo.journey("bench") or {})
        rollups_ms = _median_ms(lambda: reports.journey_report(_NoHoldout(repo), "bench", reports.Range()))
        inc = economics._incremental(store.holdout_sums(jid, None, now))
        inc_ms = _median_ms(lambda: economics._incremental(store.holdout_sums(jid, None, now)))
        exp = experiments.show_experiment(store, "bench.offer", now)
        exp_ms = _median_ms(lambda: experiments.show_experiment(store, "bench.offer", now))
        counts_ms = _median_ms(lambda: _experiment_counts(store, jid, now))
        assert {x.name: x.exposed for x in _experiment_counts(store, jid, now)} == exp["exposed"]
        e = schema.events
        opened = sa.select(sa.func.count()).select_from(e).where(e.c.name == "message.opened")
        count_ms = _median_ms(lambda: conn.execute(opened).scalar(), 3)
        rows = conn.execute(sa.select(sa.func.count()).select_from(schema.analytics_daily)).scalar_one()
        if reference:
            old_lift, out[f"{label}_reference_lift_ms"] = _timed(
                lambda: reports.control_group_by_entrant(repo, j, reports.Range())
            )
            assert old_lift == data["control_group"], (old_lift, data["control_group"])
            old_inc, out[f"{label}_reference_incremental_ms"] = _timed(
                lambda: economics.incremental_by_entrant(store.holdout_revenue(jid, None, now))
            )
            a, b = old_inc["incremental"], inc["incremental"]
            assert {k: v for k, v in a.items() if k != "interval"} == {k: v for k, v in b.items() if k != "interval"}
            assert all(math.isclose(x, y, abs_tol=0.02) for x, y in zip(a["interval"], b["interval"], strict=True))
            arms, out[f"{label}_reference_experiment_ms"] = _timed(
                lambda: _experiment_from_traces(conn, store, jid, now)
            )
            assert {x.name: x.exposed for x in arms} == exp["exposed"], (arms, exp["exposed"])
            assert {x.name: x.converted for x in arms} == exp["converted"], (arms, exp["converted"])
    assert data["totals"]["sent"] == s["sent"], (data["totals"]["sent"], s["sent"])
    assert data["control_group"]["treated_contacts"] + data["control_group"]["control_contacts"] == contacts
    assert sum(exp["exposed"].values()) == contacts
    assert j["control_group"] == CONTROL
    engine.dispose()
    return {
        f"{label}_contacts": contacts,
        f"{label}_events": s["events"],
        f"{label}_bulk": use_bulk,
        f"{label}_setup_s": round(setup_s, 1),
        f"{label}_stream_s": round(stream_s, 1),
        f"{label}_fed_events": s["fed"],
        f"{label}_bulk_events_per_s": round((s["events"] - s["fed"]) / s["bulk_s"]) if s["bulk_s"] else None,
        f"{label}_insert_events_per_s": round(s["fed"] / s["insert_s"]) if s["insert_s"] else None,
        f"{label}_feed_events_per_s": round(s["fed"] / s["feed_s"]) if s["feed_s"] else None,
        f"{label}_journey_report_ms": full_ms,
        f"{label}_journey_report_rollups_ms": rollups_ms,
        f"{label}_incremental_ms": inc_ms,
        f"{label}_experiment_ms": exp_ms,
        f"{label}_experiment_counts_ms": counts_ms,
        f"{label}_events_count_ms": count_ms,
        f"{label}_rollup_rows": int(rows),
        f"{label}_report_under_1s": full_ms < 1000,
        f"{label}_feed_keeps_up_1000_per_s": bool(s["feed_s"]) and s["fed"] / s["feed_s"] >= 1000,
        **out,
    }


class _NoHoldout:
    """The repository with the journey's control group hidden: the report from rollup rows only."""

    def __init__(self, repo: SqlAnalytics) -> None:
        self._repo = repo

    def journey(self, key: str) -> Any:
        j = self._repo.journey(key)
        return None if j is None else {**j, "control_group": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--bulk", action="store_true", help="write events past --feed-sample with the bulk path")
    ap.add_argument("--feed-sample", type=int, default=50_000)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    opts = {"use_bulk": args.bulk or args.events >= 2_000_000, "sample": args.feed_sample,
            "reference": not args.no_reference}  # fmt: skip
    out: dict[str, Any] = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            out |= run(f"sqlite:///{tmp}/bench.db", args.contacts, args.events, args.days, "sqlite", **opts)
        print(json.dumps(out), file=sys.stderr)
    if args.postgres_url:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        try:
            out |= run(args.postgres_url, args.contacts, args.events, args.days, "postgresql", **opts,
                       schema_name=name)  # fmt: skip
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
            admin.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
