"""Ad lead forms -> contacts with consent proof and ``Lead Submitted`` (docs/sources.md).

- **Meta lead ads** (``meta-leads``): the webhook names leads only (``object: page``,
  ``entry[].changes[]`` with ``field: leadgen`` and ``value.leadgen_id/form_id/page_id/
  created_time``); the lead itself — ``field_data[{name, values}]`` and the answers to the form's
  consent checkboxes ``custom_disclaimer_responses[{checkbox_key, is_checked}]`` — is read from the
  Graph API by the application (``LeadFetcher`` port) and handed to :func:`map_meta`.
- **Google Ads lead form extensions** (``google-leads``): the whole lead is in the body:
  ``lead_id``, ``user_column_data[{column_id, string_value}]``, ``form_id``, ``campaign_id``,
  ``gcl_id``, ``is_test``; ``google_key`` (checked in ``signatures``) authenticates it. Test leads
  (``is_test``) are verified and ignored: nothing is stored.

Each lead becomes an identify (email, phone, names; the email consent with the platform, form id,
lead id, time and the consent answers as proof) and a ``Lead Submitted`` track, message ids from
the vendor's lead id, so a delivery retried or replayed is stored once. A lead without an email
is ignored (contacts are keyed by email here); a consent checkbox left unticked records
``denied``, no checkbox records ``granted`` (the person asked the advertiser to contact them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.domain.vendors.model import Mapped, PayloadError, VendorCall, as_object, ignored, text, timestamp

#: Meta's ids are digit strings; a lead id goes into a Graph URL path, so nothing else is accepted
_META_ID = re.compile(r"[0-9]{1,30}")

#: Meta's standard question names -> contact fields
META_FIELDS = {
    "email": "email",
    "work_email": "email",
    "phone_number": "phone",
    "work_phone_number": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "full_name",
}
#: Google's column ids -> contact fields
GOOGLE_FIELDS = {
    "EMAIL": "email",
    "WORK_EMAIL": "email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "phone",
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "FULL_NAME": "full_name",
}


@dataclass(frozen=True)
class MetaLeadRef:
    """One ``leadgen`` change of a Meta webhook: the lead to fetch."""

    leadgen_id: str
    form_id: str | None
    page_id: str | None
    ad_id: str | None
    created_time: datetime | None


def meta_refs(payload: Mapping[str, Any]) -> tuple[list[MetaLeadRef], list[str]]:
    """The leads a Meta delivery announces, and the changes ignored (other fields) for the log."""
    if payload.get("object") != "page":
        return [], [f"object {payload.get('object')!r} is not mapped"]
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry: expected a list")
    refs: list[MetaLeadRef] = []
    skipped: list[str] = []
    for i, raw in enumerate(entries):
        entry = as_object(raw, f"entry.{i}")
        changes = entry.get("changes") or []
        if not isinstance(changes, list):
            raise PayloadError(f"entry.{i}.changes: expected a list")
        for j, raw_change in enumerate(changes):
            change = as_object(raw_change, f"entry.{i}.changes.{j}")
            if change.get("field") != "leadgen":
                skipped.append(f"field {change.get('field')!r} is not mapped")
                continue
            value = as_object(change.get("value"), f"entry.{i}.changes.{j}.value")
            lead_id = text(value.get("leadgen_id"))
            if lead_id is None or not _META_ID.fullmatch(lead_id):
                raise PayloadError(f"entry.{i}.changes.{j}.value.leadgen_id: expected Meta's numeric lead id")
            refs.append(
                MetaLeadRef(
                    lead_id,
                    text(value.get("form_id")),
                    text(value.get("page_id")) or text(entry.get("id")),
                    text(value.get("ad_id")),
                    timestamp(value.get("created_time")),
                )
            )
    return refs, skipped


def _fields(pairs: list[tuple[str, str]], table: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(contact fields, the other answers) from (question, answer) pairs."""
    contact: dict[str, str] = {}
    answers: dict[str, str] = {}
    for name, value in pairs:
        field = table.get(name)
        if field is not None and field not in contact:
            contact[field] = value
        elif field is None:
            answers[name[:100]] = value[:1000]
    full = contact.pop("full_name", None)
    if full and "first_name" not in contact:
        first, _, last = full.partition(" ")
        contact["first_name"] = first
        if last:
            contact.setdefault("last_name", last)
    return contact, answers


