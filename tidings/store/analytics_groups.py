"""SQL of the control groups recorded at entry and of the experiments' members (migration 0018).

- ``journey_entrants``: one row per (journey, contact) at its first entry, with the group it was
  put in (``held_out``), the version entered and its ``journey.converted`` revenue so far;
- ``analytics_groups``: per (day, journey, version, group) the first entries, first conversions,
  revenue and the change of the sum of squared revenue per entrant, so the lift report and the
  incremental revenue read a few hundred rollup rows instead of hashing every entrant;
- ``experiment_members``: one row per (journey, split step, contact), its first pass by chance.

Every write runs on the caller's connection (the worker's batch transaction); the functions are
used by ``store/analytics.SqlAnalytics`` (the AnalyticsRepository port) and
``store/measurement.SqlAnalyticsStore`` (the AnalyticsStore port).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tidings.domain.analytics.holdout import in_control_group
from tidings.store import schema

N, G, M = schema.journey_entrants, schema.analytics_groups, schema.experiment_members
_CHUNK = 500
GROUP_KEYS = ("journey_id", "day", "journey_version", "held_out")
GROUP_SUMS = ("entrants", "converted", "revenue", "revenue_sq")


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _day(at: datetime) -> str:
    return (at.astimezone(UTC) if at.tzinfo else at).date().isoformat()


def add_groups(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add to the group rollups (``day, journey_id, journey_version, held_out`` + any of the sums)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = tuple(r[k] for k in GROUP_KEYS)
        acc = merged.setdefault(key, {**{k: r[k] for k in GROUP_KEYS}, **dict.fromkeys(GROUP_SUMS, 0)})
        for m in GROUP_SUMS:
            acc[m] += r.get(m, 0)
    if not merged:
        return
    ins = _insert(conn, G)
    stmt = ins.on_conflict_do_update(
        index_elements=list(GROUP_KEYS), set_={m: G.c[m] + ins.excluded[m] for m in GROUP_SUMS}
    )
    conn.execute(stmt, [merged[k] for k in sorted(merged, key=repr)])


def add_entrants(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Record first entries (``journey_id, contact_id, journey_version, held_out, entered_at``):
    a (journey, contact) seen before is left alone. Counts the new ones in the group rollups."""
    first: dict[tuple[int, int], Mapping[str, Any]] = {}
    for r in rows:
        first.setdefault((int(r["journey_id"]), int(r["contact_id"])), r)
    if not first:
        return 0
    seen: set[tuple[int, int]] = set()
    pairs = sorted(first)
    jids = sorted({j for j, _ in pairs})
    for i in range(0, len(pairs), _CHUNK):
        cids = sorted({c for _, c in pairs[i : i + _CHUNK]})
        q = sa.select(N.c.journey_id, N.c.contact_id).where(N.c.journey_id.in_(jids), N.c.contact_id.in_(cids))
        seen.update((int(j), int(c)) for j, c in conn.execute(q))
    new = [first[p] for p in pairs if p not in seen]
    if not new:
        return 0
    values = [{k: r[k] for k in ("journey_id", "contact_id", "journey_version", "held_out", "entered_at")} for r in new]
    conn.execute(_insert(conn, N).on_conflict_do_nothing(), values)
    add_groups(
        conn,
        [
            {"day": _day(r["entered_at"]), "journey_id": r["journey_id"], "journey_version": r["journey_version"],
             "held_out": bool(r["held_out"]), "entrants": 1}
            for r in values
        ],
    )  # fmt: skip
    return len(values)


