"""Scores move: with the events the worker processes, and with time (decay).

:func:`score_events` is called by the journey engine with the events of a batch, in the
transaction that marks them processed (``JourneyEngine.process_contacts``), so an event moves a
score exactly once. :func:`decay_pass` runs beside the worker on a schedule (``ScoreDecayer``)
and pages through each decaying model's scores. Crossing a threshold emits a
``score.threshold_crossed`` event, stored unprocessed with the contact queued: journeys trigger
on it in the worker's next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tidings.application.ports.scoring import ScoringRepository
from tidings.application.scoring.models import LiveModel, UnknownModel, active_models, parsed
from tidings.domain.scoring.funnel import moves_of_crossings
from tidings.domain.scoring.model import THRESHOLD_EVENT, ScoringModel
from tidings.domain.scoring.records import HistoryRow, NewEvent, ScoreRow
from tidings.domain.scoring.score import (
    Crossing,
    ScoreState,
    apply_event,
    behaviour_anchor,
    explain,
    move_stage,
    stage_bands,
)
from tidings.domain.snapshot import ContactSnapshot, EventRecord

log = logging.getLogger("tidings.scoring")
DECAY_PAGE = 5000
#: a decayed score is written back only when it moved at least this much
DECAY_STEP = 0.01


@dataclass
class ScoringReport:
    scored: int = 0  # (contact, model) pairs whose score was recomputed
    changed: int = 0
    crossings: list[dict[str, Any]] = field(default_factory=list)


def _profile(model: ScoringModel, contact: ContactSnapshot, now: datetime) -> float:
    return sum(p.points for p in explain(model, ScoreState(), contact, now).parts)


def _current_stage(model: ScoringModel, row: ScoreRow | None, contact: ContactSnapshot | None) -> str | None:
    if model.writes_contact and contact is not None:
        return contact.lifecycle_stage
    return row.stage if row is not None else None


def _crossing_events(
    live: LiveModel, cid: int, crossings: Sequence[Crossing], score: float, at: datetime, cause: str
) -> list[NewEvent]:
    return [
        NewEvent(
            cid,
            THRESHOLD_EVENT,
            {
                "model": live.model.key,
                "stage": c.stage,
                "previous_stage": c.previous,
                "score": score,
                "threshold": c.threshold,
                "direction": c.direction,
            },
            at,
            f"score:{live.stored.id}:{cid}:{c.stage}:{c.direction}:{cause}",
        )
        for c in crossings
    ]


def _count_moves(
    repo: ScoringRepository, model_id: int, crossed: Sequence[tuple[str | None, str, str]], now: datetime
) -> None:
    """The stage funnel over time: these crossings added to today's (UTC) counts."""
    day = now.astimezone(UTC).date()
    repo.add_stage_moves(model_id, moves_of_crossings((day, f, t, d) for f, t, d in crossed))


def score_events(
    repo: ScoringRepository,
    snapshots: Mapping[int, ContactSnapshot],
    events: Mapping[int, Sequence[EventRecord]],
    now: datetime,
    *,
    in_worker: bool = True,
) -> ScoringReport:
    """Score these contacts' new events in every active model (one read and one write per model)."""
    report = ScoringReport()
    ids = sorted(c for c, evs in events.items() if evs and c in snapshots)
    if not ids:
        return report
    models = active_models(repo)
    for live in models:
        model, mid = live.model, live.stored.id
        rows = repo.scores(mid, ids)
        saved: list[ScoreRow] = []
        history: list[HistoryRow] = []
        contacts: list[tuple[int, float, str | None]] = []
        emitted: list[NewEvent] = []
        crossed: list[tuple[str | None, str, str]] = []
        for cid in ids:
            contact = snapshots[cid]
            row = rows.get(cid)
            state = ScoreState.from_dict(row.state if row else None)
            awards = []
            for e in sorted(events[cid], key=lambda e: (e.occurred_at, e.id or 0)):
                state, got = apply_event(model, state, e, now)
                awards += [(e, a) for a in got]
            x = explain(model, state, contact, now)
            profile = _profile(model, contact, now)
            old = row.score if row is not None else 0.0
            if row is None and not awards and not profile:
                continue  # nothing to keep for a contact the model does not score
            report.scored += 1
            stage_now = _current_stage(model, row, contact)
            stage, crossings = move_stage(model, stage_now, x.score)
            if x.score == old and stage == stage_now and row is not None and not awards and profile == row.profile:
                continue
            report.changed += 1
            anchor, anchor_at = behaviour_anchor(model, state)
            saved.append(ScoreRow(cid, mid, x.score, profile, stage, state.to_dict(), now, anchor, anchor_at))
            last = max((int(e.id or 0) for e in events[cid]), default=0)
            reason: dict[str, Any] = {
                "kind": "events",
                "awards": [
                    {"rule": a.rule_id, "points": a.points, "capped": a.capped, "event": e.name} for e, a in awards
                ],
                "sentence": x.sentence(),
            }
            history.append(HistoryRow(cid, mid, now, x.score, round(x.score - old, 2), stage, reason))
            if model.writes_contact:
                contacts.append((cid, x.score, stage if stage != stage_now else None))
            emitted += _crossing_events(live, cid, crossings, x.score, now, f"e{last}")
            crossed += [(c.previous, c.stage, c.direction) for c in crossings]
            report.crossings += [
                {"contact_id": cid, "model": model.key, "stage": c.stage, "direction": c.direction} for c in crossings
            ]
        repo.save_scores(saved)
        repo.add_history(history)
        repo.write_contacts(contacts)
        repo.add_events(emitted, now, enqueue_contacts=not in_worker)
        _count_moves(repo, mid, crossed, now)
    return report