def _lead(
    platform: str,
    source_id: int,
    lead_id: str,
    form_id: str | None,
    contact: Mapping[str, str],
    answers: Mapping[str, str],
    occurred_at: datetime | None,
    consent_status: str,
    proof: Mapping[str, Any],
    props: Mapping[str, Any],
) -> Mapped:
    email = contact.get("email")
    if not email:
        return ignored(f"{platform} lead {lead_id} has no email")
    prefix = f"{platform}:{source_id}:lead:{lead_id}"
    consent = {
        "status": consent_status,
        "source": f"{platform}:{form_id or 'unknown'}"[:100],
        "proof": {
            "platform": platform,
            "form_id": form_id,
            "lead_id": lead_id,
            "submitted_at": occurred_at.isoformat() if occurred_at else None,
            **proof,
        },
    }
    if occurred_at is not None:
        consent["recorded_at"] = occurred_at.isoformat()
    traits: dict[str, Any] = {k: v for k, v in contact.items() if k in ("email", "phone", "first_name", "last_name")}
    traits["consent"] = {"email": consent}
    properties = {"platform": platform, "lead_id": lead_id, "form_id": form_id, **props}
    if answers:
        properties["answers"] = dict(answers)
    return Mapped(
        calls=(
            VendorCall("identify", f"{prefix}:identify", traits=traits, occurred_at=occurred_at),
            VendorCall(
                "track",
                prefix,
                name="Lead Submitted",
                properties={k: v for k, v in properties.items() if v is not None},
                occurred_at=occurred_at,
                email=email,
            ),
        )
    )


def map_meta(source_id: int, ref: MetaLeadRef, lead: Mapping[str, Any]) -> Mapped:
    """A lead read from the Graph API (``GET /<leadgen_id>``) -> :class:`Mapped`."""
    data = lead.get("field_data")
    if not isinstance(data, list):
        raise PayloadError(f"lead {ref.leadgen_id}: field_data: expected a list")
    pairs = []
    for i, raw in enumerate(data):
        item = as_object(raw, f"field_data.{i}")
        name, values = text(item.get("name")), item.get("values")
        if name and isinstance(values, list) and values and isinstance(values[0], str):
            pairs.append((name, values[0].strip()))
    contact, answers = _fields(pairs, META_FIELDS)
    boxes = lead.get("custom_disclaimer_responses")
    checked: list[dict[str, Any]] = []
    if isinstance(boxes, list):
        for raw in boxes:
            if isinstance(raw, Mapping) and text(raw.get("checkbox_key")):
                checked.append(
                    {
                        "checkbox_key": text(raw.get("checkbox_key")),
                        "is_checked": str(raw.get("is_checked")).lower() in ("1", "true"),
                    }
                )
    status = "denied" if checked and not all(b["is_checked"] for b in checked) else "granted"
    proof: dict[str, Any] = {"page_id": ref.page_id, "ad_id": ref.ad_id}
    if checked:
        proof["custom_disclaimer_responses"] = checked
    when = timestamp(lead.get("created_time")) or ref.created_time
    return _lead(
        "meta-leads",
        source_id,
        ref.leadgen_id,
        text(lead.get("form_id")) or ref.form_id,
        contact,
        answers,
        when,
        status,
        {k: v for k, v in proof.items() if v is not None},
        {"page_id": ref.page_id, "ad_id": text(lead.get("ad_id")) or ref.ad_id},
    )


def map_google(source_id: int, payload: Mapping[str, Any]) -> Mapped:
    """Google's lead form webhook body -> :class:`Mapped` (test leads ignored)."""
    lead_id = text(payload.get("lead_id"))
    if lead_id is None:
        raise PayloadError("lead_id: a lead needs its id")
    if payload.get("is_test") is True:
        return ignored(f"Google test lead {lead_id}")
    columns = payload.get("user_column_data")
    if not isinstance(columns, list):
        raise PayloadError("user_column_data: expected a list")
    pairs = []
    for i, raw in enumerate(columns):
        col = as_object(raw, f"user_column_data.{i}")
        cid = text(col.get("column_id")) or text(col.get("column_name"))
        value = col.get("string_value")
        if cid and isinstance(value, str):
            pairs.append((cid, value.strip()))
    contact, answers = _fields(pairs, GOOGLE_FIELDS)
    form_id = text(payload.get("form_id"))
    when = timestamp(payload.get("lead_submit_time"))
    props = {
        "campaign_id": text(payload.get("campaign_id")),
        "gcl_id": text(payload.get("gcl_id")),
        "adgroup_id": text(payload.get("adgroup_id")),
        "creative_id": text(payload.get("creative_id")),
    }
    proof = {"campaign_id": props["campaign_id"], "gcl_id": props["gcl_id"]}
    return _lead(
        "google-leads",
        source_id,
        lead_id,
        form_id,
        contact,
        answers,
        when,
        "granted",
        {k: v for k, v in proof.items() if v is not None},
        props,
    )
