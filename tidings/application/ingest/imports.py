"""CSV import and export of contacts.

Import: columns map to fields (by header name, or ``--map col=field``); unknown columns become
custom attributes; rows upsert by external id, email or phone. Valid rows are written in
chunks of 1,000 (bulk inserts for new contacts), one transaction per chunk, so a 100,000-row
file takes seconds and a failure keeps what was committed. Every rejected row is reported with
its line number and reason; nothing is dropped silently.

Presets (``ImportOptions.preset``: mailchimp, mautic, hubspot; see ``domain/imports/presets.py``)
map a vendor's export columns, convert its values, and record consent with its proof and the
suppressions of bounced addresses. A dry run (``ImportOptions.dry_run``) reads the whole file and
reports what an import would do (created, updated, unchanged, rejected with line and column)
without writing anything.

The contacts export is in ``exports.py``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.application.contacts import changes
from tidings.application.contacts import contacts as svc
from tidings.application.contacts.identity import IdentityConflict
from tidings.application.ports.ingest import ContactImport, ImportStore, ImportUnitOfWork
from tidings.domain import jsonvalues
from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.contacts import (
    IDENTITY_FIELDS,
    TRAIT_ALIASES,
    InvalidValue,
    merge_attributes,
)
from tidings.domain.imports.presets import MissingColumns, Preset, RowFacts, get_preset
from tidings.domain.snapshot import PROFILE_FIELDS

CHUNK = 1000
IGNORED = {"id", "created_at", "updated_at", "anonymous"}
CONSENT_WORDS = {
    "granted": "granted",
    "yes": "granted",
    "y": "granted",
    "true": "granted",
    "1": "granted",
    "opt-in": "granted",
    "optin": "granted",
    "subscribed": "granted",
    "denied": "denied",
    "no": "denied",
    "n": "denied",
    "false": "denied",
    "0": "denied",
    "unsubscribed": "unsubscribed",
    "opt-out": "unsubscribed",
    "optout": "unsubscribed",
    "pending": "pending",
}


class ImportFileError(ValueError):
    """The file itself cannot be read (not CSV, no header, bad mapping)."""


@dataclass
class ImportOptions:
    #: explicit column -> field mappings (field: a standard field, tags, consent_<channel>,
    #: attributes.<key>, or ignore)
    mapping: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consent_channel: str | None = None
    consent_source: str = "import"
    consent_status: str = "granted"
    source: str = "import"
    #: a vendor preset (mailchimp, mautic, hubspot): its column mapping, conversions and consent proof
    preset: str | None = None
    #: read and check everything, write nothing
    dry_run: bool = False


@dataclass
class Rejected:
    line: int
    reason: str
    row: list[str]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    #: rows matching a contact that they would not change
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    #: email addresses suppressed (a preset's bounced / cleaned rows); counted, not written, in a dry run
    suppressed: int = 0
    dry_run: bool = False
    preset: str | None = None

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "columns": self.columns,
            "skipped": len(self.rejected),
            "suppressed": self.suppressed,
            "dry_run": self.dry_run,
            "preset": self.preset,
        }


def auto_field(header: str) -> str:
    """The field a column header names (``Email Address`` -> ``email``); unknown -> an attribute."""
    h = header.strip().lower().replace(" ", "_").replace("-", "_")
    if h in IGNORED:
        return "ignore"
    if h in ("tags", "tag", "labels"):
        return "tags"
    if h == "attributes":
        return "attributes"
    if h.startswith("consent_") and h[len("consent_") :] in CONSENT_CHANNELS:
        return h
    if h.startswith(("attributes.", "attr.")):
        return "attributes." + header.split(".", 1)[1].strip()
    std = TRAIT_ALIASES.get(h) or TRAIT_ALIASES.get(h.replace("_", ""))
    return std or f"attributes.{header.strip()}"


def column_map(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    unknown = [c for c in mapping if c not in header]
    if unknown:
        raise ImportFileError(
            f"--map names column(s) not in the file: {', '.join(unknown)} (columns: {', '.join(header)})"
        )
    out = {}
    for col in header:
        target = mapping.get(col) or auto_field(col)
        valid = (
            target in PROFILE_FIELDS
            or target in ("tags", "ignore", "attributes")
            or target.startswith("attributes.")
            or target[len("consent_") :] in CONSENT_CHANNELS
        )
        if not valid:
            raise ImportFileError(
                f"cannot map column {col!r} to {target!r}: use a standard field, tags, "
                "consent_<channel>, attributes.<key> or ignore"
            )
        out[col] = target
    return out


def row_to_input(
    values: list[str],
    header: list[str],
    cols: dict[str, str],
    opts: ImportOptions,
    now: datetime,
    preset: Preset | None = None,
) -> dict[str, Any]:
    """One CSV row -> a normalised contact change; raises InvalidValue naming the column.

    With a preset, values are converted the vendor's way first and the row's consent (with
    proof) and suppression come from the preset; the suppression is returned as ``suppress``."""
    facts = RowFacts()
    if preset is not None:
        facts = preset.facts(dict(zip(header, values, strict=True)), header)
        values = [preset.convert(c, cols[c], v.strip()) for c, v in zip(header, values, strict=True)]
    raw: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    tags = list(opts.tags)
    consent: dict[str, Any] = dict(facts.consent)
    for col, value in zip(header, values, strict=True):
        target = cols[col]
        value = value.strip()
        if target == "ignore" or value == "":
            continue
        if target == "tags":
            tags += [t.strip() for t in value.replace(",", ";").split(";") if t.strip()]
        elif target == "attributes":
            try:
                parsed = jsonvalues.loads(value)
            except jsonvalues.JsonRefused as exc:
                if not exc.problems:
                    raise InvalidValue(col, "attributes must be a JSON object") from None
                raise InvalidValue(".".join(map(str, [col, *exc.problems[0].path])), exc.problems[0].message) from None
            if not isinstance(parsed, dict):
                raise InvalidValue(col, "attributes must be a JSON object")
            attrs.update(parsed)
        elif target.startswith("attributes."):
            attrs[target.split(".", 1)[1]] = value
        elif target.startswith("consent_"):
            status = CONSENT_WORDS.get(value.lower())
            if status is None:
                raise InvalidValue(
                    col, f"consent {value!r} is not one of granted/denied/unsubscribed/pending (or yes/no)"
                )
            consent[target[len("consent_") :]] = {"status": status, "source": opts.consent_source}
        else:
            raw[target] = value
    if opts.consent_channel and opts.consent_channel not in consent:
        consent[opts.consent_channel] = {"status": opts.consent_status, "source": opts.consent_source}
    if attrs:
        raw["attributes"] = attrs
    if tags:
        raw["tags"] = tags
    if consent:
        raw["consent"] = consent
    try:
        data = svc.normalise_input(raw, now)
    except InvalidValue as exc:
        name = exc.field.split(".")[0]
        col = next(
            (c for c, t in cols.items() if t == name or t == f"consent_{exc.field.split('.')[-1]}"), name
        )
        raise InvalidValue(col, exc.message) from None
    if not any(data.get(k) for k in IDENTITY_FIELDS):
        raise InvalidValue("email", "no email, phone or external_id: the row names no contact")
    if facts.suppress is not None and data.get("email"):
        data["suppress"] = facts.suppress
    return data


def import_contacts(
    store: ImportStore,
    text: Iterable[str],
    opts: ImportOptions,
    now: Callable[[], datetime],
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV (an iterable of lines, e.g. an open file), one unit of work of ``store`` per
    chunk. Raises ImportFileError if unreadable."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty (expected a header row)") from None
    except csv.Error as exc:
        raise ImportFileError(f"not a CSV file: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    if not any(header) or len(set(header)) != len(header):
        raise ImportFileError("the header row is empty or repeats a column name")
    preset = None
    mapping = opts.mapping
    if opts.preset:
        try:
            preset = get_preset(opts.preset)
            mapping = {**preset.column_map(header), **opts.mapping}
        except (ValueError, MissingColumns) as exc:
            raise ImportFileError(str(exc)) from None
    cols = column_map(header, mapping)
    report = ImportReport(columns=cols, dry_run=opts.dry_run, preset=opts.preset)
    write = _plan_chunk if opts.dry_run else _write_chunk
    pending: list[tuple[int, list[str], dict[str, Any]]] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.rows += 1
            report.rejected.append(Rejected(reader.line_num, f"unreadable CSV: {exc}", []))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        report.rows += 1
        if len(values) != len(header):
            report.rejected.append(
                Rejected(line, f"expected {len(header)} columns, got {len(values)}", values)
            )
            continue
        try:
            pending.append((line, values, row_to_input(values, header, cols, opts, now(), preset)))
        except InvalidValue as exc:
            report.rejected.append(Rejected(line, f"{exc.field}: {exc.message}", values))
        if len(pending) >= CHUNK:
            write(store, pending, opts, now(), report)
            pending = []
            if progress:
                progress(report.rows)
    if pending:
        write(store, pending, opts, now(), report)
    if progress:
        progress(report.rows)
    report.rejected.sort(key=lambda r: r.line)
    return report


def _write_chunk(
    store: ImportStore,
    rows: list[tuple[int, list[str], dict[str, Any]]],
    opts: ImportOptions,
    now: datetime,
    report: ImportReport,
) -> None:
    with store() as uow:
        bulk = uow.contact_import
        existing = _existing(bulk, [d for _, _, d in rows])
        new: list[tuple[int, list[str], dict[str, Any]]] = []
        later: list[tuple[int, list[str], dict[str, Any]]] = []
        claimed: set[tuple[str, str]] = set()
        for line, values, data in rows:
            keys = {(f, data[f]) for f in IDENTITY_FIELDS if data.get(f)}
            cid = next((existing[k] for f in IDENTITY_FIELDS if (k := (f, data.get(f))) in existing), None)
            if cid is None and not (keys & claimed):
                claimed |= keys
                new.append((line, values, data))
            else:
                later.append((line, values, data))
        _insert_new(uow, [d for _, _, d in new], now, opts.source)
        report.created += len(new)
        same = _unchanged(uow, [(d, _match(existing, d)) for _, _, d in later])
        for i, (line, values, data) in enumerate(later):
            if i in same:  # a re-imported row that changes nothing: no query, no event
                report.unchanged += 1
                continue
            try:
                cid, created = svc.upsert_contact(uow, data, now, opts.source)
            except (IdentityConflict, svc.ContactExists) as exc:
                report.rejected.append(Rejected(line, str(exc), values))
                continue
            if created:
                report.created += 1
            else:
                report.updated += 1
        report.suppressed += bulk.add_suppressions(_suppressions(rows, now))
        uow.commit()


def _suppressions(rows: list[tuple[int, list[str], dict[str, Any]]], now: datetime) -> list[dict[str, Any]]:
    return [
        {"address": d["email"], "reason": d["suppress"]["reason"], "detail": d["suppress"]["detail"], "created_at": now}
        for _, _, d in rows
        if d.get("suppress")
    ]


def _plan_chunk(
    store: ImportStore,
    rows: list[tuple[int, list[str], dict[str, Any]]],
    opts: ImportOptions,
    now: datetime,
    report: ImportReport,
) -> None:
    """A dry run of ``_write_chunk``: the same counts, from reads only (identity conflicts between
    rows and stored contacts are found only by a real run)."""
    with store(read_only=True) as uow:
        existing = _existing(uow.contact_import, [d for _, _, d in rows])
        matched = [(d, _match(existing, d)) for _, _, d in rows]
        same = _unchanged(uow, matched)
    claimed: set[tuple[str, str]] = set()
    for i, (data, cid) in enumerate(matched):
        keys = {(f, data[f]) for f in IDENTITY_FIELDS if data.get(f)}
        if cid is None and not (keys & claimed):
            claimed |= keys
            report.created += 1
        elif i in same:
            report.unchanged += 1
        else:
            report.updated += 1
    report.suppressed += len(_suppressions(rows, now))


def _match(existing: dict[tuple[str, str], int], data: dict[str, Any]) -> int | None:
    return next((existing[k] for f in IDENTITY_FIELDS if (k := (f, data.get(f))) in existing), None)


def _unchanged(uow: ImportUnitOfWork, rows: list[tuple[dict[str, Any], int | None]]) -> set[int]:
    """Indexes of rows that would change nothing on their (already stored) contact."""
    ids = list({cid for _, cid in rows if cid is not None})
    if not ids:
        return set()
    contacts, tags, consents = uow.contact_import.stored(ids)
    out = set()
    for i, (data, cid) in enumerate(rows):
        row = contacts.get(cid) if cid is not None else None
        if row is None or cid is None:
            continue
        if any(f in data and data[f] != row[f] for f in PROFILE_FIELDS):
            continue
        attrs = row["attributes"] or {}
        if data.get("attributes") and merge_attributes(attrs, data["attributes"]) != attrs:
            continue
        if not set(data.get("tags_add") or ()) <= tags.get(cid, set()) or data.get("tags_remove"):
            continue
        if any(consents.get((cid, ch)) != c["status"] for ch, c in (data.get("consent") or {}).items()):
            continue
        out.add(i)
    return out


def _existing(bulk: ContactImport, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for f in IDENTITY_FIELDS:
        values = list({d[f] for d in rows if d.get(f)})
        if values:
            for value, cid in bulk.ids_by(f, values).items():
                out[(f, value)] = cid
    return out


def _insert_new(uow: ImportUnitOfWork, rows: list[dict[str, Any]], now: datetime, source: str) -> None:
    """New contacts in bulk: one insert each for contacts, tags, consents and their events."""
    if not rows:
        return
    contact_rows = [
        {
            **{f: d.get(f) for f in PROFILE_FIELDS if f != "score"},
            "score": d.get("score") or 0.0,
            "attributes": d.get("attributes") or {},
            "anonymous": False,
            "created_at": now,
            "updated_at": now,
        }
        for d in rows
    ]
    bulk = uow.contact_import
    ids = bulk.insert_contacts(contact_rows)
    tags, consents, events = [], [], []
    for cid, d in zip(ids, rows, strict=True):
        created = {f: {"from": None, "to": d[f]} for f in PROFILE_FIELDS if d.get(f) is not None}
        created.update(
            {f"attributes.{k}": {"from": None, "to": v} for k, v in (d.get("attributes") or {}).items()}
        )
        events.append(
            changes.change_event(cid, "contact.updated", {"changed": created, "created": True}, now, source)
        )
        for tag in dict.fromkeys(d.get("tags_add") or ()):
            tags.append({"contact_id": cid, "tag": tag, "created_at": now})
            events.append(changes.change_event(cid, "tag.added", {"tag": tag}, now, source))
        for channel, c in (d.get("consent") or {}).items():
            consents.append(
                {
                    "contact_id": cid,
                    "channel": channel,
                    "status": c["status"],
                    "source": c.get("source") or source,
                    "recorded_at": c["recorded_at"],
                    "proof": c.get("proof") or {},
                    "topics": {},
                }
            )
            events.append(
                changes.change_event(
                    cid,
                    "consent.changed",
                    {
                        "channel": channel,
                        "status": c["status"],
                        "previous": None,
                        "source": c.get("source") or source,
                    },
                    now,
                    source,
                )
            )
    bulk.insert_tags(tags)
    bulk.insert_consents(consents)
    uow.events.append_changes(events, now)


def write_rejected(path: str, header: list[str] | None, report: ImportReport) -> None:
    """FILE.rejected.csv: line, reason, then the row as it was."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["line", "reason", *(header or [])])
        for r in report.rejected:
            w.writerow([r.line, r.reason, *r.row])