def decay_pass(repo: ScoringRepository, now: datetime, *, page: int = DECAY_PAGE) -> ScoringReport:
    """Bring every decaying model's scores to ``now`` (profile points as of their last update).

    The scores move in one set-based statement per model (only those that move by
    :data:`DECAY_STEP` or more are written); then only the scores now outside their stage's band
    are read, a page at a time, and moved (a demotion rule, or negative points fading), each with
    a history row and a ``score.threshold_crossed`` event."""
    report = ScoringReport()
    for live in active_models(repo):
        model, mid = live.model, live.stored.id
        if model.decay is not None:
            moved = repo.decay_scores(mid, model.decay, now, DECAY_STEP)
            report.changed += moved
            if moved and model.writes_contact:
                repo.copy_to_contacts(mid, now)
        bands = stage_bands(model)
        after = 0
        while True:
            rows = repo.stage_misfits(mid, bands, after, page)
            if not rows:
                break
            after = rows[-1].contact_id
            staged: list[tuple[int, float, str | None]] = []
            history: list[HistoryRow] = []
            contacts: list[tuple[int, float, str | None]] = []
            emitted: list[NewEvent] = []
            crossed: list[tuple[str | None, str, str]] = []
            for row in rows:
                stage, crossings = move_stage(model, row.stage, row.score)
                if stage == row.stage:
                    continue
                staged.append((row.contact_id, row.score, stage))
                if model.writes_contact:
                    contacts.append((row.contact_id, row.score, stage))
                reason = {"kind": "decay", "sentence": f"decay moved the score to {row.score:g}"}
                history.append(HistoryRow(row.contact_id, mid, now, row.score, 0.0, stage, reason))
                emitted += _crossing_events(live, row.contact_id, crossings, row.score, now, f"d{now.isoformat()}")
                crossed += [(c.previous, c.stage, c.direction) for c in crossings]
                report.crossings += [
                    {"contact_id": row.contact_id, "model": model.key, "stage": c.stage, "direction": c.direction}
                    for c in crossings
                ]
            repo.set_decayed(mid, staged, now)
            repo.add_history(history)
            repo.write_contacts(contacts)
            repo.add_events(emitted, now)
            _count_moves(repo, mid, crossed, now)
            if len(rows) < page:
                break
    report.scored = report.changed
    return report


def rescore_contacts(repo: ScoringRepository, contact_ids: Sequence[int], now: datetime) -> ScoringReport:
    """Recompute profile points (after a change to the contact outside events) and stages now."""
    snaps = repo.snapshots(contact_ids)
    marker = EventRecord(name="score.recompute", occurred_at=now)
    return score_events(repo, snaps, {c: [marker] for c in snaps}, now, in_worker=False)


def explain_contact(
    repo: ScoringRepository, contact_id: int, now: datetime, *, history: int = 20
) -> list[dict[str, Any]]:
    """Per model: the score now, its stage, the explanation and the latest history."""
    snaps = repo.snapshots([contact_id])
    contact = snaps.get(contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    rows = {r.model_id: r for r in repo.contact_scores(contact_id)}
    out = []
    for stored in repo.models():
        model = parsed(stored)
        row = rows.get(stored.id)
        state = ScoreState.from_dict(row.state if row else None)
        x = explain(model, state, contact, now)
        out.append(
            {
                "model": stored.key,
                "name": stored.name,
                "active": stored.active,
                "score": x.score,
                "stage": _current_stage(model, row, contact),
                "sentence": x.sentence(),
                "decay": x.decay,
                "parts": [{"rule": p.rule_id, "label": p.label, "points": p.points, "count": p.count} for p in x.parts],
                "history": [
                    {
                        "at": h.at.isoformat(),
                        "score": h.score,
                        "delta": h.delta,
                        "stage": h.stage,
                        "reason": h.reason.get("sentence"),
                    }
                    for h in repo.history(contact_id, stored.id, history)
                ],
            }
        )
    return out


def stage_funnel(repo: ScoringRepository, key: str) -> dict[str, Any]:
    """How many contacts a model holds in each of its stages, and the share that reached the next."""
    stored = repo.model(key)
    if stored is None:
        raise UnknownModel(key)
    model = parsed(stored)
    counts = repo.stage_counts(stored.id)
    stages = list(model.stages)
    at_least = {s: sum(counts.get(x, 0) for x in stages[i:]) for i, s in enumerate(stages)}
    at_least[stages[0]] += counts.get(None, 0)
    rows = []
    for i, s in enumerate(stages):
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        rate = (at_least[nxt] / at_least[s]) if nxt and at_least[s] else None
        rows.append(
            {
                "stage": s,
                "contacts": counts.get(s, 0) + (counts.get(None, 0) if i == 0 else 0),
                "reached": at_least[s],
                "to_next": None if rate is None else round(rate, 4),
            }
        )
    return {"model": key, "stages": rows, "total": sum(counts.values())}
