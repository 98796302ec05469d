"""`tidings simulate JOURNEY_FILE --scenario SCENARIO_FILE [--json]`: test a journey before it runs.

Runs the real state machine on a virtual clock (no database, no network); exits 1 when a
scenario's expectation fails, 2 when a file is invalid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import common


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)


def simulate_command(
    scenario: Annotated[Path, typer.Option("--scenario", "-s", help="scenario file (YAML or JSON)")],
    journey_file: Annotated[Path | None, typer.Argument(help="journey document (YAML or JSON)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    all_published: Annotated[
        bool, typer.Option("--all-published", help="run every active journey together (database, stored policy)")
    ] = False,
    policy: Annotated[Path | None, typer.Option("--policy", help="send policy file applied to the journey")] = None,
) -> None:
    """Run a journey against scripted contacts on a virtual clock and report timelines and coverage."""
    import yaml

    if all_published:
        from tidings.cli.simulate_all import run_all

        run_all(scenario, as_json)
        return
    if journey_file is None:
        common.fail("name a journey file, or use --all-published", 2)

    from tidings.domain.journeys.document import parse_journey
    from tidings.domain.journeys.model import JourneyError
    from tidings.domain.journeys.scenarios import ScenarioError, load_scenarios
    from tidings.domain.journeys.simulate import simulate
    from tidings.domain.journeys.yamlines import load, plain

    try:
        text = journey_file.read_text(encoding="utf-8")
        scenario_text = scenario.read_text(encoding="utf-8")
    except OSError as exc:
        common.fail(f"cannot read {exc.filename}: {exc.strerror}", 2)
    try:
        doc = parse_journey(text)
    except JourneyError as exc:
        common.fail(f"{journey_file}: {exc}", 2)
    try:
        scenarios, start, horizon = load_scenarios(plain(load(scenario_text)))
        result = simulate(doc, scenarios, start=start, horizon=horizon, policy=_policy(policy))
    except (ScenarioError, yaml.YAMLError) as exc:
        common.fail(f"{scenario}: {exc}", 2)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print(result, doc.name)
    if not result.ok:
        raise typer.Exit(1)


def _policy(path: Path | None) -> object:
    """The send policy from a file (no file: none; the database's is used by --all-published)."""
    if path is None:
        return None
    from tidings.application.control.policies import parse_text
    from tidings.domain.control.policy import PolicyError, parse_policy

    try:
        return parse_policy(parse_text(path.read_text(encoding="utf-8")))
    except OSError as exc:
        common.fail(f"cannot read {path}: {exc.strerror}", 2)
    except PolicyError as exc:
        common.fail(f"{path}: {exc}", 2)


def _print(result: object, name: str) -> None:
    from tidings.domain.journeys.simulate import SimulationResult, _rel

    assert isinstance(result, SimulationResult)
    console = common.console
    console.print(f"[bold]{name}[/] — {len(result.scenarios)} scenario(s) on a virtual clock")
    for sc in result.scenarios:
        colour = {"converted": "green", "completed": "cyan", "waiting": "yellow"}.get(sc.outcome, "magenta")
        reason = f" ({sc.end_reason})" if sc.end_reason and sc.end_reason != sc.outcome else ""
        console.print(f"\n[bold]{sc.name}[/]  outcome: [{colour}]{sc.outcome}[/]{reason}")
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("offset", "at (UTC)", "step", "channel", "template"):
            table.add_column(col)
        for t in sc.timeline:
            table.add_row(
                f"+{_rel(t.at - sc.start)}", t.at.strftime("%Y-%m-%d %a %H:%M"), t.step, t.channel, t.template
            )
        if sc.timeline:
            console.print(table)
        else:
            console.print("  (no messages)")
        for at, change in sc.changes:
            what = ", ".join(f"{k}={v}" for k, v in change.items())
            console.print(f"  [dim]+{_rel(at - sc.start)} contact changed: {what}[/]", highlight=False)
        for at, kind, payload in sc.effects:
            if kind != "message":
                what = ", ".join(f"{k}={v}" for k, v in payload.items() if v not in (None, "", [], {}, 0.0))
                console.print(f"  [dim]+{_rel(at - sc.start)} {kind}: {what}[/]", highlight=False)
        for failure in sc.failed_expectations:
            console.print(f"  [bold red]✗[/] {failure}", highlight=False)
    console.print()
    if result.unreached_steps:
        console.print(f"[yellow]steps never reached:[/] {', '.join(result.unreached_steps)}")
    if result.untaken_branches:
        console.print(f"[yellow]branches never taken:[/] {', '.join(result.untaken_branches)}")
    if not result.unreached_steps and not result.untaken_branches:
        console.print("[green]every step and branch was exercised[/]")
    failed = sum(1 for s in result.scenarios if s.failed_expectations)
    if failed:
        console.print(f"[bold red]{failed} scenario(s) failed their expectations[/]")
