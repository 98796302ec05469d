"""CLI: tidings alerts | policies show|set | sending pause|resume|status | enrolments stop."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tidings.application.ports.control import ControlRepository
from tidings.cli import common

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
T = TypeVar("T")
ChannelOpt = Annotated[str | None, typer.Option("--channel", help="one channel (email, sms...); default: all")]

policies = typer.Typer(
    help="The global send policy: caps, quiet hours, priorities, loop breaker.", no_args_is_help=True
)
sending = typer.Typer(help="The kill switch: pause and resume all sending, or one channel.", no_args_is_help=True)
enrolments = typer.Typer(help="Bulk actions on enrolments.", no_args_is_help=True)


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _read_db(fn: Callable[[ControlRepository], T]) -> T:
    from tidings.store.control import SqlControl

    with common.open_container().engine.connect() as conn:
        return fn(SqlControl(conn))


def _write(fn: Callable[[ControlRepository, datetime], T], errors: type[Exception] | tuple[type[Exception], ...]) -> T:
    """Run ``fn(repo, now)`` in one transaction; a refused input exits 2 with its message."""
    from tidings.store.control import SqlControl

    c = common.open_container()
    try:
        with c.engine.begin() as conn:
            return fn(SqlControl(conn), c.clock.now())
    except errors as exc:
        common.fail(str(exc), code=2)


def _out(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        _print(data)
    else:
        common.console.print(text, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts)
    app.add_typer(policies, name="policies")
    app.add_typer(sending, name="sending")
    app.add_typer(enrolments, name="enrolments")


def alerts(
    as_json: JsonOpt = False,
    all_: Annotated[bool, typer.Option("--all", help="include acknowledged alerts")] = False,
    ack: Annotated[int | None, typer.Option("--ack", help="acknowledge this alert id")] = None,
    by: Annotated[str, typer.Option(help="who acknowledges")] = "cli",
) -> None:
    """Open alerts (loops stopped by the loop breaker...), newest first."""
    from tidings.application.control import alerts as al

    if ack is not None:
        row = _write(lambda conn, now: al.acknowledge(conn, ack, by, now), al.AlertNotFound)
        _out(row, as_json, f"alert {ack} acknowledged by {row['acknowledged_by']}")
        return
    items = _read_db(lambda conn: al.list_alerts(conn, include_acknowledged=all_))
    if as_json:
        _print({"items": items})
        return
    if not items:
        common.console.print("no open alerts")
        return
    for a in items:
        done = f" (acknowledged by {a['acknowledged_by']})" if a["acknowledged_at"] else ""
        common.console.print(
            f"#{a['id']} [{a['severity']}] {a['kind']} x{a['count']} last {a['last_at']}{done}\n  {a['message']}",
            highlight=False,
        )


@policies.command("show")
def policies_show(as_json: JsonOpt = False) -> None:
    """The policy in force (the saved document and its effective values)."""
    from tidings.application.control import policies as pol

    data = _read_db(pol.show)
    if as_json:
        _print(data)
        return
    common.console.print(data["source"] or "# no policy saved: defaults (no caps, loop breaker 3 rounds / 24h)")
    _print(data["effective"])


@policies.command("set")
def policies_set(
    file: Annotated[Path, typer.Argument(help="policy document (YAML or JSON); '-' reads stdin")],
    by: Annotated[str | None, typer.Option(help="who changes it")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate and save the global send policy (every problem is listed; nothing saved then)."""
    import sys

    from tidings.application.control import policies as pol
    from tidings.domain.control.policy import PolicyError

    text = sys.stdin.read() if str(file) == "-" else _read(file)
    data = _write(lambda conn, now: pol.save(conn, pol.parse_text(text), now, by=by, source=text), PolicyError)
    _out(data, as_json, f"send policy saved: {len(data['effective']['caps'])} cap(s)")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        common.fail(f"cannot read {file}: {exc.strerror}")


def _held(data: dict[str, Any]) -> str:
    return ", ".join(f"{h['channel']}: {h['count']}" for h in data["held"]) or "nothing"


@sending.command("status")
def sending_status(as_json: JsonOpt = False) -> None:
    """Is sending paused, and what is held."""
    from tidings.application.control import sending as snd

    data = _read_db(snd.status)
    what = "everything" if data["all"] else ", ".join(data["channels"]) or "nothing"
    _out(data, as_json, f"paused: {what}; held messages: {_held(data)}")


@sending.command("pause")
def sending_pause(
    channel: ChannelOpt = None, by: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False
) -> None:
    """Pause all sending (or one channel): messages stay pending in the outbox until resume."""
    from tidings.application.control import sending as snd

    data = _write(lambda conn, now: snd.pause(conn, now, channel=channel, by=by), snd.SendingError)
    _out(data, as_json, f"sending paused ({channel or 'all channels'}); held now: {_held(data)}")


@sending.command("resume")
def sending_resume(
    channel: ChannelOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="resume without the preview prompt")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only show what would be released")] = False,
    by: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume sending; shows what is held (and asks) first."""
    from tidings.application.control import sending as snd

    preview = _write(lambda conn, now: snd.resume(conn, now, channel=channel, dry_run=True), snd.SendingError)
    what = ", ".join(f"{h['channel']}: {h['count']}" for h in preview["releases"]) or "none"
    if dry_run or (
        not yes and not as_json and not typer.confirm(f"release {preview['released_total']} held message(s) ({what})?")
    ):
        _out(preview, as_json, f"would release {preview['released_total']} message(s); nothing changed")
        return
    data = _write(lambda conn, now: snd.resume(conn, now, channel=channel, by=by), snd.SendingError)
    _out(data, as_json, f"sending resumed ({channel or 'all channels'}): {data['released_total']} message(s) released")


@enrolments.command("stop")
def enrolments_stop(
    caused_by_tag: Annotated[str, typer.Option("--caused-by-tag", help="stop enrolments this tag caused")],
    yes: Annotated[bool, typer.Option("--yes", help="stop them (without: preview only)")] = False,
    by: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop every running enrolment caused by a tag (and what they caused); preview without --yes."""
    from tidings.application.control import sending as snd

    data = _write(
        lambda conn, now: snd.stop_caused_by_tag(conn, caused_by_tag, now, apply=yes, by=by), snd.SendingError
    )
    per = ", ".join(f"{j['journey']}: {j['count']}" for j in data["journeys"]) or "none"
    verb = "stopped" if yes else "would stop (add --yes)"
    _out(data, as_json, f"{verb} {data['count']} enrolment(s) caused by tag {caused_by_tag!r} ({per})")