def _with_contacts(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Conversions with their contact: given, or the contact of their ``enrollment_id``."""
    e = schema.enrollments
    need = sorted({int(r["enrollment_id"]) for r in rows if r.get("contact_id") is None and r.get("enrollment_id")})
    who: dict[int, int] = {}
    for i in range(0, len(need), _CHUNK):
        q = sa.select(e.c.id, e.c.contact_id).where(e.c.id.in_(need[i : i + _CHUNK]))
        who.update((int(a), int(b)) for a, b in conn.execute(q))
    out: list[Mapping[str, Any]] = []
    for r in rows:
        cid = r.get("contact_id")
        if cid is None:
            cid = who.get(int(r.get("enrollment_id") or 0))
        if cid is not None and r.get("journey_id"):
            out.append({**r, "contact_id": int(cid)})
    return out


def credit_conversions(conn: sa.Connection, conversions: Sequence[Mapping[str, Any]]) -> int:
    """``journey.converted`` events (``journey_id``, ``contact_id`` or ``enrollment_id``,
    ``occurred_at``, ``value``) onto their
    entrants: the first conversion of an entrant counts it converted; its revenue is added, and the
    sum of squared revenue per entrant moves by (r + v)^2 - r^2. Conversions of contacts with no
    entrant row (entered before migration 0018 and not backfilled) are left out. Returns how many counted."""
    conversions = _with_contacts(conn, conversions)
    wanted = sorted({(int(c["journey_id"]), int(c["contact_id"])) for c in conversions})
    if not wanted:
        return 0
    state: dict[tuple[int, int], dict[str, Any]] = {}
    jids = sorted({j for j, _ in wanted})
    for i in range(0, len(wanted), _CHUNK):
        cids = sorted({c for _, c in wanted[i : i + _CHUNK]})
        q = sa.select(N.c.journey_id, N.c.contact_id, N.c.journey_version, N.c.held_out, N.c.converted_at, N.c.revenue)
        for row in conn.execute(q.where(N.c.journey_id.in_(jids), N.c.contact_id.in_(cids))).mappings():
            state[(int(row["journey_id"]), int(row["contact_id"]))] = {**dict(row), "changed": False}
    groups: list[dict[str, Any]] = []
    counted = 0
    for c in conversions:
        st = state.get((int(c["journey_id"]), int(c["contact_id"])))
        if st is None:
            continue
        counted += 1
        v = float(c.get("value") or 0)
        r = float(st["revenue"] or 0)
        first = st["converted_at"] is None
        if first:
            st["converted_at"] = c["occurred_at"]
        st["revenue"] = r + v
        st["changed"] = True
        groups.append(
            {"day": _day(c["occurred_at"]), "journey_id": st["journey_id"], "journey_version": st["journey_version"],
             "held_out": bool(st["held_out"]), "converted": int(first), "revenue": v,
             "revenue_sq": (r + v) ** 2 - r * r}
        )  # fmt: skip
    changed = [st for st in state.values() if st["changed"]]
    if changed:
        stmt = (
            sa.update(N)
            .where(N.c.journey_id == sa.bindparam("j"), N.c.contact_id == sa.bindparam("c"))
            .values(converted_at=sa.bindparam("conv"), revenue=sa.bindparam("rev"))
        )
        conn.execute(
            stmt,
            [
                {"j": s["journey_id"], "c": s["contact_id"], "conv": s["converted_at"], "rev": s["revenue"]}
                for s in changed
            ],
        )
    add_groups(conn, groups)
    return counted


def group_sums(
    conn: sa.Connection, journey_id: int, start: date | None, end: date | None
) -> dict[bool, dict[str, float]]:
    """Per group (True: held out) the entrants, converted, revenue and revenue_sq of the days in
    [start, end] (inclusive; None: open)."""
    q = sa.select(G.c.held_out, *(sa.func.coalesce(sa.func.sum(G.c[m]), 0).label(m) for m in GROUP_SUMS)).where(
        G.c.journey_id == journey_id
    )
    if start is not None:
        q = q.where(G.c.day >= start.isoformat())
    if end is not None:
        q = q.where(G.c.day <= end.isoformat())
    out = {g: dict.fromkeys(GROUP_SUMS, 0.0) for g in (False, True)}
    for r in conn.execute(q.group_by(G.c.held_out)).mappings():
        out[bool(r["held_out"])] = {m: float(r[m]) for m in GROUP_SUMS}
    return out


def add_members(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record passes through split steps (``journey_id, step_id, contact_id, variant, entered_at``);
    a contact's first pass through a step is kept."""
    first: dict[tuple[int, str, int], dict[str, Any]] = {}
    for r in rows:
        key = (int(r["journey_id"]), str(r["step_id"]), int(r["contact_id"]))
        if key not in first:
            first[key] = {k: r[k] for k in ("journey_id", "step_id", "contact_id", "variant", "entered_at")}
    if first:
        conn.execute(_insert(conn, M).on_conflict_do_nothing(), [first[k] for k in sorted(first)])


def members(conn: sa.Connection, journey_id: int, step_id: str) -> list[tuple[int, str, datetime]]:
    q = sa.select(M.c.contact_id, M.c.variant, M.c.entered_at).where(
        M.c.journey_id == journey_id, M.c.step_id == step_id
    )
    return [(int(c), str(v), at) for c, v, at in conn.execute(q)]


# --------------------------------------------------------------------------- backfill


def reset(conn: sa.Connection) -> None:
    for t in (G, N, M):
        conn.execute(sa.delete(t))


def _percents(conn: sa.Connection) -> dict[tuple[int, int], tuple[str, float]]:
    """(journey id, version) -> (journey key, settings.control_group of that version)."""
    j, v = schema.journeys, schema.journey_versions
    out = {}
    for jid, key, version, doc in conn.execute(
        sa.select(j.c.id, j.c.key, v.c.version, v.c.document).select_from(j.join(v, v.c.journey_id == j.c.id))
    ):
        settings = (doc or {}).get("settings") or {}
        out[(int(jid), int(version))] = (str(key), float(settings.get("control_group") or 0))
    return out


def rebuild_entrants(conn: sa.Connection, after_id: int, limit: int) -> tuple[int, int]:
    """Entrant rows (and their group counts) for the enrolments with id > ``after_id`` (``limit`` of
    them, in id order): the group each contact would have been put in at its first entry.
    Returns (enrolments read, last id)."""
    e = schema.enrollments
    rows = conn.execute(
        sa.select(e.c.id, e.c.journey_id, e.c.contact_id, e.c.version, e.c.entered_at)
        .where(e.c.id > after_id)
        .order_by(e.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, after_id
    percents = _percents(conn)
    entrants = []
    for _id, jid, cid, version, at in rows:
        key, percent = percents.get((int(jid), int(version)), ("", 0.0))
        entrants.append(
            {"journey_id": int(jid), "contact_id": int(cid), "journey_version": int(version),
             "held_out": bool(key) and in_control_group(key, int(cid), percent), "entered_at": at}
        )  # fmt: skip
    add_entrants(conn, entrants)
    return len(rows), int(rows[-1][0])


def rebuild_members(conn: sa.Connection, after_id: int, limit: int) -> tuple[int, int]:
    """Member rows from the ``split`` traces with id > ``after_id`` (rollout passes left out)."""
    t = schema.traces
    rows = conn.execute(
        sa.select(t.c.id, t.c.journey_id, t.c.step_id, t.c.contact_id, t.c.detail, t.c.at)
        .where(t.c.id > after_id, t.c.action == "split")
        .order_by(t.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0, after_id
    add_members(
        conn,
        [
            {"journey_id": int(j), "step_id": str(s), "contact_id": int(c), "variant": str((d or {}).get("variant")),
             "entered_at": at}
            for _i, j, s, c, d, at in rows
            if j is not None and s is not None and not (d or {}).get("rollout")
        ],
    )  # fmt: skip
    return len(rows), int(rows[-1][0])
