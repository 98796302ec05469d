"""CLI: ``tidings audit [--json]`` — the automation audit; plus the printers that
``tidings journeys validate|publish|preview`` use for name warnings and the blast radius."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from tidings.cli import common

_COLOUR = {"error": "red", "warning": "yellow", "info": "cyan"}


def audit(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    tag_limit: Annotated[int | None, typer.Option(help="warn above this many distinct tags (100)")] = None,
    idle_days: Annotated[int | None, typer.Option(help="idle after this many days without entry (30)")] = None,
    chain_depth: Annotated[int | None, typer.Option(help="report chains of more journeys than this (3)")] = None,
    min_enrolments: Annotated[
        int | None, typer.Option(help="report never-reached steps from this many enrolments (20)")
    ] = None,
    complexity_limit: Annotated[int | None, typer.Option(help="suggest simplifying above this complexity (40)")] = None,
) -> None:
    """Audit every published journey: tag sprawl, loops and chains, dead branches, overlap,
    idle journeys and unknown names, complexity against value."""
    from tidings.application.control import audit as au
    from tidings.application.recipes.recipes import recipe_scenarios
    from tidings.store import audit_sql

    try:
        settings = au.settings_from(tag_limit=tag_limit, idle_days=idle_days, chain_depth=chain_depth,
                                    min_enrolments=min_enrolments, complexity_limit=complexity_limit)  # fmt: skip
    except au.AuditError as exc:
        common.fail(str(exc))
    c = common.open_container()
    with c.engine.connect() as conn:
        report = au.run(conn, c.clock.now(), audit_sql, settings, recipe_scenarios).to_dict()
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    s = report["summary"]
    common.console.print(
        f"[bold]audit[/]: {s['findings']} finding(s) — {s['error']} error(s), {s['warning']} warning(s), "
        f"{s['info']} note(s) over {s['journeys']} journey(s)"
    )
    for f in report["findings"]:
        colour = _COLOUR[f["severity"]]
        common.console.print(f"[{colour}]{f['severity']:7}[/] {f['kind']}: {f['message']}", markup=True,
                             highlight=False)  # fmt: skip
        if f["suggestion"]:
            common.console.print(f"         → {f['suggestion']}", highlight=False)
    if report["journeys"]:
        from rich.table import Table

        table = Table("journey", "complexity", "value", "score", "suggestion", title="complexity against value")
        for j in report["journeys"]:
            table.add_row(j["key"], str(j["complexity"]["total"]), f"{j['value']['total']:g}", f"{j['score']:g}",
                          j["suggestion"])  # fmt: skip
        common.console.print(table)


def print_name_warnings(warnings: Sequence[Any]) -> None:
    for w in warnings:
        common.console.print(f"[yellow]warning[/] {w}", highlight=False)


def print_preview(data: dict[str, Any]) -> None:
    enter, em = data["would_enter"], data["would_enter_margin"]

    def pm(value: int, margin: int) -> str:
        return f"{value} ± {margin}" if data["sampled"] else str(value)

    common.console.print(
        f"[bold]{data['journey']}[/]: {pm(enter['24h'], em['24h'])} contact(s) would enter in the next 24 h, "
        f"{pm(enter['7d'], em['7d'])} in 7 days ({data['population']} candidate(s))", highlight=False
    )
    for basis, n in sorted(data["basis"].items()):
        if basis:
            common.console.print(f"  {n} {basis}", highlight=False)
    for why, n in sorted(data["not_entering"].items()):
        common.console.print(f"  not entering: {n} ({why})", highlight=False)
    if not data["messages"]:
        common.console.print("  no messages in the next 7 days")
    for channel, counts in data["messages"].items():
        m = data["margin"][channel]

        def fmt(w: str, counts: dict[str, int] = counts, m: dict[str, int] = m) -> str:
            return pm(counts[w], m[w])

        held = data["without_consent"][channel]
        note = f" (of which {held['7d']} without consent: not delivered)" if held["7d"] else ""
        common.console.print(f"  {channel}: {fmt('24h')} in the next 24 h, {fmt('7d')} in the next 7 days{note}",
                             highlight=False)  # fmt: skip
    f = data.get("in_flight") or {}
    if f:
        unsent = ", ".join(f"{n} {ch}" for ch, n in sorted(f["unsent_messages"].items())) or "none"
        common.console.print(
            f"  already in it: {f['enrolments']} enrolment(s); unsent messages: {unsent}; timers due: "
            f"{f['timers_due']['24h']} in 24 h, {f['timers_due']['7d']} in 7 days", highlight=False
        )
    common.console.print(f"  ({data['error']})", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
