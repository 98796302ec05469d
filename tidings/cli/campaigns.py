"""CLI: tidings campaigns create | list | show | approve | schedule | send-test | cancel | report."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tidings.application.campaigns import campaigns as svc
from tidings.bootstrap import Container
from tidings.cli.common import console, fail, open_container
from tidings.domain.campaigns.model import CampaignError
from tidings.store.sql_uow import SqlUnitOfWork, joined

app = typer.Typer(help="Campaigns (broadcasts): one-off sends to a segment.", no_args_is_help=True)


def _run(action: Callable[[SqlUnitOfWork, Container], Any], *, write: bool = True) -> Any:
    c = open_container()
    try:
        if write:
            with c.engine.begin() as conn:
                return action(joined(conn), c)
        with c.engine.connect() as conn:
            return action(joined(conn), c)
    except svc.CampaignNotFound as exc:
        fail(str(exc))
    except CampaignError as exc:
        fail("\n".join(f"{p}: {m}" for p, m in exc.problems))


def _throttle(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    n, _, per = text.partition("/")
    if not n.strip().isdigit():
        fail(f"--throttle: MAX/minute or MAX/hour, e.g. 100/minute, not {text!r}")
    return {"max": int(n), "per": per.strip() or "minute"}


def _print(row: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(row, default=str, indent=2))
        return
    console.print(f"[bold]{row['key']}[/] {row['name']} — [bold]{row['status']}[/]", highlight=False)
    console.print(f"segment {row['segment']}, template {row['template']}, channel {row['channel']}", highlight=False)
    if row.get("subjects"):
        console.print("subjects: " + " | ".join(row["subjects"]), highlight=False)
    if row.get("approved_by"):
        console.print(f"approved by {row['approved_by']} at {row['approved_at']}", highlight=False)
    if "audience_now" in row:
        console.print(f"audience now: {row['audience_now']}", highlight=False)
    p = row.get("progress") or {}
    if p.get("audience"):
        console.print(", ".join(f"{k} {v}" for k, v in p.items()), highlight=False)
    if row.get("winner"):
        console.print(f"winner {row['winner']}: {row['winner_verdict']}", highlight=False)


@app.command("create")
def create_cmd(
    key: str = typer.Argument(..., help="campaign key (lower case, digits, - and _)"),
    segment: str = typer.Option(None, help="segment key: the audience"),
    template: str = typer.Option(None, help="template key"),
    name: str = typer.Option("", help="display name"),
    channel: str = typer.Option("email", help="email | sms"),
    subject: list[str] = typer.Option([], "--subject", help="a subject; give 2 or more for an A/B test"),
    at: str = typer.Option(None, help="send at this instant (ISO 8601 with a time zone)"),
    local_date: str = typer.Option(None, help="send on this date (YYYY-MM-DD) ..."),
    local_time: str = typer.Option(None, help="... at this time (HH:MM) in each contact's time zone"),
    throttle: str = typer.Option(None, help="at most MAX/minute or MAX/hour, e.g. 500/minute"),
    test_share: float = typer.Option(0.2, help="A/B: share of the audience in the test"),
    winner_after: float = typer.Option(4.0, help="A/B: hours before the winner is chosen"),
    metric: str = typer.Option("opens", help="A/B: opens (human) | clicks"),
    file: Path = typer.Option(None, exists=True, dir_okay=False, help="a JSON campaign document instead"),
) -> None:
    """Create a draft campaign (approve it, then schedule it)."""
    if file is not None:
        doc = json.loads(file.read_text())
        doc.setdefault("key", key)
    else:
        sched: dict[str, Any] = {"kind": "now"}
        if at:
            sched = {"kind": "at", "at": at}
        elif local_date or local_time:
            sched = {"kind": "local", "date": local_date, "time": local_time}
        doc = {"key": key, "name": name, "segment": segment, "template": template, "channel": channel,
               "subjects": subject, "schedule": sched, "throttle": _throttle(throttle),
               "ab": {"test_share": test_share, "winner_after_hours": winner_after, "metric": metric}}
    row = _run(lambda uow, c: svc.create(uow, doc, c.clock.now(), by=f"cli:{getpass.getuser()}"))
    console.print(f"created campaign [bold]{row['key']}[/] (draft); next: tidings campaigns approve {row['key']}")


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Campaigns, newest first."""
    rows = _run(lambda uow, c: [svc.public(r) for r in svc.listing(uow)], write=False)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table("key", "name", "status", "segment", "template", "start")
    for r in rows:
        table.add_row(r["key"], r["name"], r["status"], r["segment"], r["template"], str(r["start_at"] or ""))
    console.print(table)


