"""Import presets: the column mapping and value conversions of a vendor's real export format.

A preset maps a vendor's column headers to Tidings fields (``email``, ``lifecycle_stage``,
``score``, ``tags``, ``attributes.<key>`` or ``ignore``), converts values written the vendor's
way (Mailchimp's quoted tag list, Mautic's pipe-separated tags, HubSpot's stage labels), and
reads a row's consent with its proof (opt-in time and IP, confirmation = double opt-in,
unsubscribe time and campaign) and whether the address must be suppressed (Mailchimp
"cleaned" = hard bounced). Columns the preset does not know become ``attributes.<snake_case>``.
Pure: no I/O, no clock; times come from the file.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tidings.domain.contacts import InvalidValue

#: a row of the file: column header (as written) -> value (stripped)
Row = Mapping[str, str]


class MissingColumns(ValueError):
    """The file lacks columns the preset needs: probably another vendor's file, or edited."""

    def __init__(self, preset: str, missing: Sequence[str]) -> None:
        super().__init__(f"this is not a {preset} export: missing column(s) {', '.join(missing)}")
        self.preset = preset
        self.missing = list(missing)


@dataclass(frozen=True)
class RowFacts:
    """What a row says beyond its mapped fields."""

    #: channel -> {status, source, recorded_at (datetime or None = now), proof}
    consent: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: a suppression to record for the row's email: {reason, detail} (or None)
    suppress: dict[str, Any] | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    #: columns that must be in the header (case-insensitive)
    required: tuple[str, ...]
    #: column header (lower case) -> target field
    fields: Mapping[str, str]
    #: target field -> conversion of the vendor's value into the importer's
    conversions: Mapping[str, Callable[[str], str]]
    #: the consent/suppression a row carries; gets the row and the header
    facts: Callable[[Row, Sequence[str]], RowFacts]

    def column_map(self, header: Sequence[str]) -> dict[str, str]:
        """Column -> target for this file; raises MissingColumns when required ones are absent."""
        have = {h.strip().lower() for h in header}
        missing = [c for c in self.required if c.lower() not in have]
        if missing:
            raise MissingColumns(self.label, missing)
        return {h: self.fields.get(h.strip().lower()) or f"attributes.{snake_case(h)}" for h in header}

    def convert(self, column: str, target: str, value: str) -> str:
        """``value`` written the importer's way; raises InvalidValue naming ``column``."""
        conv = self.conversions.get(target)
        try:
            return conv(value) if conv and value else value
        except InvalidValue as exc:
            raise InvalidValue(column, exc.message) from None


def snake_case(text: str) -> str:
    """``Marketing contact status`` -> ``marketing_contact_status`` (letters of any script kept)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text.strip())
    # letters, marks (Thai and Lao vowels, Arabic harakat) and digits make words; the rest separates
    kept = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in spaced)
    return "_".join(w.lower() for w in kept.split()) or "column"


def split_quoted_tags(value: str) -> str:
    """Mailchimp's TAGS cell (``"Customer","VIP 2024"``) -> ``Customer;VIP 2024``."""
    try:
        parts = next(csv.reader([value], skipinitialspace=True), [])
    except csv.Error as exc:
        raise InvalidValue("tags", f"not a list of quoted tags: {exc}") from None
    return ";".join(p.strip() for p in parts if p.strip())


def split_pipe_tags(value: str) -> str:
    """Mautic's tags (``a|b`` or ``a,b``) -> ``a;b``."""
    return ";".join(p.strip() for p in re.split(r"[|,]", value) if p.strip())


def stage_key(value: str) -> str:
    """A vendor's stage label -> a lifecycle stage key: ``Marketing Qualified Lead`` ->
    ``marketing_qualified_lead``; HubSpot's internal ``marketingqualifiedlead`` is kept as is."""
    return snake_case(value)


def parse_time(value: str, column: str) -> datetime | None:
    """A vendor's timestamp (``2024-03-01 09:15:02``, ISO 8601, UTC when no zone) or None if empty."""
    text = value.strip()
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(column, f"{text!r} is not a date and time (expected YYYY-MM-DD HH:MM:SS)") from None
    try:
        return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except OverflowError:
        raise InvalidValue(column, f"{text!r} is out of range") from None


def _get(row: Row, column: str) -> str:
    """A row's value by column name, case-insensitively."""
    for k, v in row.items():
        if k.strip().lower() == column.lower():
            return v.strip()
    return ""


def _has(header: Sequence[str], column: str) -> bool:
    return any(h.strip().lower() == column.lower() for h in header)


# --------------------------------------------------------------------------- Mailchimp

MAILCHIMP_SOURCE = "mailchimp import"
_MC_PROOF = ("OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LEID", "EUID")


def mailchimp_kind(header: Sequence[str]) -> str:
    """Which of the audience export's files this is: subscribed, unsubscribed or cleaned."""
    if _has(header, "CLEAN_TIME"):
        return "cleaned"
    if _has(header, "UNSUB_TIME"):
        return "unsubscribed"
    return "subscribed"


