"""The stage funnel over time of a scoring model (``domain/scoring/funnel``): read from the
per-day ``stage_moves`` counts the scoring adds to as thresholds are crossed, and rebuilt from the
``score.threshold_crossed`` events (for moves made before the counts existed)."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any

from tidings.application.ports.scoring import ScoringRepository
from tidings.application.scoring.models import UnknownModel, parsed
from tidings.domain.scoring.funnel import check_range, funnel_over_time, moves_of_crossings

#: the range a report covers when none is given: the last twelve weeks
DEFAULT_DAYS = 7 * 12
REBUILD_PAGE = 5000


def stage_funnel_over_time(
    repo: ScoringRepository,
    key: str,
    today: date,
    *,
    since: date | None = None,
    until: date | None = None,
    over: str = "week",
) -> dict[str, Any]:
    """Per period from ``since`` to ``until`` (default: the last twelve weeks to ``today``), the
    contacts moved into each of the model's stages and the flow to the next stage."""
    stored = repo.model(key)
    if stored is None:
        raise UnknownModel(key)
    until = until or today
    since = since or (until - timedelta(days=DEFAULT_DAYS - 1))
    period = check_range(since, until, over)
    stages = list(parsed(stored).stages)
    out = funnel_over_time(stages, repo.stage_moves(stored.id, since, until), since, until, period)
    return {"model": key, "stages": stages, **out}


def rebuild_stage_moves(repo: ScoringRepository, *, page: int = REBUILD_PAGE) -> dict[str, int]:
    """Recount every model's ``stage_moves`` from its ``score.threshold_crossed`` events.

    Runs in the caller's unit of work (one transaction: the counts are never half rebuilt).
    Returns the events counted per model key; events of a model that no longer exists are skipped."""
    ids = {m.key: m.id for m in repo.models()}
    for mid in ids.values():
        repo.reset_stage_moves(mid)
    counted = {k: 0 for k in ids}
    after = 0
    while True:
        rows = repo.threshold_events(after, page)
        if not rows:
            break
        after = rows[-1][0]
        per_model: dict[str, list[tuple[date, str | None, str, str]]] = {}
        for _, at, props in rows:
            key, stage = props.get("model"), props.get("stage")
            if key not in ids or not isinstance(stage, str):
                continue
            prev = props.get("previous_stage")
            direction = props.get("direction") if props.get("direction") in ("up", "down") else "up"
            per_model.setdefault(str(key), []).append(
                (at.astimezone(UTC).date(), prev if isinstance(prev, str) else None, stage, str(direction))
            )
        for key, crossings in per_model.items():
            repo.add_stage_moves(ids[key], moves_of_crossings(crossings))
            counted[key] += len(crossings)
        if len(rows) < page:
            break
    return counted
