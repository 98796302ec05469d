"""CLI: tidings contacts show | list | delete | export-data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tidings.cli import common
from tidings.store.sql_uow import joined

app = typer.Typer(
    help="Contacts: show one (with consent and latest events), list, delete, export their personal data.",
    no_args_is_help=True,
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _find(conn: Any, key: str) -> int:
    from tidings.application.contacts import contacts as svc

    cid = svc.lookup(joined(conn), key)
    if cid is None:
        common.fail(f"no contact matches {key!r} (give an id, email, phone or external id)")
    return cid


@app.command("show")
def show(
    email_or_id: Annotated[
        str, typer.Argument(metavar="EMAIL_OR_ID", help="id, email, phone or external id")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    events: Annotated[int, typer.Option(help="how many latest events to include")] = 20,
) -> None:
    """Show a contact: fields, attributes, tags, consent per channel and latest events."""
    from tidings.application.contacts import contacts as svc
    from tidings.application.contacts.timeline import timeline
    from tidings.store.content_sql import SqlContactReader

    c = common.open_container()
    with c.engine.connect() as conn:
        cid = _find(conn, email_or_id)
        contact = svc.get_contact(joined(conn), cid) or {}
        latest, _ = timeline(SqlContactReader(conn), cid, limit=max(1, events))
    contact["events"] = latest[:events]
    if as_json:
        print(json.dumps(_jsonable(contact), indent=2, ensure_ascii=False))
        return
    out = common.console
    name = " ".join(x for x in (contact["first_name"], contact["last_name"]) if x) or "(no name)"
    out.print(
        f"[bold]{name}[/]  id {contact['id']}" + ("  [yellow]anonymous[/]" if contact["anonymous"] else "")
    )
    fields = Table(show_header=False, box=None)
    for key in (
        "external_id",
        "email",
        "phone",
        "timezone",
        "locale",
        "lifecycle_stage",
        "owner",
        "score",
        "created_at",
        "updated_at",
    ):
        fields.add_row(key, str(contact[key]) if contact[key] is not None else "-")
    fields.add_row("tags", ", ".join(contact["tags"]) or "-")
    out.print(fields)
    if contact["attributes"]:
        out.print("[bold]attributes[/]")
        out.print_json(json.dumps(contact["attributes"], ensure_ascii=False))
    consent = Table("channel", "status", "source", "recorded", "proof", title="consent")
    for ch, info in sorted(contact["consent"].items()):
        consent.add_row(
            ch,
            info["status"],
            info["source"] or "",
            str(info["recorded_at"]),
            json.dumps(info["proof"], ensure_ascii=False) if info["proof"] else "",
        )
    out.print(consent)
    ev = Table("when", "event", "properties", title=f"latest {len(contact['events'])} events")
    for e in contact["events"]:
        ev.add_row(
            e["occurred_at"].isoformat(), e["name"], json.dumps(e["properties"], ensure_ascii=False)[:80]
        )
    out.print(ev)


@app.command("list")
def list_(
    tag: Annotated[str | None, typer.Option(help="only contacts with this tag")] = None,
    stage: Annotated[str | None, typer.Option(help="lifecycle stage")] = None,
    owner: Annotated[str | None, typer.Option(help="owner (sales rep)")] = None,
    q: Annotated[
        str | None,
        typer.Option(
            "--q",
            help="full-text search (every term in email, name, phone, external id or attributes), newest first",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """List contacts (oldest first; with --q the search's hits, newest first)."""
    from tidings.application.contacts import contacts as svc
    from tidings.application.contacts.search import search_contacts

    c = common.open_container()
    f = svc.ContactFilter(tag=tag, stage=stage, owner=owner)
    page = max(1, min(limit, 10_000))
    with c.engine.connect() as conn:
        if q is not None and q.strip():
            items, more = search_contacts(joined(conn), c.contact_search, q, f, limit=page)
        else:
            items, more = svc.list_contacts(joined(conn), f, limit=page)
    if as_json:
        for item in items:
            print(json.dumps(_jsonable(item), ensure_ascii=False))
        return
    table = Table("id", "email", "phone", "name", "stage", "owner", "score", "tags")
    for it in items:
        table.add_row(
            str(it["id"]),
            it["email"] or "",
            it["phone"] or "",
            " ".join(x for x in (it["first_name"], it["last_name"]) if x),
            it["lifecycle_stage"] or "",
            it["owner"] or "",
            f"{it['score']:g}",
            ", ".join(it["tags"]),
        )
    common.console.print(table)
    if more:
        common.console.print(f"(more than {limit}; use --limit)")


@app.command("delete")
def delete(
    email_or_id: Annotated[
        str, typer.Argument(metavar="EMAIL_OR_ID", help="id, email, phone or external id")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Delete a contact and every row about it (events, tags, consent, enrollments...)."""
    from tidings.application.contacts import contacts as svc

    c = common.open_container()
    with c.engine.connect() as conn:
        cid = _find(conn, email_or_id)
    if not yes and not typer.confirm(f"Delete contact {cid} and all its data?"):
        common.fail("cancelled")
    with c.engine.begin() as conn:
        svc.delete_contact(joined(conn), cid)
    common.console.print(f"deleted contact {cid}")


@app.command("export-data")
def export_data(
    email_or_id: Annotated[
        str, typer.Argument(metavar="EMAIL_OR_ID", help="id, email, phone or external id")
    ],
    out: Annotated[Path, typer.Option("--out", help="the zip to write (F.zip)")],
) -> None:
    """Everything stored about one contact as a zip of JSON / CSV files (GDPR Art. 15 and 20)."""
    from tidings.application.privacy.data_export import write_export
    from tidings.store.data_export_sql import SqlDataExport

    c = common.open_container()
    part = out.with_name(out.name + ".part")
    try:
        with c.engine.connect() as conn, part.open("wb") as f:
            cid = _find(conn, email_or_id)
            summary = write_export(SqlDataExport(conn), cid, f, c.clock.now(), by="cli")
    except OSError as exc:
        part.unlink(missing_ok=True)
        common.fail(f"cannot write {out}: {exc.strerror or exc}")
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(out)
    table = Table("file", "rows", box=None)
    for name, n in summary.counts.items():
        table.add_row(name, str(n))
    common.console.print(table)
    common.console.print(f"wrote {out} (contact {cid})")
