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

    if path is None and not from_inbox:
        common.fail("give an mbox/.eml file or --from-inbox")
    items: list[Feedback] = []
    if path is not None:
        if not path.exists():
            common.fail(f"{path}: no such file")
        items += feedback_from_mailbox(path)
    c = common.open_container()
    if from_inbox:
        import sqlalchemy as sa

        from tidings.store import schema

        i = schema.inbox
        with c.engine.connect() as conn:
            raws = conn.execute(sa.select(i.c.raw).where(i.c.channel == "email", i.c.raw.is_not(None))).scalars()
            for raw in raws:
                items += parse_dsn(str(raw).encode())
    with c.engine.begin() as conn:
        result = record_feedback(conn, items, c.clock.now(), Limits.from_settings(c.settings))
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

    c = common.open_container()
    limits = Limits.from_settings(c.settings)
    table = Table("domain", "status", "sent", "bounce rate", "complaint rate", "reason")
    with c.engine.connect() as conn:
        for d in list_domains(conn):
            r = domain_rates(conn, d["domain"], c.clock.now(), limits)
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

    c = common.open_container()
    with c.engine.begin() as conn:
        if not resume_domain(conn, domain, c.clock.now()):
            common.fail(f"sending domain {domain!r} is not paused")
    common.console.print(f"{domain} resumed", highlight=False)
