"""CLI: tidings experiments plan | evaluate | list | show — A/B/n tests with a decision.

``plan`` and ``evaluate`` work from numbers alone (no database); ``list`` and ``show`` read the
live experiments of the journeys (split steps with an ``experiment:`` block).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tidings.cli import common

app = typer.Typer(
    help="A/B/n experiments: plan a sample, evaluate counts, follow live experiments.", no_args_is_help=True
)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@app.command("plan")
def plan_cmd(
    baseline: Annotated[float, typer.Option(help="today's rate of the goal metric, e.g. 0.10")],
    mde: Annotated[float, typer.Option(help="minimum detectable effect, absolute: 0.02 = +2 points")],
    power: Annotated[float, typer.Option(help="chance to detect the effect when it is there")] = 0.8,
    alpha: Annotated[float, typer.Option(help="false-positive rate (two-sided)")] = 0.05,
    variants: Annotated[int, typer.Option(help="number of variants, control included")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """People needed per variant to detect ``--mde`` over ``--baseline``."""
    from tidings.domain.experiments.report import plan_dict
    from tidings.domain.experiments.stats import StatsInputError, plan

    try:
        p = plan(baseline, mde, power, alpha, variants)
    except StatsInputError as exc:
        common.fail(f"--{exc.field}: {exc.message}")
    data = plan_dict(p)
    if as_json:
        _print(data)
        return
    common.console.print(
        f"{p.per_variant:,} people per variant ({p.total:,} in all) to detect {p.baseline:.1%} → "
        f"{p.target:.1%} with {p.power:.0%} power at alpha {p.alpha:g}",
        highlight=False,
    )


@app.command("evaluate")
def evaluate_cmd(
    variant: Annotated[list[str], typer.Option("--variant", help="NAME:EXPOSED:CONVERTED; the first is the control")],
    metric: Annotated[str, typer.Option(help="what a conversion is, for the sentence")] = "conversions",
    per_variant: Annotated[int | None, typer.Option(help="planned sample per variant (from `plan`)")] = None,
    mde: Annotated[float | None, typer.Option(help="planned minimum detectable effect")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Who wins, with what chance, and is the split healthy (SRM)? From counts."""
    from tidings.domain.experiments.report import answer, parse_variant
    from tidings.domain.experiments.stats import StatsInputError

    try:
        arms = [parse_variant(v, i) for i, v in enumerate(variant)]
        data = answer(arms, metric, per_variant=per_variant, mde=mde)
    except StatsInputError as exc:
        common.fail(str(exc))
    if as_json:
        _print(data)
        return
    _show_answer(data)


def _show_answer(data: dict[str, Any]) -> None:
    common.console.print(f"[bold]{data['verdict']}[/]", highlight=False)
    for v in data["variants"]:
        beat = v["chance_to_beat_control"]
        common.console.print(
            f"  {v['name']}: {v['converted']:,}/{v['exposed']:,} = {v['rate']:.2%} "
            f"[{v['interval'][0]:.2%}, {v['interval'][1]:.2%}]"
            + ("" if beat is None else f", {beat:.0%} chance to beat {data['control']}")
            + f", {v['chance_to_be_best']:.0%} chance to be best",
            highlight=False,
        )
    srm = "MISMATCH" if data["srm"] else "ok"
    common.console.print(f"  sample ratio: {srm} (p = {data['srm_p_value']:.3g})", highlight=False)


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Live experiments of the published journeys, with their state and verdict."""
    from tidings.application.analytics.experiments import list_experiments
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.connect() as conn:
        items = list_experiments(SqlAnalyticsStore(conn), c.clock.now())
    if as_json:
        _print(items)
        return
    if not items:
        common.console.print("no live experiments (add an experiment: block to a journey's split step)")
    for x in items:
        exposed = ", ".join(f"{k} {v:,}" for k, v in x["exposed"].items())
        common.console.print(f"[bold]{x['key']}[/] {x['metric_label']} · {x['state']} · {exposed}", highlight=False)
        common.console.print(f"  {x['verdict']}", highlight=False)


@app.command("show")
def show_cmd(
    key: Annotated[str, typer.Argument(help="<journey key>.<split step id>")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One live experiment: plan, review date, counts, chances and the verdict."""
    from tidings.application.analytics.experiments import ExperimentNotFound, show_experiment
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.connect() as conn:
        try:
            x = show_experiment(SqlAnalyticsStore(conn), key, c.clock.now())
        except ExperimentNotFound as exc:
            common.fail(str(exc))
    if as_json:
        _print(x)
        return
    common.console.print(f"[bold]{x['key']}[/] ({x['name']}) on {x['metric_label']}: {x['state']}", highlight=False)
    if x["plan"]:
        common.console.print(
            f"  plan: {x['plan']['per_variant']:,} per variant; review date {x['review_date'] or 'not yet known'}",
            highlight=False,
        )
    if x["result"]:
        _show_answer(x["result"])
    else:
        common.console.print(f"  {x['verdict']}", highlight=False)


@app.command("decide")
def decide_cmd(
    key: Annotated[str, typer.Argument(help="<journey key>.<split step id>")],
    winner: Annotated[str, typer.Option("--winner", help="the variant to send everyone to from now on")],
    reason: Annotated[str | None, typer.Option("--reason", help="why (kept with the decision)")] = None,
    by: Annotated[str, typer.Option("--by", help="who decides (recorded)")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Decide by hand: send everyone to ``--winner`` from now on, as the automatic rollout does."""
    from tidings.application.analytics.experiments import AlreadyDecided, DecisionError, ExperimentNotFound, decide
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.begin() as conn:
        try:
            x = decide(SqlAnalyticsStore(conn), key, winner, reason, c.clock.now(), by)
        except DecisionError as exc:
            common.fail(f"--{exc.field}: {exc.message}", code=2)
        except (ExperimentNotFound, AlreadyDecided) as exc:
            common.fail(str(exc))
    if as_json:
        _print(x)
        return
    common.console.print(f"{x['key']}: {x['verdict']}", highlight=False)


@app.command("review")
def review_cmd(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Roll out the winners of experiments with ``rollout: true`` that reached their review point."""
    from tidings.application.analytics.experiments import review
    from tidings.store.measurement import SqlAnalyticsStore

    c = common.open_container()
    with c.engine.begin() as conn:
        done = review(SqlAnalyticsStore(conn), c.clock.now())
    if as_json:
        _print(done)
        return
    for d in done:
        common.console.print(f"{d['key']}: rolled out {d['winner']} — {d['verdict']}", highlight=False)
    if not done:
        common.console.print("nothing to roll out")
