"""`tidings simulate --all-published -s POPULATION`: every active journey together, per-contact timelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from tidings.cli import common


def run_all(scenario: Path, as_json: bool) -> None:
    import yaml

    from tidings.application.control.crosssim import simulate_published
    from tidings.domain.journeys.simulate import ScenarioError
    from tidings.store.control import SqlControl

    try:
        data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    except OSError as exc:
        common.fail(f"cannot read {scenario}: {exc.strerror}", 2)
    except yaml.YAMLError as exc:
        common.fail(f"{scenario}: {exc}", 2)
    c = common.open_container()
    try:
        with c.engine.connect() as conn:
            result = simulate_published(SqlControl(conn), data)
    except ScenarioError as exc:
        common.fail(f"{scenario}: {exc}", 2)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    console = common.console
    console.print(
        f"[bold]{len(result['journeys'])} published journey(s)[/] together: {', '.join(result['journeys']) or 'none'}"
    )
    for ct in result["contacts"]:
        per = ", ".join(f"{k}: {n}" for k, n in ct["messages_per_journey"].items()) or "none"
        console.print(
            f"\n[bold]{ct['name']}[/]  {ct['messages']} message(s) ({per}), loops stopped: {ct['loops_stopped']}"
        )
        for h in ct["timeline"]:
            extra = {k: v for k, v in h.items() if k not in ("at", "journey", "kind")}
            detail = " ".join(f"{k}={v}" for k, v in extra.items() if v is not None and k != "cause")
            typer.echo(f"  {h['at'][:16]}  {h['journey']:<20} {h['kind']:<13} {detail}")  # plain: never wrapped
