"""HTTP routes: experiments — plan a sample, evaluate counts, the live experiments of journeys.

Bad input is a 422 whose details name the field (``variants.1.exposed``, ``mde``...).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.access.keys import ApiKey
from tidings.application.analytics import experiments as ex
from tidings.domain.experiments.errors import FieldError
from tidings.domain.experiments.report import answer, plan_dict
from tidings.domain.experiments.stats import Arm, StatsInputError, plan
from tidings.store.measurement import SqlAnalyticsStore

router = APIRouter(tags=["experiments"], route_class=StrictRoute)


class PlanBody(BaseModel):
    baseline: float = Field(description="today's rate of the goal metric, e.g. 0.10")
    mde: float = Field(description="minimum detectable effect, absolute: 0.02 = +2 points")
    power: float = 0.8
    alpha: float = 0.05
    variants: int = 2


class VariantCounts(BaseModel):
    name: str
    exposed: int
    converted: int
    weight: float = 1.0


class DecisionBody(BaseModel):
    winner: str = Field(description="the variant to send everyone to from now on")
    reason: str | None = Field(None, description="why (kept with the decision)")


class EvaluateBody(BaseModel):
    variants: list[VariantCounts] = Field(description="the first is the control")
    metric: str = "conversions"
    per_variant: int | None = None
    mde: float | None = None


def field_error(exc: FieldError, root: str = "body") -> ApiError:
    """A 422 naming the field: ``variants[1].exposed`` becomes the loc ``["body", "variants", "1", "exposed"]``."""
    return ApiError(422, "validation_error", str(exc), [{"loc": [root, *exc.loc], "msg": exc.message}])


@router.post("/api/experiments/plan", dependencies=[RequireRead])
def plan_experiment(body: PlanBody) -> dict[str, Any]:
    """People needed per variant (two-proportion power analysis)."""
    try:
        return plan_dict(plan(body.baseline, body.mde, body.power, body.alpha, body.variants))
    except StatsInputError as exc:
        raise field_error(exc) from exc


@router.post("/api/experiments/evaluate", dependencies=[RequireRead])
def evaluate_experiment(body: EvaluateBody) -> dict[str, Any]:
    """Winner, chance to beat, expected loss, p-value, SRM and a verdict sentence, from counts."""
    arms = [Arm(v.name, v.exposed, v.converted, v.weight) for v in body.variants]
    try:
        return answer(arms, body.metric, per_variant=body.per_variant, mde=body.mde)
    except StatsInputError as exc:
        raise field_error(exc) from exc


@router.get("/api/experiments", dependencies=[RequireRead])
def list_experiments(request: Request) -> dict[str, Any]:
    """Live experiments: split steps of published journeys with an ``experiment:`` block."""
    c = container(request)
    with c.engine.connect() as conn:
        return {"items": ex.list_experiments(SqlAnalyticsStore(conn), c.clock.now())}


@router.get("/api/experiments/{key}", dependencies=[RequireRead])
def get_experiment(key: str, request: Request) -> dict[str, Any]:
    c = container(request)
    with c.engine.connect() as conn:
        try:
            return ex.show_experiment(SqlAnalyticsStore(conn), key, c.clock.now())
        except ex.ExperimentNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc


@router.post("/api/experiments/review", dependencies=[RequireWrite])
def review_experiments(request: Request) -> dict[str, Any]:
    """Roll out the winners of experiments with ``rollout: true`` that reached their review point."""
    c = container(request)
    with c.engine.begin() as conn:
        return {"rolled_out": ex.review(SqlAnalyticsStore(conn), c.clock.now())}


@router.post("/api/experiments/{key}/decision")
def decide_experiment(key: str, body: DecisionBody, request: Request, api_key: ApiKey = RequireWrite) -> dict[str, Any]:
    """Decide by hand: ``winner`` goes to everyone from now on (as the automatic rollout does),
    recorded once with the reason and the counts at that moment. 409 when already decided."""
    c = container(request)
    with c.engine.begin() as conn:
        try:
            by = f"api key {api_key.name}"
            return ex.decide(SqlAnalyticsStore(conn), key, body.winner, body.reason, c.clock.now(), by)
        except ex.ExperimentNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        except ex.DecisionError as exc:
            raise field_error(exc) from exc
        except ex.AlreadyDecided as exc:
            raise ApiError(409, "conflict", str(exc)) from exc

