"""Engagement rollups: the worker's hook and the backfill.

:func:`feed` is called by the journey engine with the events it processes, in the same
transaction (``JourneyEngine.process_contacts``): the events are classified by the pure core
(``domain/analytics/metrics.py``), their message dimensions read in one query, unique opens and
clicks claimed in one query, and the rollup rows upserted in one statement per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from tidings.application.ports.analytics import DIMENSIONS, AnalyticsRepository
from tidings.domain.analytics.metrics import EVENT_NAMES, Contribution, contribution

BACKFILL_CHUNK = 5000
_NAMES = frozenset(EVENT_NAMES)


class EventLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...
    @property
    def value(self) -> float | None: ...


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


def feed(repo: AnalyticsRepository, events: Iterable[EventLike]) -> int:
    """Add these events to the rollups. Returns how many counted for something."""
    todo: list[tuple[EventLike, Contribution]] = []
    for e in events:
        if e.name in _NAMES:
            c = contribution(e.name, e.properties, e.value)
            if c is not None:
                todo.append((e, c))
    if not todo:
        return 0
    conversions = [e for e, c in todo if e.name == "journey.converted"]
    credited = [_int((e.properties.get("attributed_to") or {}).get("message_id")) for e in conversions]
    mids = sorted({m for m in [*(c.message_id for _, c in todo), *credited] if m is not None})
    msgs = repo.messages(mids)
    jids = repo.journey_ids(sorted({str(e.properties.get("journey") or "") for e in conversions} - {""}))
    enr = [i for i in (_int(e.properties.get("enrollment")) for e in conversions) if i is not None]
    versions = repo.enrollment_versions(sorted(set(enr)))
    wanted = [(c.message_id, c.first_kind) for _, c in todo if c.message_id is not None and c.first_kind]
    firsts = repo.claim_firsts(sorted(set(wanted)))
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    counted: set[tuple[int, str]] = set()
    for e, c in todo:
        dims = _dims(e, c, msgs, jids, versions)
        key = tuple(dims[d] for d in DIMENSIONS)
        row = rows.setdefault(key, dict(dims))
        deltas = dict(c.always)
        if c.message_id is not None and c.first_kind:
            pair = (c.message_id, c.first_kind)
            if pair in firsts and pair not in counted:
                counted.add(pair)
                deltas.update({k: deltas.get(k, 0) + v for k, v in c.first.items()})
        for k, v in deltas.items():
            row[k] = row.get(k, 0) + v
    repo.add_rollups(list(rows.values()))
    repo.credit_conversions(
        [
            {
                "journey_id": jids.get(str(e.properties.get("journey") or ""), 0),
                "contact_id": getattr(e, "contact_id", None),
                "enrollment_id": _int(e.properties.get("enrollment")),
                "occurred_at": e.occurred_at,
                "value": e.value,
            }
            for e in conversions
        ]
    )
    return len(todo)


def _dims(
    e: EventLike,
    c: Contribution,
    msgs: Mapping[int, Mapping[str, Any]],
    jids: Mapping[str, int],
    versions: Mapping[int, int],
) -> dict[str, Any]:
    p = e.properties
    day = e.occurred_at.date().isoformat()
    if e.name == "journey.converted":
        # on the message it is credited to (last human click) when there is one, else on the step
        # the enrolment was at
        credit = p.get("attributed_to") or {}
        msg = msgs.get(_int(credit.get("message_id")) or -1, {})
        if msg:
            return _message_dims(day, msg, p)
        enrollment = _int(p.get("enrollment"))
        return {
            "day": day,
            "journey_id": jids.get(str(p.get("journey") or ""), 0),
            "journey_version": versions.get(enrollment, 0) if enrollment is not None else 0,
            "step": str(p.get("step") or ""),
            "template": str(msg.get("template") or credit.get("template") or ""),
            "channel": str(msg.get("channel") or credit.get("channel") or ""),
            "campaign": str(p.get("campaign") or msg.get("campaign") or ""),
        }
    return _message_dims(day, msgs.get(c.message_id, {}) if c.message_id is not None else {}, p)


def _message_dims(day: str, msg: Mapping[str, Any], p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "day": day,
        "journey_id": _int(msg.get("journey_id")) or _int(p.get("journey")) or 0,
        "journey_version": _int(msg.get("journey_version")) or 0,
        "step": str(msg.get("step_id") or p.get("step") or ""),
        "template": str(msg.get("template") or p.get("template") or ""),
        "channel": str(msg.get("channel") or p.get("channel") or ""),
        "campaign": str(msg.get("campaign") or p.get("campaign") or ""),
    }


class _Row:
    __slots__ = ("contact_id", "name", "occurred_at", "properties", "value")

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.contact_id = row.get("contact_id")
        self.name = str(row["name"])
        self.occurred_at = row["occurred_at"]
        self.properties = row["properties"] or {}
        self.value = row["value"]


def backfill(
    begin: Callable[[], Any],
    factory: Callable[[Any], AnalyticsRepository],
    *,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = BACKFILL_CHUNK,
) -> dict[str, int]:
    """Rebuild the rollups from the processed events, ``chunk`` events per transaction.

    ``begin()`` opens a transaction context yielding a connection. Events the worker has not
    processed yet are left to it (it counts them when it processes them). The control groups
    (``journey_entrants``, ``analytics_groups``) are rebuilt from the enrolments first, so the
    conversions replayed here count onto them, and ``experiment_members`` from the split traces.
    Run it with the workers stopped: an event processed while the backfill runs could be counted twice.
    """
    with begin() as conn:
        repo = factory(conn)
        repo.reset()
        total = repo.count_processed_events(EVENT_NAMES)
    entrants = _rebuild(begin, factory, "rebuild_entrants", chunk)
    members = _rebuild(begin, factory, "rebuild_members", chunk)
    done, counted, after = 0, 0, 0
    while True:
        with begin() as conn:
            repo = factory(conn)
            rows = repo.processed_events(EVENT_NAMES, after, chunk)
            if not rows:
                break
            counted += feed(repo, [_Row(r) for r in rows])
        after = int(rows[-1]["id"])
        done += len(rows)
        if progress is not None:
            progress(done, total)
    return {"events": done, "counted": counted, "enrolments": entrants, "split_traces": members}


def _rebuild(begin: Callable[[], Any], factory: Callable[[Any], AnalyticsRepository], how: str, chunk: int) -> int:
    """The control groups (``rebuild_entrants``, from the enrolments) or the experiments' members
    (``rebuild_members``, from the split traces), ``chunk`` rows per transaction; rows read."""
    after, done = 0, 0
    while True:
        with begin() as conn:
            n, after = getattr(factory(conn), how)(after, chunk)
        if not n:
            return done
        done += n


def feed_rows(repo: AnalyticsRepository, rows: Sequence[Mapping[str, Any]]) -> int:
    """:func:`feed` for event rows as mappings (name, occurred_at, properties, value)."""
    return feed(repo, [_Row(r) for r in rows])