@app.command("show")
def show_cmd(key: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The campaign with its progress and A/B variants."""
    _print(_run(lambda uow, c: svc.show(uow, key), write=False), as_json)


@app.command("approve")
def approve_cmd(key: str, by: str = typer.Option(None, help="who approves (default: cli:<os user>)")) -> None:
    """Approve a draft (who and when are recorded; editing drops the approval)."""
    row = _run(lambda uow, c: svc.approve(uow, key, c.clock.now(), by=by or f"cli:{getpass.getuser()}"))
    console.print(f"approved [bold]{key}[/] for {row['audience_count']} contacts (segment size now)")


@app.command("schedule")
def schedule_cmd(key: str) -> None:
    """Hand an approved campaign to the worker: it starts at its schedule."""
    row = _run(lambda uow, c: svc.schedule(uow, key, c.clock.now()))
    console.print(f"scheduled [bold]{key}[/]: starts {row['start_at']}")


@app.command("cancel")
def cancel_cmd(key: str) -> None:
    """Stop a campaign: nothing more is enqueued, messages not yet sent are skipped."""
    _run(lambda uow, c: svc.cancel(uow, key, c.clock.now()))
    console.print(f"cancelled [bold]{key}[/]")


@app.command("send-test")
def send_test_cmd(
    key: str,
    to: str = typer.Option(..., "--to", help="address the test goes to"),
    contact: int = typer.Option(None, "--contact", help="render for this contact"),
) -> None:
    """Send one test per subject to any address (the templates' send-test path)."""
    from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test
    from tidings.domain.templates import TemplateError

    c = open_container()
    try:
        with c.engine.connect() as conn:
            renders = svc.test_renders(joined(conn), key, contact_id=contact, public_url=c.settings.public_url)
    except (LookupError, TemplateError) as exc:
        fail(str(exc.args[0]) if isinstance(exc, LookupError) else str(exc))
    for variant, rendered in renders:
        try:
            sent = asyncio.run(send_test(c.email_provider(), rendered, key=rendered["key"], to=to, contact_id=contact))
        except (NotEmail, SendTestRefused) as exc:
            fail(str(exc))
        console.print(f"sent test {variant} ({rendered['subject']}) to {to} ({sent.message_ref})", highlight=False)


@app.command("report")
def report_cmd(key: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Progress, A/B variants and results (sent, delivered, human opens, clicks, unsubscribes,
    conversions, revenue) from the analytics rollups."""
    from tidings.store.analytics import SqlAnalytics

    out = _run(lambda uow, c: svc.report(uow, SqlAnalytics(uow.connection), key), write=False)
    if as_json:
        print(json.dumps(out, default=str, indent=2))
        return
    _print(out, False)
    r = out["results"]
    table = Table("sent", "delivered", "human opens", "clicks", "unsubscribes", "conversions", "revenue")
    table.add_row(*(str(r.get(k, 0)) for k in ("sent", "delivered", "opened_human_unique", "clicked_unique",
                                                 "unsubscribed", "converted", "revenue")))
    console.print(table)
    for v in out.get("variants", []):
        console.print(f"{v['variant']} {v['subject']!r}: sent {v['sent']}, converted {v['converted']}",
                      highlight=False)
