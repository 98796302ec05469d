"""CLI: tidings goals save | list | show | delete | kpi — marketing goals with 3/12/24-month targets,
and tidings journeys economics KEY (registered by cli/journeys.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from tidings.cli import common

app = typer.Typer(
    help="Marketing goals and KPIs: targets at 3, 12 and 24 months, on track or not.", no_args_is_help=True
)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _show(g: dict[str, Any]) -> None:
    common.console.print(
        f"[bold]{g['key']}[/] {g['name']} (from {g['start']}): {g['on_track']} on track, {g['off_track']} off track",
        highlight=False,
    )
    for r in g["kpis"]:
        actual = "—" if r["actual"] is None else f"{r['actual']:,.4g}"
        expected = "—" if r["expected"] is None else f"{r['expected']:,.4g}"
        common.console.print(
            f"  {r['kpi']:<17} {r['horizon']:>3}  target {r['target']:,.4g}  expected now {expected}  "
            f"actual {actual}  {r['status'].replace('_', ' ')}",
            highlight=False,
        )


@app.command("save")
def save_cmd(
    file: Annotated[Path, typer.Argument(help="a goal document (YAML or JSON)", exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create or replace a goal from a YAML/JSON document."""
    from tidings.application.analytics.goals import save_goal
    from tidings.domain.experiments.goals import GoalError
    from tidings.store.measurement import SqlAnalyticsStore

    try:
        raw = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        common.fail(f"{file}: not YAML/JSON: {exc}")
    c = common.open_container()
    with c.engine.begin() as conn:
        try:
            g = save_goal(SqlAnalyticsStore(conn), raw, c.clock.now())
        except GoalError as exc:
            common.fail(str(exc))
    _print(g) if as_json else _show(g)


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (one row per KPI and horizon)")] = False,
) -> None:
    """Every goal with each KPI's progress: on track or off track."""
    from tidings.application.analytics.goals import goals_csv, list_goals
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.connect() as conn:
        goals = list_goals(SqlAnalyticsStore(conn), c.clock.now())
    if as_csv:
        print(goals_csv(goals), end="")
    elif as_json:
        _print(goals)
    else:
        for g in goals:
            _show(g)
        if not goals:
            common.console.print("no goals yet: tidings goals save FILE")


@app.command("show")
def show_cmd(key: str, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    from tidings.application.analytics.goals import GoalNotFound, show_goal
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.connect() as conn:
        try:
            g = show_goal(SqlAnalyticsStore(conn), key, c.clock.now())
        except GoalNotFound as exc:
            common.fail(str(exc))
    _print(g) if as_json else _show(g)


@app.command("delete")
def delete_cmd(key: str) -> None:
    from tidings.application.analytics.goals import GoalNotFound, delete_goal
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.begin() as conn:
        try:
            delete_goal(SqlAnalyticsStore(conn), key)
        except GoalNotFound as exc:
            common.fail(str(exc))
    common.console.print(f"deleted goal {key}")


@app.command("kpi")
def kpi_cmd(
    kpi: Annotated[str, typer.Argument(help="leads | mqls | customers | revenue | retention | unsubscribe_rate")],
    start: Annotated[str, typer.Option("--from", help="start date (inclusive)")],
    end: Annotated[str, typer.Option("--to", help="end date (exclusive)")],
    event: Annotated[str | None, typer.Option(help="purchase event (customers, revenue, retention)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One KPI over a date range."""
    from tidings.application.analytics.goals import measure
    from tidings.domain.experiments.goals import GoalError
    from tidings.store.measurement import SqlAnalyticsStore

    s, e = common.parse_when(start, "--from"), common.parse_when(end, "--to")
    assert s is not None and e is not None
    c = common.open_container()
    with c.engine.connect() as conn:
        try:
            out = measure(SqlAnalyticsStore(conn), kpi, s, e, event)
        except GoalError as exc:
            common.fail(f"--{exc.field}: {exc.message}" if exc.field == "to" else str(exc))
    _print(out) if as_json else common.console.print(f"{kpi}: {out['value']:,.6g}", highlight=False)


def economics_cmd(
    key: Annotated[str, typer.Argument(help="journey key")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="save an input: hourly_rate=45, unit_costs.sms=0.04 ... (see docs/measurement.md)"),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="only activity from this date")] = None,
    end: Annotated[str | None, typer.Option("--to", help="only activity before this date")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Does this journey pay for itself? Hours saved, cost, revenue, ROI, break-even date."""
    from tidings.application.analytics.economics import JourneyNotFound, journey_economics, set_inputs
    from tidings.domain.experiments.economics import EconomicsError
    from tidings.domain.experiments.goals import GoalError
    from tidings.store.measurement import SqlAnalyticsStore

    s, e = common.parse_when(start, "--from"), common.parse_when(end, "--to")
    c = common.open_container()
    with c.engine.begin() as conn:
        store = SqlAnalyticsStore(conn)
        try:
            if set_:
                set_inputs(store, key, _assignments(set_), c.clock.now())
            out = journey_economics(store, key, c.clock.now(), s, e)
        except (JourneyNotFound, EconomicsError) as exc:
            common.fail(str(exc))
        except GoalError as exc:
            common.fail(f"--{exc.field}: {exc.message}")
    if as_json:
        _print(out)
        return
    cur = out["inputs"]["currency"]
    roi = "—" if out["roi"] is None else f"{out['roi']:.0%}"
    common.console.print(
        f"[bold]{key}[/]: {out['enrolments']:,} enrolments, {out['hours_saved']:,.1f} hours saved "
        f"({out['labour_value']:,.2f} {cur}), revenue {out['attributed_revenue']:,.2f} {cur}, "
        f"cost {out['cost']['total']:,.2f} {cur}, ROI {roi}, break-even {out['break_even'] or '—'} "
        f"({out['status'].replace('_', ' ')})",
        highlight=False,
    )
    inc = out["incremental"]
    if out["incremental_revenue"] is None:
        common.console.print(f"incremental revenue: — ({out['incremental_note']})", highlight=False)
    else:
        ci = inc["interval"]
        between = f", 95% interval {ci[0]:,.2f} to {ci[1]:,.2f}" if ci else ""
        common.console.print(
            f"incremental revenue: {out['incremental_revenue']:,.2f} {cur}{between} "
            f"(control group {inc['percent']:g}%: {inc['control_entrants']:,} held out, "
            f"{inc['treated_entrants']:,} treated)",
            highlight=False,
        )


def _assignments(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            common.fail(f"--set: expected NAME=VALUE, got {item!r}")
        try:
            parsed: Any = float(value)
        except ValueError:
            parsed = value
        if name.startswith("unit_costs."):
            out.setdefault("unit_costs", {})[name.removeprefix("unit_costs.")] = parsed
        else:
            out[name] = parsed
    return out
