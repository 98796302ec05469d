"""HTTP routes: ready-made journeys (recipes): list, check, simulate, install.

``POST /api/recipes/{name}/install`` answers 422 ``recipe_requirements`` with one detail per
missing thing (a channel, a contact attribute, a template variable with no data) unless
``force`` is set; installing twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tidings.api.deps import RequireRead, RequireWrite, container
from tidings.api.errors import ApiError
from tidings.api.routing import StrictRoute
from tidings.application.recipes import recipes as service
from tidings.domain.journeys.model import JourneyError

router = APIRouter(tags=["recipes"], route_class=StrictRoute)


class InstallIn(BaseModel):
    parameters: dict[str, Any] = Field(default_factory=dict, description="recipe parameters, e.g. first_delay")
    force: bool = Field(default=False, description="install even when something is missing")
    replace: bool = Field(default=False, description="overwrite templates/journeys edited since")


def _recipe(name: str) -> service.Recipe:
    try:
        return service.load_recipe(name)
    except service.RecipeError as exc:
        raise ApiError(404, "not_found", str(exc), [{"loc": ["path", "name"], "msg": "no such recipe"}]) from None


def _bad_parameters(exc: Exception) -> ApiError:
    return ApiError(422, "validation_error", str(exc), [{"loc": ["body", "parameters"], "msg": str(exc)}])


@router.get("/api/recipes", dependencies=[RequireRead])
def list_recipes() -> dict[str, Any]:
    return {"items": [r.summary() for r in service.list_recipes()]}


@router.get("/api/recipes/{name}", dependencies=[RequireRead])
def get_recipe(request: Request, name: str) -> dict[str, Any]:
    """The recipe, its journey document and what this installation lacks to run it."""
    recipe = _recipe(name)
    problems = service.check(container(request), recipe)
    return {
        **recipe.summary(),
        "journey": recipe.journey_source(),
        "problems": [p.to_dict() for p in problems],
    }


@router.post("/api/recipes/{name}/simulate", dependencies=[RequireRead])
def simulate_recipe(name: str, body: InstallIn | None = None) -> dict[str, Any]:
    recipe = _recipe(name)
    try:
        return service.simulate_recipe(recipe, (body.parameters if body else None) or None).to_dict()
    except (service.RecipeError, JourneyError) as exc:
        raise _bad_parameters(exc) from None


@router.post("/api/recipes/{name}/install", dependencies=[RequireWrite])
def install_recipe(request: Request, name: str, body: InstallIn | None = None) -> dict[str, Any]:
    _recipe(name)
    body = body or InstallIn()
    try:
        result = service.install(
            container(request),
            name,
            body.parameters or None,
            ignore_problems=body.force,
            replace=body.replace,
        )
    except (service.RecipeError, JourneyError) as exc:
        raise _bad_parameters(exc) from None
    if not result["installed"]:
        errors = [p for p in result["problems"] if p["severity"] == "error"]
        raise ApiError(
            422,
            "recipe_requirements",
            f"recipe {name} cannot run here: " + "; ".join(p["message"] for p in errors),
            [{"loc": ["recipe", p["kind"]], "msg": p["message"]} for p in errors],
        )
    return result