def _mailchimp_facts(row: Row, header: Sequence[str]) -> RowFacts:
    kind = mailchimp_kind(header)
    proof: dict[str, Any] = {"vendor": "mailchimp", "list": kind}
    for col in _MC_PROOF:
        if v := _get(row, col):
            proof[col.lower()] = v
    optin = parse_time(_get(row, "OPTIN_TIME"), "OPTIN_TIME")
    confirm = parse_time(_get(row, "CONFIRM_TIME"), "CONFIRM_TIME")
    proof["double_opt_in"] = confirm is not None
    if kind == "cleaned":
        detail = {"source": MAILCHIMP_SOURCE}
        for col in ("CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"):
            if v := _get(row, col):
                detail[col.lower()] = v
        parse_time(_get(row, "CLEAN_TIME"), "CLEAN_TIME")
        return RowFacts(suppress={"reason": "hard_bounce", "detail": detail})
    if kind == "unsubscribed":
        unsub = parse_time(_get(row, "UNSUB_TIME"), "UNSUB_TIME")
        for col in ("UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON", "UNSUB_REASON_OTHER"):
            if v := _get(row, col):
                proof[col.lower()] = v
        status = "unsubscribed"
        recorded = unsub
    else:
        status = "granted"
        recorded = confirm or optin
    return RowFacts(
        consent={"email": {"status": status, "source": MAILCHIMP_SOURCE, "recorded_at": recorded, "proof": proof}}
    )


MAILCHIMP = Preset(
    name="mailchimp",
    label="Mailchimp",
    required=("Email Address",),
    fields={
        "email address": "email",
        "first name": "first_name",
        "last name": "last_name",
        "phone number": "phone",
        "member_rating": "attributes.member_rating",
        "tags": "tags",
        "timezone": "timezone",
        "address": "attributes.address",
        "notes": "attributes.notes",
        "cc": "attributes.country_code",
        "region": "attributes.region",
        "latitude": "attributes.latitude",
        "longitude": "attributes.longitude",
        "last_changed": "attributes.mailchimp_last_changed",
        # consumed as consent proof / suppression detail, not stored twice
        **{c.lower(): "ignore" for c in (*_MC_PROOF, "GMTOFF", "DSTOFF")},
        **{
            c.lower(): "ignore"
            for c in (
                "UNSUB_TIME",
                "UNSUB_CAMPAIGN_TITLE",
                "UNSUB_CAMPAIGN_ID",
                "UNSUB_REASON",
                "UNSUB_REASON_OTHER",
                "CLEAN_TIME",
                "CLEAN_CAMPAIGN_TITLE",
                "CLEAN_CAMPAIGN_ID",
            )
        },
    },
    conversions={"tags": split_quoted_tags},
    facts=_mailchimp_facts,
)

# --------------------------------------------------------------------------- Mautic

MAUTIC_SOURCE = "mautic import"
_DNC_COLUMNS = ("dnc", "do_not_contact", "donotcontact", "do not contact")
_NO_DNC = {"", "0", "no", "false", "n", "none"}


def _mautic_facts(row: Row, header: Sequence[str]) -> RowFacts:
    value = next((v for c in _DNC_COLUMNS if (v := _get(row, c))), "")
    if value.lower() in _NO_DNC:
        return RowFacts()  # Mautic exports no opt-in proof: consent is left as it is
    proof = {"vendor": "mautic", "do_not_contact": value}
    consent = {"email": {"status": "unsubscribed", "source": MAUTIC_SOURCE, "recorded_at": None, "proof": proof}}
    suppress = None
    if "bounce" in value.lower():
        suppress = {"reason": "hard_bounce", "detail": {"source": MAUTIC_SOURCE, "do_not_contact": value}}
    return RowFacts(consent=consent, suppress=suppress)


MAUTIC = Preset(
    name="mautic",
    label="Mautic",
    required=("email",),
    fields={
        "id": "attributes.mautic_id",
        "email": "email",
        "firstname": "first_name",
        "lastname": "last_name",
        "mobile": "phone",
        "phone": "attributes.phone_landline",
        "points": "score",
        "stage": "lifecycle_stage",
        "tags": "tags",
        "preferred_locale": "locale",
        "timezone": "timezone",
        **{c: "ignore" for c in _DNC_COLUMNS},
    },
    conversions={"tags": split_pipe_tags, "lifecycle_stage": stage_key},
    facts=_mautic_facts,
)

# --------------------------------------------------------------------------- HubSpot

HUBSPOT_SOURCE = "hubspot import"
_HS_UNSUB = "unsubscribed from all email"
_TRUE = {"true", "yes", "1", "y"}


def _hubspot_facts(row: Row, header: Sequence[str]) -> RowFacts:
    if _get(row, _HS_UNSUB).lower() not in _TRUE:
        return RowFacts()  # HubSpot's export carries no opt-in proof: consent is left as it is
    proof = {"vendor": "hubspot", "unsubscribed_from_all_email": True}
    return RowFacts(
        consent={"email": {"status": "unsubscribed", "source": HUBSPOT_SOURCE, "recorded_at": None, "proof": proof}}
    )


HUBSPOT = Preset(
    name="hubspot",
    label="HubSpot",
    required=("Email",),
    fields={
        "record id": "attributes.hubspot_record_id",
        "email": "email",
        "first name": "first_name",
        "last name": "last_name",
        "phone number": "phone",
        "lifecycle stage": "lifecycle_stage",
        "hubspot score": "score",
        "marketing contact status": "attributes.marketing_contact_status",
        "create date": "attributes.hubspot_create_date",
        _HS_UNSUB: "ignore",
    },
    conversions={"lifecycle_stage": stage_key},
    facts=_hubspot_facts,
)

PRESETS: dict[str, Preset] = {p.name: p for p in (MAILCHIMP, MAUTIC, HUBSPOT)}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}") from None
