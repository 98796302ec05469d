"""CLI: tidings journeys validate|publish|list|show|pause|resume|migrate|enroll|signal."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from tidings.cli import common
from tidings.store.sql_uow import joined

app = typer.Typer(help="Journeys: documents, versions, pause/resume, migration.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="names nothing produces or defines are errors, not warnings")
]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        common.fail(f"cannot read {path}: {exc}")


def _guard(fn: Any) -> Any:
    from tidings.application.journeys import journeys as js
    from tidings.application.journeys.engine import EngineError
    from tidings.domain.journeys.model import JourneyError

    try:
        return fn()
    except JourneyError as exc:
        common.fail(str(exc))
    except (js.NotFound, js.Conflict, EngineError) as exc:
        common.fail(str(exc))


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@app.command()
def validate(file: Path, strict: StrictOpt = False) -> None:
    """Validate a journey document (YAML or JSON); errors name the line and step id.
    Events, attributes, tags, segments and templates nothing has produced are warnings."""
    from tidings.application.control import audit_names
    from tidings.application.journeys import journeys as js
    from tidings.cli.audit import print_name_warnings
    from tidings.store import audit_sql

    text = _read(file)
    c = common.open_container()
    with c.engine.connect() as conn:
        doc = _guard(lambda: js.validate(joined(conn), text))
        warnings = _guard(lambda: audit_names.check(conn, doc, audit_sql, strict=strict))
    print_name_warnings(warnings)
    common.console.print(
        f"{file}: journey '{doc.key}' is valid ({len(doc.steps)} steps, {len(doc.triggers)} triggers"
        + (f", {len(warnings)} name warning(s))" if warnings else ")")
    )


@app.command()
def publish(
    file: Path,
    by: Annotated[str | None, typer.Option(help="who publishes (kept with the version)")] = None,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Publish FILE as a new immutable version (same document again: no new version)."""
    from tidings.application.control.audit_names import checker
    from tidings.application.journeys import journeys as js
    from tidings.cli.audit import print_name_warnings
    from tidings.store import audit_sql

    text = _read(file)
    c = common.open_container()
    with c.engine.begin() as conn:
        checks = checker(audit_sql, strict=strict)
        p = _guard(lambda: js.publish(joined(conn), c.clock.now(), text=text, by=by, check_names=partial(checks, conn)))
    if as_json:
        out = {"key": p.key, "version": p.version, "checksum": p.checksum, "created": p.created}
        _print({**out, "warnings": list(p.warnings), "name_warnings": [w.to_dict() for w in p.name_warnings]})
        return
    print_name_warnings(p.name_warnings)
    verb = "published" if p.created else "unchanged, still"
    common.console.print(f"journey '{p.key}' {verb} version {p.version} (checksum {p.checksum[:12]})")
    for w in p.warnings:
        common.console.print(f"[yellow]warning:[/] {w} (stopped at run time by its loop_limit)")


