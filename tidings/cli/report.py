"""``tidings report journey|step|template|campaign KEY`` and ``tidings analytics backfill``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tidings.application.analytics import attribution, reports, rollups
from tidings.cli import common
from tidings.domain.analytics.attribution import MODELS

analytics = typer.Typer(help="Engagement rollups: rebuild them from existing events.", no_args_is_help=True)

FromOpt = Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD (inclusive)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD (inclusive)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]

_SHOW = (
    "sent",
    "delivered",
    "opened_human_unique",
    "opened_machine_unique",
    "clicked_unique",
    "unsubscribed",
    "complained",
    "converted",
    "revenue",
)
_RATES = ("open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "conversion_rate")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(analytics, name="analytics")


def report(
    kind: Annotated[str, typer.Argument(help="journey | step | template | campaign")],
    key: Annotated[str, typer.Argument(help="the journey, template or campaign key; a step is JOURNEY/STEP")],
    start: FromOpt = None,
    end: ToOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help=f"add attributed revenue under a model: {', '.join(MODELS)}")
    ] = None,
    window_days: Annotated[float, typer.Option("--window-days", help="attribution window")] = 7.0,
    goal: Annotated[
        str | None, typer.Option("--goal", help="attribute this event (a global goal) instead of the journey goals")
    ] = None,
    value: Annotated[str | None, typer.Option("--value", help="the goal's amount property, e.g. revenue")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="goal filter PROPERTY=VALUE (repeatable)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Engagement, conversions and rates (human opens only; machine opens reported apart)."""
    from tidings.store.analytics import SqlAnalytics

    c = common.open_container()
    try:
        r = reports.Range.parse(start, end)
        with c.engine.connect() as conn:
            repo = SqlAnalytics(conn)
            data = reports.report(repo, kind, key, r)
            if model is not None or goal is not None:
                journey = key.partition("/")[0] if kind in ("journey", "step") and goal is None else None
                g = attribution.Goal.parse(goal, value, where) if goal is not None else None
                data["attribution"] = attribution.attributed(
                    repo, r, model=model or "last_touch", window_days=window_days, journey=journey, goal=g
                )
    except reports.ReportError as exc:
        named = exc.field in ("from", "to", "model", "goal", "where")
        common.fail(f"--{exc.field}: {exc}" if named else str(exc), code=2)
    except reports.NotFound as exc:
        common.fail(str(exc), code=1)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_text(data)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4f}"
    return str(int(v)) if isinstance(v, float) else str(v)


def _print_text(data: dict[str, Any]) -> None:
    t = data["totals"]
    common.console.print(
        f"[bold]{data['kind']} {data['key']}[/]  {data['range']['from'] or '…'} → {data['range']['to'] or '…'}"
    )
    common.console.print("  ".join(f"{m}={_fmt(t[m])}" for m in _SHOW), highlight=False)
    common.console.print("  ".join(f"{m}={_fmt(t[m])}" for m in _RATES), highlight=False)
    by = next(k for k in data if k.startswith("by_") and k != "by_version")
    dim = by[3:]
    table = Table(dim, *_SHOW, "open_rate", "click_rate")
    for row in data[by]:
        table.add_row(
            str(row[dim] or "(none)"), *(_fmt(row[m]) for m in _SHOW), _fmt(row["open_rate"]), _fmt(row["click_rate"])
        )
    common.console.print(table)
    if data.get("funnel", {}).get("edges"):
        f = data["funnel"]
        common.console.print(f"funnel: {f['entries']} entries, {f['completed']} reached the end")
        edges = Table("from", "to", "moved", "share of exits")
        for e in f["edges"]:
            share = "-" if e["share"] is None else f"{e['share']:.1%}"
            edges.add_row(e["from"] or "(entry)", e["to"] or "(end)", str(e["moved"]), share)
        common.console.print(edges)
    if "attribution" in data:
        a = data["attribution"]
        common.console.print(
            f"attributed ({a['model']}, {a['window_days']} days): "
            f"{a['conversions']} conversions, revenue {a['revenue']}"
        )
        for row in a["by_step"]:
            common.console.print(f"  {row['step']}: {row['conversions']} conversions, revenue {row['revenue']}")


@analytics.command("backfill")
def backfill(as_json: JsonOpt = False) -> None:
    """Rebuild the rollups from every processed event (run it with the workers stopped)."""
    from tidings.store.analytics import SqlAnalytics

    c = common.open_container()
    progress = Progress(
        TextColumn("backfilling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=common.err_console,
        disable=not sys.stderr.isatty(),
    )
    with progress:
        task = progress.add_task("events", total=None)
        result = rollups.backfill(
            c.engine.begin, SqlAnalytics, progress=lambda n, total: progress.update(task, completed=n, total=total)
        )
    if as_json:
        typer.echo(json.dumps(result))
    else:
        common.console.print(f"backfilled {result['events']} events ({result['counted']} counted)")
