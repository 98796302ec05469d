"""`tidings recipes list | show NAME | check NAME | install NAME [--all] | simulate NAME`: ready-made journeys.

Install exits 1 and prints exactly what is missing (a channel, a contact attribute, a template
variable with no data) when a recipe cannot run here; ``--force`` installs anyway.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tidings.cli import common

app = typer.Typer(help="Ready-made journeys (thirteen common automations): list, show, check, install, simulate.",
                  no_args_is_help=True)  # fmt: skip

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="a recipe parameter, NAME=VALUE (repeatable)")]


def _recipe(name: str) -> Any:
    from tidings.application.recipes import recipes as r

    try:
        return r.load_recipe(name)
    except r.RecipeError as exc:
        common.fail(str(exc))


def _params(pairs: list[str] | None) -> dict[str, Any]:
    from tidings.application.recipes import recipes as r

    try:
        return r.parse_params(pairs or [])
    except r.RecipeError as exc:
        common.fail(str(exc))


@app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every recipe with its channels and templates."""
    from tidings.application.recipes import recipes as r

    items = [x.summary() for x in r.list_recipes()]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table("name", "title", "channels", "templates", "parameters")
    for x in items:
        table.add_row(
            x["name"],
            x["title"],
            ", ".join(x["channels"]),
            str(len(x["templates"])),
            ", ".join(p["name"] for p in x["parameters"]),
        )
    common.console.print(table)


@app.command("show")
def show_command(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One recipe: its channels, events, teams, templates, parameters and scoring model."""
    recipe = _recipe(name)
    x = recipe.summary() | {"teams": list(recipe.teams)}
    if as_json:
        print(json.dumps(x, indent=2))
        return
    out = common.console.print
    out(f"[bold]{x['name']}[/]: {x['title']}", highlight=False)
    out(f"  {x['description']}", highlight=False)
    optional = f" (optional: {', '.join(x['optional_channels'])})" if x["optional_channels"] else ""
    out(f"  channels: {', '.join(x['channels'])}{optional}", highlight=False)
    out(f"  events: {', '.join(x['events']) or '-'}", highlight=False)
    out(f"  teams: {', '.join(x['teams']) or '-'}", highlight=False)
    out(f"  templates: {', '.join(x['templates'])}", highlight=False)
    if x["scoring"]:
        out(f"  scoring model: {x['scoring']['key']} ({x['scoring']['name']})", highlight=False)
    for p in x["parameters"]:
        out(f"  --set {p['name']}=...  {p['help']} (default {p['default']})", highlight=False)


def _print_problems(problems: list[dict[str, str]]) -> None:
    for p in problems:
        colour = "red" if p["severity"] == "error" else "yellow"
        common.console.print(f"  [{colour}]{p['severity']}[/] ({p['kind']}) {p['message']}", highlight=False)


@app.command("check")
def check_command(name: str, set_: SetOpt = None) -> None:
    """What the recipe needs that this installation lacks (exit 1 on an error)."""
    from tidings.application.recipes import recipes as r

    recipe = _recipe(name)
    c = common.open_container()
    try:
        problems = [p.to_dict() for p in r.check(c, recipe, _params(set_))]
    except r.RecipeError as exc:
        common.fail(str(exc))
    if not problems:
        common.console.print(f"{name}: ready to install")
        return
    _print_problems(problems)
    if any(p["severity"] == "error" for p in problems):
        raise typer.Exit(1)


@app.command("install")
def install_command(
    name: Annotated[str | None, typer.Argument(help="recipe name (see `tidings recipes list`)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="install every recipe")] = False,
    set_: SetOpt = None,
    force: Annotated[bool, typer.Option("--force", help="install even when something is missing")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite templates and journeys edited since the last install")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Upsert the recipe's templates and publish its journey (installing twice changes nothing)."""
    from tidings.application.recipes import recipes as r
    from tidings.domain.journeys.model import JourneyError

    if all_ == (name is not None):
        common.fail("name one recipe, or use --all")
    if all_ and set_:
        common.fail("--set applies to one recipe, not --all")
    names = r.names() if all_ else [_recipe(str(name)).name]
    params = _params(set_)
    c = common.open_container()
    results = []
    for n in names:
        try:
            results.append(r.install(c, n, params or None, ignore_problems=force, replace=replace))
        except (r.RecipeError, JourneyError) as exc:
            common.fail(f"{n}: {exc}")
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for res in results:
            _print_result(res)
    if not all(res["installed"] for res in results):
        raise typer.Exit(1)


def _print_result(res: dict[str, Any]) -> None:
    if res["installed"]:
        j = res["journey"]
        made = sum(t["status"] in ("created", "replaced") for t in res["templates"])
        kept = [t["key"] for t in res["templates"] if t["status"] == "kept"]
        common.console.print(
            f"[green]{res['recipe']}[/]: journey {j['key']} v{j['version']} ({j['status']}), "
            f"{made} template(s) written, {len(res['templates']) - made} unchanged",
            highlight=False,
        )
        if kept:
            common.console.print(f"  kept your edited templates: {', '.join(kept)} (--replace to overwrite)")
        if j["status"] == "kept":
            common.console.print("  kept your edited journey (--replace to overwrite)")
        model = res.get("scoring")
        if model:
            common.console.print(
                f"  scoring model {model['key']} v{model['version']} ({model['status']})"
                + (": kept your edited model (--replace to overwrite)" if model["status"] == "kept" else ""),
                highlight=False,
            )
    else:
        common.console.print(f"[red]{res['recipe']}[/]: not installed, missing:", highlight=False)
    _print_problems(res["problems"])


@app.command("simulate")
def simulate_command(
    name: str,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Run the recipe's scenarios on a virtual clock (no database): timelines and coverage."""
    from tidings.application.recipes import recipes as r
    from tidings.cli.simulate import _print as print_simulation

    recipe = _recipe(name)
    try:
        result = r.simulate_recipe(recipe, _params(set_))
    except r.RecipeError as exc:
        common.fail(str(exc), 2)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_simulation(result, recipe.title)
    if not result.ok:
        raise typer.Exit(1)
