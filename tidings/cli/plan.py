"""CLI: tidings content plan show | plan set FILE | cell FILE | gaps [--json] | calendar [--ics|--csv]
| stale --months N | review KEY | feed-url [--rotate] — the content plan (docs/content-plan.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tidings.cli import common

app = typer.Typer(help="Content plan: personas x stages x questions, gaps, calendar, stale templates.",
                  no_args_is_help=True)
plan_app = typer.Typer(help="The plan document: personas, stages, questions (and its cells).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _read(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        common.fail(f"{path}: {exc.strerror}")
    try:
        return yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        common.fail(f"{path}: neither JSON nor YAML ({exc})")


def _invalid(exc: Exception) -> None:
    from tidings.domain.plan.model import PlanInvalid

    if isinstance(exc, PlanInvalid):
        common.fail("the plan is not valid:\n" + "\n".join(f"  {p or '(document)'}: {m}" for p, m in exc.errors))
    raise exc


@plan_app.command("show")
def plan_show() -> None:
    """Print the plan and its cells (JSON; the default plan when none was saved)."""
    from tidings.application.plan.plan import plan_json

    c = common.open_container()
    typer.echo(json.dumps(plan_json(c.uow(read_only=True)), indent=2, ensure_ascii=False))


PLAN_FILE = typer.Argument(help="the plan (JSON or YAML); with `cells`, those replace the stored ones")
CELL_FILE = typer.Argument(help="one cell (JSON or YAML): persona, stage, question, templates, assets, ...")


@plan_app.command("set")
def plan_set(file: Annotated[Path, PLAN_FILE]) -> None:
    """Save the plan document."""
    from tidings.application.plan.plan import save_plan
    from tidings.domain.plan.model import PlanInvalid

    doc = _read(file)
    c = common.open_container()
    try:
        plan = save_plan(c.uow(), doc, c.clock.now())
    except PlanInvalid as exc:
        _invalid(exc)
        return
    common.console.print(f"plan saved: {len(plan.personas)} personas x {len(plan.stages)} stages x "
                         f"{len(plan.questions)} questions = {plan.size} cells", highlight=False)


@app.command("cell")
def cell_set(file: Annotated[Path, CELL_FILE]) -> None:
    """Create or replace one cell of the matrix."""
    from tidings.application.plan.plan import set_cell
    from tidings.domain.plan.model import PlanInvalid

    doc = _read(file)
    c = common.open_container()
    try:
        cell = set_cell(c.uow(), doc, c.clock.now())
    except PlanInvalid as exc:
        _invalid(exc)
        return
    common.console.print(f"cell {'/'.join(cell.coordinates)} saved", highlight=False)


@app.command("gaps")
def gaps_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="the whole report as JSON")] = False,
    status: Annotated[list[str] | None, typer.Option("--status", help="only cells of this status (repeatable): "
                                                     "missing, wrong_format, needs_update, draft, unused")] = None,
) -> None:
    """Every cell that is not live, with its status and why; the count of each status."""
    from rich.table import Table

    from tidings.application.plan.plan import gaps, report_json
    from tidings.domain.plan.status import STATUSES

    wanted = set(status or [])
    unknown = wanted - {str(s) for s in STATUSES}
    if unknown:
        common.fail(f"--status: one of {', '.join(STATUSES)}; got {', '.join(sorted(unknown))}")
    c = common.open_container()
    report = gaps(c.uow(read_only=True), c.clock.now().date())
    listed = [v for v in report.gaps if not wanted or str(v.status) in wanted]
    if as_json:
        doc = report_json(report)
        doc["gaps"] = [g for g in doc["gaps"] if not wanted or g["status"] in wanted]
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    counts = ", ".join(f"{s}: {n}" for s, n in report.counts.items())
    common.console.print(f"{report.plan.size} cells — {counts}", highlight=False)
    table = Table("persona", "stage", "question", "status", "why")
    for v in listed:
        table.add_row(v.persona, v.stage, v.question, str(v.status), "; ".join(v.reasons))
    common.console.print(table)


@app.command("calendar")
def calendar_cmd(
    ics: Annotated[bool, typer.Option("--ics", help="an iCalendar file on stdout")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout")] = False,
    since: Annotated[str | None, typer.Option("--from", help="first day, 2027-01-31")] = None,
    until: Annotated[str | None, typer.Option("--to", help="last day, 2027-03-31")] = None,
) -> None:
    """The planned publish and review dates, with owner and channel."""
    from rich.table import Table

    from tidings.application.plan.plan import calendar
    from tidings.domain.plan.calendar import to_csv, to_ical

    if ics and as_csv:
        common.fail("--ics and --csv: choose one")
    start, end = common.parse_when(since, "--from"), common.parse_when(until, "--to")
    c = common.open_container()
    entries = calendar(c.uow(read_only=True), since=start.date() if start else None,
                       until=end.date() if end else None)
    if ics:
        sys.stdout.buffer.write(to_ical(entries, c.clock.now()))
        return
    if as_csv:
        typer.echo(to_csv(entries), nl=False)
        return
    table = Table("date", "kind", "persona", "stage", "question", "owner", "channel", "templates")
    for e in entries:
        table.add_row(e.day.isoformat(), e.kind, e.persona, e.stage, e.question, e.owner or "-", e.channel or "-",
                      ", ".join(e.templates) or "-")
    common.console.print(table)


@app.command("stale")
def stale_cmd(
    months: Annotated[int, typer.Option("--months", min=1, max=120, help="not reviewed nor edited for this long")] = 6,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Templates nobody reviewed (or edited) in the last N months, oldest first."""
    from rich.table import Table

    from tidings.application.plan.plan import stale, template_json

    c = common.open_container()
    rows = stale(c.uow(read_only=True), c.clock.now().date(), months)
    if as_json:
        typer.echo(json.dumps([template_json(t) for t in rows], indent=2))
        return
    if not rows:
        common.console.print(f"every template was reviewed in the last {months} months", highlight=False)
        return
    table = Table("template", "channels", "last edited", "last reviewed")
    for t in rows:
        table.add_row(t.key, ", ".join(sorted(t.channels)), t.updated_at.date().isoformat(),
                      t.reviewed_at.date().isoformat() if t.reviewed_at else "never")
    common.console.print(table)


@app.command("review")
def review_cmd(key: str, by: Annotated[str | None, typer.Option("--by", help="who reviewed it")] = None) -> None:
    """Mark a template reviewed now (its content is still right)."""
    from tidings.application.plan.plan import mark_reviewed
    from tidings.domain.plan.model import PlanInvalid

    c = common.open_container()
    try:
        mark_reviewed(c.uow(), key, c.clock.now(), by)
    except PlanInvalid as exc:
        common.fail(str(exc))
    common.console.print(f"template {key!r} marked reviewed", highlight=False)


@app.command("feed-url")
def feed_url_cmd(rotate: Annotated[bool, typer.Option("--rotate", help="revoke the old URL first")] = False) -> None:
    """The signed iCalendar feed URL to subscribe to in a calendar app."""
    from tidings.application.plan.plan import feed_url, rotate_feed

    c = common.open_container()
    if rotate:
        rotate_feed(c.uow(), c.clock.now())
    typer.echo(feed_url(c.uow(read_only=True), c.secret_key, c.settings.public_url))
