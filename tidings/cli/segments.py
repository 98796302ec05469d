"""CLI: tidings segments list / create / update / preview / show / members / delete / refresh."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tidings.cli import common

app = typer.Typer(help="Segments: saved rules whose members are kept current.", no_args_is_help=True)


def _rule(rule: str | None, rule_file: Path | None, required: bool = True) -> Any:
    if rule is not None and rule_file is not None:
        common.fail("give --rule or --rule-file, not both")
    if rule_file is not None:
        try:
            text = rule_file.read_text()
        except OSError as exc:
            common.fail(f"cannot read {rule_file}: {exc}")
        if rule_file.suffix in (".yaml", ".yml", ".json"):
            import yaml

            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                common.fail(f"{rule_file}: {exc}")
        return text.strip()
    if rule is None and required:
        common.fail("a rule is required: --rule TEXT or --rule-file FILE (.txt, .yaml, .json)")
    return rule


def _fail(exc: Any) -> None:
    where = []
    if exc.path:
        where.append("at " + ".".join(str(p) for p in exc.path))
    if exc.column is not None:
        where.append(f"column {exc.column}")
    common.fail(f"{exc}" + (f" ({', '.join(where)})" if where else ""))


def _caret(rule: Any, exc: Any) -> None:
    if isinstance(rule, str) and exc.column is not None:
        common.err_console.print(f"  {rule}\n  {' ' * (exc.column - 1)}^", highlight=False, markup=False)


@app.command("list")
def list_() -> None:
    """List segments with their member counts."""
    from rich.table import Table

    from tidings.application.segments.segments import list_segments

    c = common.open_container()
    table = Table("key", "name", "members", "rule", "evaluated")
    for s in list_segments(c.segments):
        table.add_row(s["key"], s["name"], str(s["members"]), s["rule_text"] or "", str(s["evaluated_at"] or ""))
    common.console.print(table)


@app.command("create")
def create(
    key: Annotated[str, typer.Option(help="stable key, e.g. vip")],
    name: Annotated[str, typer.Option(help="display name")],
    rule: Annotated[str | None, typer.Option(help="rule text, e.g. 'tag(\"vip\") and score > 10'")] = None,
    rule_file: Annotated[Path | None, typer.Option(help="rule file: text, or .yaml/.json structured form")] = None,
    description: Annotated[str, typer.Option(help="what the segment is for")] = "",
) -> None:
    """Create a segment and compute its members now."""
    from tidings.application.segments.segments import SegmentError, create_segment

    source = _rule(rule, rule_file)
    c = common.open_container()
    try:
        seg = create_segment(c.segments, key, name, source, c.clock.now(), description=description)
    except SegmentError as exc:
        _caret(source, exc)
        _fail(exc)
    common.console.print(f"created segment {seg['key']}: {seg['members']} members", highlight=False)


@app.command("update")
def update(
    key: Annotated[str, typer.Argument(help="segment key")],
    name: Annotated[str | None, typer.Option(help="new display name")] = None,
    rule: Annotated[str | None, typer.Option(help="new rule text")] = None,
    rule_file: Annotated[Path | None, typer.Option(help="new rule file")] = None,
) -> None:
    """Change a segment's name or rule (members are recomputed)."""
    from tidings.application.segments.segments import SegmentError, update_segment

    source = _rule(rule, rule_file, required=False)
    c = common.open_container()
    try:
        seg = update_segment(c.segments, key, c.clock.now(), name=name, rule_source=source)
    except SegmentError as exc:
        _caret(source, exc)
        _fail(exc)
    common.console.print(f"updated segment {seg['key']}: {seg['members']} members", highlight=False)


@app.command("preview")
def preview_cmd(
    rule: Annotated[str | None, typer.Option(help="rule text")] = None,
    rule_file: Annotated[Path | None, typer.Option(help="rule file")] = None,
    sample: Annotated[int, typer.Option(help="how many contacts to show")] = 20,
) -> None:
    """How many contacts a rule matches now, and who (nothing is saved)."""
    from tidings.application.segments.segments import SegmentError, preview

    source = _rule(rule, rule_file)
    c = common.open_container()
    try:
        out = preview(c.segments, source, c.clock.now(), sample=sample)
    except SegmentError as exc:
        _caret(source, exc)
        _fail(exc)
    common.console.print(f"{out['count']} contacts match: {out['rule_text']}", highlight=False, markup=False)
    for w in out["warnings"]:
        common.console.print(f"warning: {w}", highlight=False, markup=False)
    for r in out["sample"]:
        common.console.print(
            f"  {r['id']}  {r['email'] or ''}  {r['first_name'] or ''} {r['last_name'] or ''}",
            highlight=False,
            markup=False,
        )


@app.command("show")
def show(key: Annotated[str, typer.Argument(help="segment key")]) -> None:
    """A segment's rule, member count and first members."""
    from tidings.application.segments.segments import get_segment, members

    c = common.open_container()
    seg = get_segment(c.segments, key)
    if seg is None:
        common.fail(f"no segment {key!r}")
    common.console.print(
        f"{seg['key']}: {seg['name']}\nrule: {seg['rule_text']}\nmembers: {seg['members']}\n"
        f"evaluated: {seg['evaluated_at']}",
        highlight=False,
        markup=False,
    )
    for r in members(c.segments, key, limit=20)["items"]:
        common.console.print(f"  {r['id']}  {r['email'] or ''}  since {r['entered_at']}", highlight=False, markup=False)


@app.command("delete")
def delete(key: Annotated[str, typer.Argument(help="segment key")]) -> None:
    """Delete a segment and its membership history."""
    from tidings.application.segments.segments import SegmentError, delete_segment

    c = common.open_container()
    try:
        found = delete_segment(c.segments, key)
    except SegmentError as exc:
        _fail(exc)
    if not found:
        common.fail(f"no segment {key!r}")
    common.console.print(f"deleted segment {key}", highlight=False)


@app.command("refresh")
def refresh(key: Annotated[str | None, typer.Argument(help="segment key (all when omitted)")] = None) -> None:
    """Re-evaluate one segment (or all) for every contact now."""
    from tidings.application.segments.segments import list_segments, refresh_segment, segment_id

    c = common.open_container()
    keys = [key] if key else [s["key"] for s in list_segments(c.segments)]
    for k in keys:
        sid = segment_id(c.segments, k)
        if sid is None:
            common.fail(f"no segment {k!r}")
        entered, exited = refresh_segment(c.segments, sid, c.clock.now())
        common.console.print(f"{k}: {entered} entered, {exited} exited", highlight=False)
