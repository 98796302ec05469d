"""Live experiments: the split steps of published journeys that carry an ``experiment:`` block.

Counts come from what the engine and the channels record (``experiment_members``, one row per
contact written at split time, counted per variant in SQL; the goal events after each member's
pass); the statistics and the sentence from ``tidings.domain.experiments``. ``review`` is the
automatic rollout: when an experiment with ``rollout: true`` has reached its planned sample and
has a winner, the decision is recorded and the split step sends everyone to the winner from then
on (each contact's split trace says so).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.application.ports.measurement import AnalyticsStore, JourneyHead
from tidings.domain.experiments.errors import FieldError
from tidings.domain.experiments.report import answer, plan_dict
from tidings.domain.experiments.spec import ExperimentSpec, Outcome, count_members, spec_from_step
from tidings.domain.experiments.stats import StatsInputError, plan
from tidings.domain.experiments.verdict import review_date
from tidings.domain.journeys import conditions
from tidings.domain.journeys.document import parse_journey
from tidings.domain.snapshot import EventRecord


class ExperimentNotFound(LookupError):
    pass


class DecisionError(FieldError):
    """A manual decision that cannot be taken (``winner``, ``reason``), naming the field."""


class AlreadyDecided(RuntimeError):
    """The experiment was decided before (automatically or by someone): one decision per experiment."""


#: the longest reason a manual decision keeps.
MAX_REASON = 2000


def _specs(store: AnalyticsStore) -> list[tuple[JourneyHead, ExperimentSpec]]:
    out = []
    for head in store.journey_heads():
        if not head.source:
            continue
        doc = parse_journey(head.source)
        for sid, step in doc.steps.items():
            if step.type != "split":
                continue
            spec = spec_from_step(doc.key, sid, step.config, step.rules.get("experiment.where"))
            if spec is not None:
                out.append((head, spec))
    return out


def _matcher(now: datetime) -> Any:
    def matches(where: Any, o: Outcome) -> bool:
        record = EventRecord(name=o.name, occurred_at=o.at, properties=o.properties, value=o.value)
        return bool(conditions.matches_event(where, record, now))

    return matches


def _report(store: AnalyticsStore, head: JourneyHead, spec: ExperimentSpec, now: datetime) -> dict[str, Any]:
    exposed, started = store.member_counts(head.id, spec.step)
    reads_properties = spec.metric in ("click", "open") or spec.where is not None  # see spec._converted
    outcomes = store.member_outcomes(head.id, spec.step, spec.events, reads_properties)
    arms = count_members(spec, exposed, outcomes, journey_id=head.id, matches=_matcher(now))
    planned = (
        plan(spec.baseline, spec.mde, spec.power, spec.alpha, len(spec.variants))
        if spec.baseline is not None and spec.mde is not None
        else None
    )
    review = review_date(planned.per_variant, [a.exposed for a in arms], started, now) if planned else None
    decision = store.decisions().get(spec.key)
    result: dict[str, Any] | None
    try:
        result = answer(
            arms,
            spec.metric_label,
            per_variant=planned.per_variant if planned else None,
            mde=spec.mde,
            review=review,
        )
        state = result["status"]
    except StatsInputError as exc:
        result, state = None, "collecting"
        waiting = f"waiting for exposures ({exc.message})"
    out: dict[str, Any] = {
        "key": spec.key,
        "name": spec.name,
        "journey": head.key,
        "journey_status": head.status,
        "version": head.version,
        "step": spec.step,
        "metric": spec.metric,
        "metric_label": spec.metric_label,
        "event": spec.event,
        "window_days": spec.window.total_seconds() / 86400,
        "variants": [{"name": v, "weight": w} for v, w in spec.variants],
        "exposed": {a.name: a.exposed for a in arms},
        "converted": {a.name: a.converted for a in arms},
        "plan": plan_dict(planned) if planned else None,
        "started_at": started.isoformat() if started else None,
        "review_date": review.isoformat() if review else None,
        "rollout": spec.rollout,
        "state": "rolled_out" if decision else state,
        "result": result,
        "verdict": result["verdict"] if result else waiting,
        "decision": _decision(decision),
    }
    if decision:
        out["verdict"] = f"Rolled out {decision['winner']} to everyone on {decision['decided_at']:%d %B %Y}: " + str(
            decision["verdict"]
        )
    return out


def _decision(row: Any) -> dict[str, Any] | None:
    if not row:
        return None
    return {
        "winner": row["winner"],
        "verdict": row["verdict"],
        "decided_at": row["decided_at"].isoformat(),
        "decided_by": row["decided_by"],
    }


def list_experiments(store: AnalyticsStore, now: datetime) -> list[dict[str, Any]]:
    """Every live experiment with its state and verdict."""
    return [_report(store, head, spec, now) for head, spec in _specs(store)]


def _find(store: AnalyticsStore, key: str) -> tuple[JourneyHead, ExperimentSpec]:
    for head, spec in _specs(store):
        if spec.key == key:
            return head, spec
    raise ExperimentNotFound(f"no experiment {key!r} (keys are <journey key>.<split step id>)")


def show_experiment(store: AnalyticsStore, key: str, now: datetime) -> dict[str, Any]:
    head, spec = _find(store, key)
    return _report(store, head, spec, now)


def decide(
    store: AnalyticsStore, key: str, winner: str, reason: str | None, now: datetime, by: str | None
) -> dict[str, Any]:
    """A person's decision: ``winner`` goes to everyone from now on, as the automatic rollout does
    (the split step sends every later contact to it; their split trace says ``rollout: true``).
    Recorded once, with who decided, why, and the counts and verdict at that moment."""
    head, spec = _find(store, key)
    names = [v for v, _ in spec.variants]
    if winner not in names:
        raise DecisionError("winner", f"one of the variants {', '.join(names)}, got {winner!r}")
    if reason is not None and len(reason) > MAX_REASON:
        raise DecisionError("reason", f"at most {MAX_REASON} characters, got {len(reason)}")
    rep = _report(store, head, spec, now)
    if rep["decision"]:
        d = rep["decision"]
        raise AlreadyDecided(f"{key} was decided on {d['decided_at']}: {d['winner']} ({d['decided_by'] or 'rollout'})")
    who = by or "an operator"
    verdict = f"{winner} chosen by {who}" + (f": {reason}" if reason else "") + f" (the test said: {rep['verdict']})"
    detail = {
        "manual": True,
        "reason": reason,
        "state_at_decision": rep["state"],
        "result": rep["result"],
        "exposed": rep["exposed"],
        "converted": rep["converted"],
    }
    if not store.record_decision(spec.key, head.id, spec.step, winner, verdict, detail, now, who):
        raise AlreadyDecided(f"{key} was decided meanwhile")
    return _report(store, head, spec, now)


def review(store: AnalyticsStore, now: datetime) -> list[dict[str, Any]]:
    """Roll out the winners of experiments with ``rollout: true`` that reached their review point.

    The review point is the planned sample per variant (``baseline`` + ``mde``); without a plan
    an experiment is never rolled out automatically. Returns the decisions recorded now."""
    done = []
    for head, spec in _specs(store):
        if not spec.rollout or spec.baseline is None:
            continue
        rep = _report(store, head, spec, now)
        res, planned = rep["result"], rep["plan"]
        if rep["state"] != "winner" or res is None or planned is None:
            continue
        if min(rep["exposed"].values()) < planned["per_variant"]:
            continue
        detail = {"result": res, "plan": planned, "exposed": rep["exposed"], "converted": rep["converted"]}
        if store.record_decision(spec.key, head.id, spec.step, res["winner"], res["verdict"], detail, now, None):
            done.append({"key": spec.key, "winner": res["winner"], "verdict": res["verdict"]})
    return done
