"""CLI: tidings scoring validate | publish | list | show | pause | resume | explain | decay | funnel |
funnel-over-time | rebuild-funnel."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from tidings.cli import common
from tidings.domain.scoring.model import ScoringError

app = typer.Typer(
    help="Lead scoring models: behaviour and profile points, decay, stage thresholds.", no_args_is_help=True
)
JSON_OPT = typer.Option("--json", help="print JSON")


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        common.fail(f"{file}: cannot read it ({exc})")


def _refused(file: Path, exc: ScoringError) -> NoReturn:
    for line in exc.lines():
        print(f"{file}: {line}", file=sys.stderr)
    common.fail(f"{file}: {len(exc.problems)} problem(s); nothing was published")


def _model_dict(m: Any) -> dict[str, Any]:
    return {"key": m.key, "name": m.name, "version": m.version, "active": m.active, "updated_at": m.updated_at}


@app.command("validate")
def validate_cmd(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Check a scoring document: every problem with its line and rule id (exit 1 if any)."""
    from tidings.application.scoring.models import validate_model

    try:
        m = validate_model(_read(file))
    except ScoringError as exc:
        _refused(file, exc)
    common.console.print(
        f"{file}: ok — {len(m.behaviour)} behaviour and {len(m.profile)} profile rule(s), "
        f"{len(m.thresholds)} threshold(s)",
        highlight=False,
    )


@app.command("publish")
def publish_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, JSON_OPT] = False,
) -> None:
    """Publish a model (a new version when the document changed); it scores events from now on."""
    from tidings.application.scoring.models import publish_model

    c = common.open_container()
    try:
        stored = publish_model(c.uow(), c.clock, _read(file))
    except ScoringError as exc:
        _refused(file, exc)
    if as_json:
        _print(_model_dict(stored))
    else:
        common.console.print(f"published {stored.key} v{stored.version}", highlight=False)


@app.command("list")
def list_cmd(as_json: Annotated[bool, JSON_OPT] = False) -> None:
    from tidings.application.scoring.models import list_models

    c = common.open_container()
    models = [_model_dict(m) for m in list_models(c.uow(read_only=True))]
    if as_json:
        _print(models)
        return
    for m in models:
        state = "active" if m["active"] else "paused"
        common.console.print(f"{m['key']:<24} v{m['version']:<3} {state:<7} {m['name']}", highlight=False)
    if not models:
        common.console.print("no scoring models yet: tidings scoring publish FILE")


@app.command("show")
def show_cmd(key: str) -> None:
    """Print the published document of a model."""
    from tidings.application.scoring.models import UnknownModel, get_model

    c = common.open_container()
    try:
        print(get_model(c.uow(read_only=True), key).document, end="")
    except UnknownModel as exc:
        common.fail(str(exc))


def _set_active(key: str, active: bool) -> None:
    from tidings.application.scoring.models import UnknownModel, set_model_active

    c = common.open_container()
    try:
        m = set_model_active(c.uow(), c.clock, key, active)
    except UnknownModel as exc:
        common.fail(str(exc))
    common.console.print(f"{m.key}: {'active' if m.active else 'paused'}", highlight=False)


@app.command("pause")
def pause_cmd(key: str) -> None:
    """Stop scoring events with this model (scores are kept)."""
    _set_active(key, False)


@app.command("resume")
def resume_cmd(key: str) -> None:
    _set_active(key, True)


@app.command("explain")
def explain_cmd(
    email_or_id: Annotated[str, typer.Argument(help="contact id, email, phone or external id")],
    as_json: Annotated[bool, JSON_OPT] = False,
) -> None:
    """A contact's score in every model, how it is made, and its recent history."""
    from tidings.application.contacts import contacts as svc
    from tidings.application.scoring.scores import explain_contact

    c = common.open_container()
    with c.uow(read_only=True) as uow:
        cid = svc.lookup(uow, email_or_id)
        if cid is None:
            common.fail(f"no contact matches {email_or_id!r} (give an id, email, phone or external id)")
        out = explain_contact(uow.scoring, cid, c.clock.now())
    if as_json:
        _print({"contact_id": cid, "models": out})
        return
    for m in out:
        common.console.print(f"[bold]{m['name']}[/] ({m['model']}): stage {m['stage'] or '—'}", highlight=False)
        common.console.print(f"  {m['sentence']}", highlight=False, markup=False)
        for h in m["history"][:5]:
            common.console.print(
                f"  {h['at'][:16]}  {h['delta']:+g} → {h['score']:g}  {h['reason'] or ''}",
                highlight=False,
                markup=False,
            )
    if not out:
        common.console.print("no scoring models yet")