@app.command()
def preview(
    key: Annotated[str | None, typer.Argument(help="journey key (its draft, else its current version)")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="preview this document instead")] = None,
    version: Annotated[int | None, typer.Option(help="preview this version (e.g. a migration target)")] = None,
    sample: Annotated[int, typer.Option(help="simulate at most this many contacts (a sample beyond)")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Blast radius: who would enter now, and the messages per channel in the next 24 h and 7 days."""
    from tidings.application.control import audit_preview
    from tidings.cli.audit import print_preview
    from tidings.store import audit_sql

    if (key is None) == (file is None):
        common.fail("give a journey KEY or --file (one of them)")
    text = _read(file) if file is not None else None
    c = common.open_container()
    with c.engine.connect() as conn:
        try:
            data = _guard(
                lambda: audit_preview.preview(
                    conn, c.clock.now(), audit_sql, key=key, text=text, version=version, sample=sample
                )
            ).to_dict()
        except (audit_preview.PreviewError, audit_preview.NotFound) as exc:
            common.fail(str(exc))
    if as_json:
        _print(data)
        return
    print_preview(data)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List journeys with their status and current version."""
    from rich.table import Table

    from tidings.application.journeys import journeys as js

    c = common.open_container()
    with c.engine.connect() as conn:
        items = js.list_all(joined(conn))
    if as_json:
        _print(items)
        return
    table = Table("key", "name", "status", "version", "updated")
    for j in items:
        table.add_row(j["key"], j["name"], j["status"], str(j["current_version"] or "-"), j["updated_at"])
    common.console.print(table)


@app.command()
def show(key: str, as_json: JsonOpt = False) -> None:
    """A journey's versions and where its enrolments are."""
    from tidings.application.journeys import journeys as js

    c = common.open_container()
    with c.engine.connect() as conn:
        data = _guard(lambda: js.describe(joined(conn), key))
    if as_json:
        _print(data)
        return
    common.console.print(
        f"[bold]{data['key']}[/] {data['name']} — {data['status']}, "
        f"version {data['current_version']}{' (draft pending)' if data['draft'] else ''}"
    )
    for v in data["versions"]:
        common.console.print(
            f"  v{v['version']}  {v['published_at']}  {v['checksum'][:12]}  {v['published_by'] or ''}"
        )
    for e in data["enrollments"]:
        common.console.print(f"  v{e['version']} {e['status']:8} {e['step'] or '-':20} {e['count']}")
    if (ctl := data.get("control")) is not None:
        exempt = "subject to the global send caps"
        if ctl["exempt_from_caps"]:
            exempt = "[bold red]EXEMPT from the global send caps[/]"
        loop = ctl["loop_limit"]
        limit = "global loop limit"
        if loop:
            limit = f"loop limit {loop['rounds']} rounds / {loop['window_seconds'] // 3600}h"
        common.console.print(f"  category {ctl['category']}, {exempt}, {limit}")


@app.command()
def pause(key: str) -> None:
    """Pause: no new entries, timers held until resume."""
    from tidings.application.journeys import journeys as js

    c = common.open_container()
    with c.engine.begin() as conn:
        r = _guard(lambda: js.pause(joined(conn), key, c.clock.now()))
    common.console.print(f"journey '{key}' paused ({r['held_timers']} timers held)")


@app.command()
def resume(key: str) -> None:
    """Resume a paused journey; held timers that fell due meanwhile fire now."""
    from tidings.application.journeys import journeys as js

    c = common.open_container()
    with c.engine.begin() as conn:
        r = _guard(lambda: js.resume(joined(conn), key, c.clock.now()))
    common.console.print(f"journey '{key}' resumed ({r['released_timers']} timers released)")


@app.command()
def migrate(
    key: str,
    to: Annotated[int | None, typer.Option("--to", help="target version (default: current)")] = None,
    from_: Annotated[int | None, typer.Option("--from", help="only enrolments on this version")] = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="OLD_STEP=NEW_STEP (repeatable)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run/--apply", help="preview (default) or move")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Move waiting enrolments to another version by step-id mapping (preview first)."""
    from tidings.application.journeys import journeys as js

    mapping: dict[str, str] = {}
    for item in map_ or []:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            common.fail(f"--map takes OLD_STEP=NEW_STEP, not {item!r}")
        mapping[old] = new
    c = common.open_container()
    with c.engine.begin() as conn:
        r = _guard(
            lambda: js.migrate(
                joined(conn), key, c.clock.now(), to_version=to, from_version=from_, mapping=mapping, dry_run=dry_run
            )
        )
    if as_json:
        _print(r)
        return
    head = "would move" if dry_run else "moved"
    common.console.print(
        f"{head} {r['would_move']} waiting enrolment(s) of '{key}' to version {r['to_version']}"
    )
    for s in r["summary"]:
        common.console.print(
            f"  v{s['from_version']}:{s['from_step']} -> v{r['to_version']}:{s['to_step']}  {s['count']}"
        )
    for u in r["unmapped"][:20]:
        common.console.print(
            f"  stays: enrolment {u['enrollment_id']} at v{u['from_version']}:{u['from_step']} "
            f"({u['reason']})"
        )


@app.command()
def enroll(
    key: str,
    contact_id: int,
    enroll_key: Annotated[str, typer.Option("--key", help="enrolment key (order id...)")] = "",
) -> None:
    """Enrol a contact in a journey (manual entry)."""
    from tidings.application.journeys import signals

    c = common.open_container()
    r = _guard(lambda: signals.enroll(c, key, contact_id, enroll_key))
    common.console.print(
        f"enrolment {r['enrollment_id']}: contact {contact_id} in '{key}' v{r['version']}, "
        f"{r['status']} at {r['step']}"
    )


@app.command()
def signal(
    enrollment_id: int,
    name: str,
    data: Annotated[str, typer.Option(help='JSON object, e.g. \'{"start_date": "2026-04-01"}\'')] = "{}",
) -> None:
    """Send a self-service signal (e.g. reschedule) to a running enrolment."""
    from tidings.application.journeys import signals

    try:
        payload = json.loads(data)
    except ValueError as exc:
        common.fail(f"--data is not JSON: {exc}")
    if not isinstance(payload, dict):
        common.fail("--data must be a JSON object")
    c = common.open_container()
    r = _guard(lambda: signals.send_signal(c, enrollment_id, name, payload))
    common.console.print(
        f"signal '{name}' {'accepted' if r['accepted'] else 'recorded, no change'}: "
        f"{r['status']} at {r['step']}" + (f" until {r['waiting_until']}" if r["waiting_until"] else "")
    )


# `tidings journeys economics KEY`: the economics of a journey (tidings/cli/goals.py).
from tidings.cli.goals import economics_cmd  # noqa: E402

app.command("economics")(economics_cmd)
