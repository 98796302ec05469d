"""CLI: tidings forms add FILE | edit KEY FILE | list | show KEY | submissions KEY — form definitions
(JSON documents) and their submissions with consent status (docs/forms.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tidings.cli import common

app = typer.Typer(help="Forms: hosted and embeddable sign-up forms with double opt-in.", no_args_is_help=True)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        common.fail(f"{path}: {exc.strerror}")
    except ValueError as exc:
        common.fail(f"{path}: not JSON ({exc})")


def _invalid(exc: Exception) -> None:
    from tidings.domain.forms.model import FormInvalid

    if isinstance(exc, FormInvalid):
        common.fail("the form is not valid:\n" + "\n".join(f"  {p or '(document)'}: {m}" for p, m in exc.errors))
    raise exc


@app.command("add")
def add(file: Annotated[Path, typer.Argument(help="the form document (JSON)")]) -> None:
    """Create a form; prints its hosted URL and the embed snippet."""
    from tidings.application.forms.forms import create_form
    from tidings.application.ports.forms import FormExists
    from tidings.domain.forms.model import FormInvalid

    doc = _read(file)
    c = common.open_container()
    try:
        rec = create_form(c.uow(), doc, c.clock.now())
    except FormInvalid as exc:
        _invalid(exc)
        return
    except FormExists as exc:
        common.fail(str(exc))
    base = c.settings.public_url.rstrip("/")
    common.console.print(f"form {rec.key!r} created; hosted page: {base}/f/{rec.key}", highlight=False)
    typer.echo(f'embed: <div id="tidings-form-{rec.key}"></div>'
                         f'<script src="{base}/f/{rec.key}/embed.js" async></script>')


@app.command("edit")
def edit(key: str, file: Annotated[Path, typer.Argument(help="the whole new document (JSON)")]) -> None:
    """Replace a form's definition (its key stays)."""
    from tidings.application.forms.forms import UnknownForm, edit_form
    from tidings.domain.forms.model import FormInvalid

    doc = _read(file)
    c = common.open_container()
    try:
        edit_form(c.uow(), key, doc, c.clock.now())
    except FormInvalid as exc:
        _invalid(exc)
    except UnknownForm as exc:
        common.fail(str(exc))
    common.console.print(f"form {key!r} saved", highlight=False)


@app.command("list")
def list_() -> None:
    """List the forms."""
    from rich.table import Table

    from tidings.application.forms.forms import list_forms

    c = common.open_container()
    table = Table("key", "name", "fields", "consents", "double opt-in", "updated")
    for rec in list_forms(c.uow(read_only=True)):
        d = rec.definition
        table.add_row(d.key, d.name, str(len(d.fields)), ", ".join(b.channel for b in d.consents) or "-",
                      "yes" if d.double_opt_in else "no", rec.updated_at.isoformat())
    common.console.print(table)


@app.command("show")
def show(key: str) -> None:
    """Print a form's document (JSON)."""
    from tidings.application.forms.forms import UnknownForm, form_json, get_form

    c = common.open_container()
    try:
        rec = get_form(c.uow(read_only=True), key)
    except UnknownForm as exc:
        common.fail(str(exc))
    typer.echo(json.dumps(form_json(rec), indent=2, ensure_ascii=False))


@app.command("submissions")
def submissions_cmd(
    key: str, limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines with the full proof")] = False,
) -> None:
    """A form's submissions, newest first, with their consent status."""
    from rich.table import Table

    from tidings.application.forms.forms import UnknownForm, submission_json, submissions

    c = common.open_container()
    try:
        rows = submissions(c.uow(read_only=True), key, limit)
    except UnknownForm as exc:
        common.fail(str(exc))
    if as_json:
        for rec in rows:
            typer.echo(json.dumps(submission_json(rec), ensure_ascii=False))
        return
    table = Table("id", "submitted", "email", "status", "consents", "confirmed")
    for rec in rows:
        table.add_row(str(rec.id), rec.submitted_at.isoformat(), rec.email, str(rec.status),
                      ", ".join(b["channel"] for b in rec.consents) or "-",
                      rec.confirmed_at.isoformat() if rec.confirmed_at else "-")
    common.console.print(table)