@app.command("handoff")
def handoff_cmd(
    email_or_id: Annotated[str, typer.Argument(help="contact id, email, phone or external id")],
    events: Annotated[int, typer.Option("--events", min=0, max=100, help="how many latest events")] = 20,
) -> None:
    """The contact's hand-off document as JSON: what a v2 webhook would carry now (docs/crm.md)."""
    from tidings.application.contacts import contacts as svc

    c = common.open_container()
    with c.uow(read_only=True) as uow:
        cid = svc.lookup(uow, email_or_id)
    if cid is None:
        common.fail(f"no contact matches {email_or_id!r} (give an id, email, phone or external id)")
    _print(c.handoff_document(cid, events=events))


@app.command("decay")
def decay_cmd(as_json: Annotated[bool, JSON_OPT] = False) -> None:
    """Bring every decaying model's scores to now (the worker does this on a schedule)."""
    from tidings.application.scoring.scores import decay_pass

    c = common.open_container()
    with c.uow() as uow:
        r = decay_pass(uow.scoring, c.clock.now())
        uow.commit()
    data = {"scored": r.scored, "changed": r.changed, "crossings": r.crossings}
    if as_json:
        _print(data)
    else:
        common.console.print(f"{r.changed} score(s) moved, {len(r.crossings)} stage move(s)")


@app.command("funnel")
def funnel_cmd(key: str, as_json: Annotated[bool, JSON_OPT] = False) -> None:
    """Contacts per stage of a model, and the share that reached the next stage."""
    from tidings.application.scoring.models import UnknownModel
    from tidings.application.scoring.scores import stage_funnel

    c = common.open_container()
    with c.uow(read_only=True) as uow:
        try:
            f = stage_funnel(uow.scoring, key)
        except UnknownModel as exc:
            common.fail(str(exc))
    if as_json:
        _print(f)
        return
    for s in f["stages"]:
        rate = "" if s["to_next"] is None else f"  → next {s['to_next']:.1%}"
        common.console.print(
            f"{s['stage']:<12} {s['contacts']:>8} now, {s['reached']:>8} reached{rate}", highlight=False
        )


@app.command("funnel-over-time")
def funnel_over_time_cmd(
    key: str,
    over: Annotated[str, typer.Option("--over", help="day, week (from Monday) or month")] = "week",
    since: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD (default 12 weeks back)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="last day, YYYY-MM-DD (default today, UTC)")] = None,
    as_json: Annotated[bool, JSON_OPT] = False,
) -> None:
    """Contacts moved into each stage per day, week or month, and the flow to the next stage."""
    from datetime import UTC

    from tidings.application.scoring.funnel import stage_funnel_over_time
    from tidings.application.scoring.models import UnknownModel
    from tidings.domain.scoring.funnel import FunnelRangeError

    first, last = (
        None if w is None else w.astimezone(UTC).date()
        for w in (common.parse_when(since, "--from"), common.parse_when(until, "--to"))
    )
    c = common.open_container()
    with c.uow(read_only=True) as uow:
        try:
            f = stage_funnel_over_time(uow.scoring, key, c.clock.now().date(), since=first, until=last, over=over)
        except UnknownModel as exc:
            common.fail(str(exc))
        except FunnelRangeError as exc:
            common.fail(f"--{exc.field}: {exc}")
    if as_json:
        _print(f)
        return
    stages = f["stages"]
    common.console.print(f"{key}: contacts moved into each stage per {over}, {f['from']} to {f['to']}", highlight=False)
    common.console.print(f"{'from':<12}" + "".join(f"{s:>12}" for s in stages), highlight=False)
    for p in f["periods"]:
        cells = "".join(f"{r['entered']:>12}" for r in p["stages"])
        common.console.print(f"{p['start']:<12}{cells}", highlight=False)
    common.console.print(f"{'total':<12}" + "".join(f"{f['entered'][s]:>12}" for s in stages), highlight=False)


@app.command("rebuild-funnel")
def rebuild_funnel_cmd(as_json: Annotated[bool, JSON_OPT] = False) -> None:
    """Recount every model's funnel over time from its score.threshold_crossed events."""
    from tidings.application.scoring.funnel import rebuild_stage_moves

    c = common.open_container()
    with c.uow() as uow:
        counted = rebuild_stage_moves(uow.scoring)
        uow.commit()
    if as_json:
        _print({"counted": counted})
        return
    for key, n in counted.items():
        common.console.print(f"{key}: {n} stage move(s) counted", highlight=False)
