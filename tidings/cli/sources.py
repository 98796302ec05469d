"""CLI: tidings sources add VENDOR [--secret S] | list | remove ID — shops and payment providers
whose signed webhooks come in at ``/webhooks/VENDOR/ID`` (docs/sources.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(
    help="Vendor sources (Shopify, Stripe, WooCommerce, Zoom, Meta and Google lead forms): add, list, remove.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    vendor: Annotated[str, typer.Argument(help="shopify | stripe | woocommerce | zoom | meta-leads | google-leads")],
    secret: Annotated[str | None, typer.Option("--secret", help="the vendor's signing secret "
                                               "(omitted: one is generated and printed once)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="tells several shops apart (default: the vendor)")] = None,
    abandon_after: Annotated[str, typer.Option("--abandon-after",
                                               help="a checkout quiet this long becomes Cart Abandoned")] = "1h",
) -> None:
    """Connect a vendor: prints the webhook URL path to give it."""
    from tidings.application.ports.sources import SourceExists
    from tidings.application.sources.sources import SourceInputError, add_source, webhook_path
    from tidings.domain.journeys.timing import parse_duration

    try:
        quiet = int(parse_duration(abandon_after).total_seconds())
    except ValueError as exc:
        common.fail(f"--abandon-after: {exc}")
    c = common.open_container()
    try:
        new = add_source(c.uow(), vendor, name, secret, c.clock.now(), quiet)
    except SourceInputError as exc:
        common.fail(f"{exc.field}: {exc.message}")
    except SourceExists as exc:
        common.fail(str(exc))
    rec = new.record
    common.console.print(f"source {rec.id}: {rec.vendor} {rec.name!r}; webhook URL: "
                         f"{c.settings.public_url.rstrip('/')}{webhook_path(rec)}", highlight=False)
    if rec.vendor == "meta-leads":
        from tidings.domain.vendors.signatures import meta_verify_token

        common.console.print(f"verify token (Meta's webhook settings): {meta_verify_token(rec.secret)}",
                             highlight=False)
    if new.generated_secret is not None:
        common.console.print(f"signing secret (shown once, give it to {rec.vendor}): {new.generated_secret}",
                             highlight=False)


@app.command("list")
def list_() -> None:
    """List the sources (never their secrets)."""
    from rich.table import Table

    from tidings.application.sources.sources import describe, list_sources

    c = common.open_container()
    table = Table("id", "vendor", "name", "webhook path", "abandon after", "secret", "created")
    for rec in list_sources(c.uow(read_only=True)):
        d = describe(rec)
        table.add_row(str(d["id"]), str(d["vendor"]), str(d["name"]), str(d["webhook_path"]),
                      f"{rec.abandon_after_seconds // 60} min", str(d["secret"]), str(d["created_at"]))
    common.console.print(table)


@app.command("remove")
def remove(source_id: Annotated[int, typer.Argument(help="source id (see list)")]) -> None:
    """Disconnect a source: its webhooks are refused (401) from now on."""
    from tidings.application.sources.sources import remove_source

    c = common.open_container()
    if not remove_source(c.uow(), source_id):
        common.fail(f"no source {source_id}")
    common.console.print(f"source {source_id} removed", highlight=False)
