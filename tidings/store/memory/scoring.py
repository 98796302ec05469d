"""The scoring repository in memory: the twin of ``store/scoring_sql.py`` (same contract tests)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from tidings.domain.scoring.funnel import StageMove
from tidings.domain.scoring.model import THRESHOLD_EVENT, Decay, ScoringModel
from tidings.domain.scoring.records import DecayRow, HistoryRow, NewEvent, ScoreRow, StoredModel
from tidings.domain.scoring.score import decayed_from
from tidings.domain.snapshot import PROFILE_FIELDS, ContactSnapshot
from tidings.store.memory.state import MemoryStore


def _decay_only(decay: Decay) -> ScoringModel:
    return ScoringModel("", "", "", (), (), decay, (), (), False, {})


class MemoryScoring:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _s(self) -> Any:
        return self.store.state

    def models(self, *, active_only: bool = False) -> list[StoredModel]:
        return [m for k, m in sorted(self._s.scoring_models.items()) if m.active or not active_only]

    def model(self, key: str) -> StoredModel | None:
        m: StoredModel | None = self._s.scoring_models.get(key)
        return m

    def save_model(self, key: str, name: str, document: str, now: datetime) -> StoredModel:
        old = self.model(key)
        if old is not None and old.document == document and old.name == name:
            return old
        if old is None:
            m = StoredModel(self._s.next_id("scoring_models"), key, name, 1, document, True, now)
        else:
            m = replace(old, name=name, version=old.version + 1, document=document, updated_at=now)
        self._s.scoring_models[key] = m
        self._s.scoring_versions[(m.id, m.version)] = (document, now)
        return m

    def set_active(self, key: str, active: bool, now: datetime) -> bool:
        old = self.model(key)
        if old is None:
            return False
        self._s.scoring_models[key] = replace(old, active=active, updated_at=now)
        return True

    def model_versions(self, model_id: int) -> list[tuple[int, datetime]]:
        return sorted((v, at) for (mid, v), (_, at) in self._s.scoring_versions.items() if mid == model_id)

    def scores(self, model_id: int, contact_ids: Sequence[int]) -> dict[int, ScoreRow]:
        got = {c: self._s.contact_scores.get((c, model_id)) for c in set(contact_ids)}
        return {c: copy.deepcopy(r) for c, r in got.items() if r is not None}

    def contact_scores(self, contact_id: int) -> list[ScoreRow]:
        return [copy.deepcopy(r) for (c, _), r in sorted(self._s.contact_scores.items()) if c == contact_id]

    def save_scores(self, rows: Sequence[ScoreRow]) -> None:
        for r in rows:
            self._s.contact_scores[(r.contact_id, r.model_id)] = copy.deepcopy(r)

    def decay_page(self, model_id: int, after_contact_id: int, limit: int) -> list[DecayRow]:
        rows = sorted((c, r) for (c, m), r in self._s.contact_scores.items() if m == model_id and c > after_contact_id)
        return [DecayRow(c, r.score, r.profile, r.stage, r.behaviour, r.behaviour_at) for c, r in rows[:limit]]

    def set_decayed(self, model_id: int, rows: Sequence[tuple[int, float, str | None]], now: datetime) -> None:
        for cid, score, stage in rows:
            old = self._s.contact_scores[(cid, model_id)]
            self._s.contact_scores[(cid, model_id)] = replace(old, score=score, stage=stage, updated_at=now)

    def decay_scores(self, model_id: int, decay: Decay, now: datetime, step: float) -> int:
        model = _decay_only(decay)
        n = 0
        for (cid, mid), r in list(self._s.contact_scores.items()):
            if mid != model_id or r.behaviour_at is None:
                continue
            new = round(r.profile + decayed_from(model, r.behaviour, r.behaviour_at, now), 2)
            if abs(new - r.score) >= step:
                self._s.contact_scores[(cid, mid)] = replace(r, score=new, updated_at=now)
                n += 1
        return n

    def stage_misfits(
        self, model_id: int, bands: Sequence[tuple[str | None, float | None, float | None]], after: int, limit: int
    ) -> list[DecayRow]:
        by_stage = {s: (lo, hi) for s, lo, hi in bands}
        out = []
        for (cid, mid), r in sorted(self._s.contact_scores.items()):
            if mid != model_id or cid <= after or r.stage not in by_stage:
                continue
            lo, hi = by_stage[r.stage]
            if (lo is not None and r.score < lo) or (hi is not None and r.score >= hi):
                out.append(DecayRow(cid, r.score, r.profile, r.stage, r.behaviour, r.behaviour_at))
        return out[:limit]

    def copy_to_contacts(self, model_id: int, since: datetime) -> None:
        for (cid, mid), r in self._s.contact_scores.items():
            if mid == model_id and r.updated_at >= since and cid in self._s.contacts:
                self._s.contacts[cid]["score"] = r.score

    def add_history(self, rows: Sequence[HistoryRow]) -> None:
        self._s.score_history.extend(copy.deepcopy(list(rows)))

    def history(self, contact_id: int, model_id: int, limit: int) -> list[HistoryRow]:
        mine = [
            (i, h) for i, h in enumerate(self._s.score_history) if (h.contact_id, h.model_id) == (contact_id, model_id)
        ]
        mine.sort(key=lambda x: (x[1].at, x[0]), reverse=True)
        return [copy.deepcopy(h) for _, h in mine[:limit]]

    def stage_counts(self, model_id: int) -> dict[str | None, int]:
        return dict(Counter(r.stage for (_, m), r in self._s.contact_scores.items() if m == model_id))

    def add_stage_moves(self, model_id: int, moves: Sequence[StageMove]) -> None:
        table = self._s.stage_moves
        for m in moves:
            key = (model_id, m.day, m.from_stage or "", m.to_stage, m.direction)
            table[key] = table.get(key, 0) + m.moved

    def stage_moves(self, model_id: int, since: date, until: date) -> list[StageMove]:
        rows = sorted(k + (n,) for k, n in self._s.stage_moves.items() if k[0] == model_id and since <= k[1] <= until)
        return [StageMove(d, f or None, t, dr, n) for _, d, f, t, dr, n in rows]

    def reset_stage_moves(self, model_id: int) -> None:
        for key in [k for k in self._s.stage_moves if k[0] == model_id]:
            del self._s.stage_moves[key]

    def threshold_events(self, after_id: int, limit: int) -> list[tuple[int, datetime, dict[str, Any]]]:
        rows = sorted(
            (e["id"], e["occurred_at"], copy.deepcopy(dict(e["properties"] or {})))
            for e in self._s.events
            if e["name"] == THRESHOLD_EVENT and e["id"] > after_id
        )
        return rows[:limit]

    def snapshots(self, contact_ids: Sequence[int]) -> dict[int, ContactSnapshot]:
        out = {}
        for cid in contact_ids:
            row = self._s.contacts.get(cid)
            if row is None:
                continue
            fields = {k: row.get(k) for k in PROFILE_FIELDS}
            fields["score"] = float(fields.get("score") or 0)
            out[cid] = ContactSnapshot(
                id=cid,
                created_at=row.get("created_at"),
                attributes=dict(row.get("attributes") or {}),
                tags=frozenset(self._s.contact_tags.get(cid, [])),
                **fields,
            )
        return out

    def write_contacts(self, rows: Sequence[tuple[int, float, str | None]]) -> None:
        for cid, score, stage in rows:
            if cid in self._s.contacts:
                self._s.contacts[cid]["score"] = score
                if stage is not None:
                    self._s.contacts[cid]["lifecycle_stage"] = stage

    def add_events(self, events: Sequence[NewEvent], now: datetime, *, enqueue_contacts: bool = True) -> None:
        have = {e.get("message_id") for e in self._s.events}
        for e in events:
            if e.message_id in have:
                continue
            have.add(e.message_id)
            self._s.events.append(
                {
                    "id": self._s.next_id("events"),
                    "contact_id": e.contact_id,
                    "name": e.name,
                    "properties": copy.deepcopy(dict(e.properties)),
                    "occurred_at": e.occurred_at,
                    "received_at": now,
                    "message_id": e.message_id,
                    "source": "scoring",
                    "value": None,
                    "processed_at": None,
                }
            )
            if enqueue_contacts:
                self._s.queued_contacts.add(e.contact_id)
