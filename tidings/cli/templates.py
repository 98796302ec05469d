"""CLI: tidings templates list | save | preview | send-test."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.table import Table

from tidings.application.delivery import templates as svc
from tidings.cli.common import console, fail, open_container
from tidings.domain.templates import TemplateError, TemplateSource
from tidings.store.sql_uow import joined

app = typer.Typer(
    help="Message templates: save from files, preview for a contact, send a test.", no_args_is_help=True
)

FORMATS = {".html": "html", ".htm": "html", ".mjml": "mjml", ".txt": "text"}


@app.command("list")
def list_cmd(channel: str = typer.Option(None, help="only this channel")) -> None:
    """List templates and their locale variants."""
    c = open_container()
    with c.engine.connect() as conn:
        rows = svc.list_templates(joined(conn), channel)
    table = Table("key", "locale", "channel", "format", "subject", "updated")
    for r in rows:
        table.add_row(
            r["key"],
            r["locale"] or "(default)",
            r["channel"],
            r["format"],
            r["subject"] or "",
            f"{r['updated_at']:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("save")
def save_cmd(
    key: str = typer.Argument(..., help="template key journeys refer to"),
    body_file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".html, .mjml or .txt body"),
    subject: str = typer.Option(None, help="subject line (Jinja2)"),
    locale: str = typer.Option("", help='locale variant, "" for the default'),
    channel: str = typer.Option("email"),
    text_file: Path = typer.Option(None, exists=True, dir_okay=False, help="plain text body (else derived)"),
    settings: str = typer.Option("{}", help='JSON settings, e.g. {"from": "Shop <a@b.c>", "topic": "news"}'),
) -> None:
    """Create or update a template from files; syntax errors are refused with their line."""
    fmt = FORMATS.get(body_file.suffix.lower())
    if fmt is None:
        fail(f"{body_file}: use .html, .mjml or .txt")
    try:
        settings_doc = json.loads(settings)
    except json.JSONDecodeError as exc:
        fail(f"--settings is not JSON: {exc}")
    src = TemplateSource(
        key=key,
        channel=channel,
        locale=locale,
        subject=subject,
        body=body_file.read_text(),
        format=fmt,
        text_body=text_file.read_text() if text_file else None,
        settings=settings_doc,
    )
    c = open_container()
    try:
        with c.engine.begin() as conn:
            svc.save_template(joined(conn), src, c.clock.now())
    except svc.TemplateInvalid as exc:
        fail("\n".join(f"{body_file if p.field == 'body' else p.field}: {p}" for p in exc.problems))
    console.print(f"saved template [bold]{key}[/] ({locale or 'default locale'})")


@app.command("preview")
def preview_cmd(
    key: str,
    contact: int = typer.Option(None, "--contact", help="contact id to personalise for"),
    locale: str = typer.Option(None, help="force a locale variant"),
    html: bool = typer.Option(False, "--html", help="print the HTML instead of the text"),
) -> None:
    """Render a template for a contact, as the delivery loop would."""
    c = open_container()
    try:
        with c.engine.connect() as conn:
            out = svc.preview(joined(conn), key, contact_id=contact, locale=locale, public_url=c.settings.public_url)
    except LookupError as exc:
        fail(str(exc.args[0]))
    except TemplateError as exc:
        fail(str(exc))
    console.print(f"[bold]Subject:[/] {out['subject'] or ''}  [dim](locale {out['locale'] or 'default'})[/]")
    print(out["html"] if html and out["html"] else out["text"])


@app.command("send-test")
def send_test_cmd(
    key: str,
    to: str = typer.Option(..., "--to", help="address the test goes to"),
    contact: int = typer.Option(None, "--contact"),
    locale: str = typer.Option(None),
) -> None:
    """Send a rendered test through the configured email provider (the local inbox by default)."""
    from tidings.application.delivery.send_test import NotEmail, SendTestRefused, send_test

    c = open_container()
    try:
        with c.engine.connect() as conn:
            out = svc.preview(joined(conn), key, contact_id=contact, locale=locale, public_url=c.settings.public_url)
    except (LookupError, TemplateError) as exc:
        fail(str(exc))
    try:
        sent = asyncio.run(send_test(c.email_provider(), out, key=key, to=to, contact_id=contact))
    except (NotEmail, SendTestRefused) as exc:
        fail(str(exc))
    console.print(f"sent test of [bold]{key}[/] to {to} ({sent.message_ref})")


@app.command("dkim-key")
def dkim_key_cmd(
    out: Path = typer.Option(..., "--out", help="where to write the new RSA private key (PEM)"),
    domain: str = typer.Option(..., help="signing domain (TIDINGS_DKIM_DOMAIN)"),
    selector: str = typer.Option("tidings", help="selector (TIDINGS_DKIM_SELECTOR)"),
) -> None:
    """Create a DKIM key for email signing and print the DNS TXT record to publish."""
    from tidings.channels.dkim import DkimSigner, generate_key

    if out.exists():
        fail(f"{out} exists: not overwriting a key")
    pem = generate_key()
    out.write_bytes(pem)
    out.chmod(0o600)
    record = DkimSigner.from_pem(domain, selector, pem).public_dns_record()
    console.print(
        f"wrote {out}; set TIDINGS_DKIM_KEY_FILE={out} TIDINGS_DKIM_DOMAIN={domain} "
        f"TIDINGS_DKIM_SELECTOR={selector}"
    )
    console.print(f"publish TXT at {selector}._domainkey.{domain}:")
    print(record)
