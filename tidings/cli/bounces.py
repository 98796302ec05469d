"""CLI: tidings bounces import-dsn | domains | resume — bounces without a provider webhook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Bounces and complaints: SMTP DSNs, sending domains.", no_args_is_help=True)


@app.command("import-dsn")
def import_dsn(
    path: Annotated[Path | None, typer.Argument(help="an mbox file or one .eml message")] = None,
    from_inbox: Annotated[bool, typer.Option("--from-inbox", help="read DSNs the SMTP catcher received")] = False,
) -> None:
    """Read delivery status notifications (RFC 3464): hard bounces suppress, soft ones are counted."""
    from tidings.channels.bounces import Feedback, Limits, record_feedback
    from tidings.channels.dsn import feedback_from_mailbox, parse_dsn
    from tidings.store.sql_uow import SqlUnitOfWork

    if path is None and not from_inbox:
        common.fail("give an mbox/.eml file or --from-inbox")
    items: list[Feedback] = []
    if path is not None:
        if not path.exists():
            common.fail(f"{path}: no such file")
        items += feedback_from_mailbox(path)
    c = common.open_container()
    if from_inbox:
        with SqlUnitOfWork(c.engine, read_only=True) as uow:
            for raw in uow.inbox.raw_messages("email"):
                items += parse_dsn(raw.encode())
    with SqlUnitOfWork(c.engine) as uow:
        result = record_feedback(uow, items, c.clock.now(), Limits.from_settings(c.settings))
        uow.commit()
    common.console.print(
        f"{len(items)} bounce(s) read, {result.recorded} recorded, {result.duplicates} already known, "
        f"{result.unmatched} not ours; "
        f"suppressed: {', '.join(result.suppressed) or 'none'}; paused domains: "
        f"{', '.join(result.paused_domains) or 'none'}",
        highlight=False,
    )


@app.command("domains")
def domains() -> None:
    """Sending domains with their state and rolling bounce/complaint rates."""
    from rich.table import Table

    from tidings.channels.bounces import Limits, domain_rates, list_domains
    from tidings.store.sql_uow import SqlUnitOfWork

    c = common.open_container()
    limits = Limits.from_settings(c.settings)
    table = Table("domain", "status", "sent", "bounce rate", "complaint rate", "reason")
    with SqlUnitOfWork(c.engine, read_only=True) as uow:
        for d in list_domains(uow):
            r = domain_rates(uow, d["domain"], c.clock.now(), limits)
            table.add_row(
                d["domain"],
                d["status"],
                str(r["sent"]),
                f"{r['bounce_rate']:.2%}",
                f"{r['complaint_rate']:.3%}",
                d["reason"] or "",
            )
    common.console.print(table)


@app.command("resume")
def resume(domain: Annotated[str, typer.Argument(help="the paused sending domain")]) -> None:
    """Resume a paused sending domain (its held email goes out at the next round)."""
    from tidings.channels.bounces import resume_domain
    from tidings.store.sql_uow import SqlUnitOfWork

    c = common.open_container()
    with SqlUnitOfWork(c.engine) as uow:
        if not resume_domain(uow, domain, c.clock.now()):
            common.fail(f"sending domain {domain!r} is not paused")
        uow.commit()
    common.console.print(f"{domain} resumed", highlight=False)
