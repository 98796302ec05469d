"""Contact data rules: normalising identifiers, mapping traits, merging attributes.

Pure functions (no I/O): the API, the tracking endpoints and the CSV import all validate
through here, so one contact looks the same whichever door it came in by.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tidings.domain.names import control_problem

CONSENT_STATUSES = ("granted", "denied", "unsubscribed", "pending")

#: identifiers that are unique per contact.
IDENTITY_FIELDS = ("external_id", "email", "phone")

#: trait names used by Segment / RudderStack / common CSV headers -> our standard fields.
TRAIT_ALIASES: dict[str, str] = {
    "email": "email",
    "e-mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "phone": "phone",
    "phone_number": "phone",
    "phonenumber": "phone",
    "mobile": "phone",
    "firstname": "first_name",
    "first_name": "first_name",
    "givenname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "last_name": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "family_name": "last_name",
    "timezone": "timezone",
    "time_zone": "timezone",
    "tz": "timezone",
    "locale": "locale",
    "language": "locale",
    "external_id": "external_id",
    "externalid": "external_id",
    "userid": "external_id",
    "user_id": "external_id",
    "lifecycle_stage": "lifecycle_stage",
    "lifecyclestage": "lifecycle_stage",
    "stage": "lifecycle_stage",
    "owner": "owner",
    "score": "score",
    "lead_score": "score",
    "leadscore": "score",
}

#: event properties whose numeric value becomes the event's ``value`` (first found wins).
VALUE_PROPERTIES = ("revenue", "value", "total", "score")

_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ZONES: set[str] | None = None
_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_EMAIL = re.compile(
    rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,63}}$"
)
#: special-use top-level domains email-validator refuses (``test`` is allowed, see below).
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion"})


@dataclass
class ContactFilter:
    """Which contacts a list or an export shows: all of these that are set must hold (``q``: a
    case-insensitive substring of the email or a name, or exactly the external id)."""

    tag: str | None = None
    stage: str | None = None
    owner: str | None = None
    q: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    include_anonymous: bool = True


class InvalidValue(ValueError):
    """A value that cannot be stored; ``field`` names it for the caller's error path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalise_email(value: str) -> str:
    """A syntactically valid address, lower-cased (no DNS lookups: ingest must not block)."""
    text = str(value).strip()
    if not text:
        raise InvalidValue("email", "email is empty")
    simple = _simple_email(text)
    if simple is not None:
        return simple
    try:
        # test_environment: accept the reserved ``.test`` domain (demo data, test suites, the
        # built-in catcher); other special-use domains (.invalid, .local...) stay invalid.
        result = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidValue("email", f"invalid email address: {exc}") from None
    local, _, domain = result.normalized.rpartition("@")
    # Mailbox local parts are case sensitive in theory, never in practice: lower-case them so
    # "Ann@X.com" and "ann@x.com" are one contact.
    return f"{local.lower()}@{domain.lower()}"


def _simple_email(text: str) -> str | None:
    """The common plain-ASCII address, checked by a strict pattern (email-validator takes ~100 µs
    per address; an import of 100,000 rows cannot afford it). Anything unusual -> None."""
    lowered = text.lower()
    if len(lowered) > 254 or not _SIMPLE_EMAIL.match(lowered):
        return None
    local, _, domain = lowered.rpartition("@")
    if len(local) > 64 or "--" in domain:  # IDNA reserves "--" in labels: let the library judge
        return None
    if domain.rsplit(".", 1)[-1] in _SPECIAL_TLDS:
        return None
    return lowered


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """E.164 (``+4915112345678``). A number without ``+`` needs ``default_region`` (ISO country)."""
    text = str(value).strip()
    if not text:
        raise InvalidValue("phone", "phone is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if text.startswith("+") else " (use international format, e.g. +14155550123)"
        raise InvalidValue("phone", f"invalid phone number: {exc}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("phone", f"invalid phone number: {value!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_timezone(value: str) -> str:
    """An IANA zone name (``Europe/Berlin``), as zoneinfo knows it."""
    global _ZONES
    text = str(value).strip()
    if _ZONES is None:
        _ZONES = available_timezones()
    if text in _ZONES or text == "UTC":
        return text
    lowered = {z.lower(): z for z in _ZONES}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            "timezone", f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return text


def normalise_locale(value: str) -> str:
    """A BCP 47-ish tag: ``pt_br`` -> ``pt-BR``; the language part is lower-case."""
    text = str(value).strip()
    if not _LOCALE.match(text):
        raise InvalidValue("locale", f"invalid locale {value!r} (use a tag like en or pt-BR)")
    parts = re.split(r"[_-]", text)
    out = [parts[0].lower()]
    for p in parts[1:]:
        out.append(p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p.lower())
    return "-".join(out)


def normalise_field(field: str, value: Any) -> Any:
    """Normalise one standard field; ``None`` and ``""`` clear it (except score -> 0)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0 if field == "score" else None
    if field == "email":
        return normalise_email(value)
    if field == "phone":
        return normalise_phone(value)
    if field == "timezone":
        return normalise_timezone(value)
    if field == "locale":
        return normalise_locale(value)
    if field == "score":
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise InvalidValue("score", f"score must be a number, got {value!r}") from None
        if not math.isfinite(score):
            raise InvalidValue("score", "score must be finite")
        return score
    if isinstance(value, (dict, list)):
        raise InvalidValue(field, f"{field} must be text")
    text = str(value).strip()
    limit = 320 if field in ("email", "owner") else 200
    if len(text) > limit:
        raise InvalidValue(field, f"{field} is longer than {limit} characters")
    problem = control_problem(text)
    if problem is not None:
        raise InvalidValue(field, problem)
    return text


def normalise_tag(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidValue("tags", "a tag is empty")
    if len(text) > 100:
        raise InvalidValue("tags", f"tag {text[:20]!r}... is longer than 100 characters")
    problem = control_problem(text)
    if problem is not None:
        raise InvalidValue("tags", problem)
    return text


def split_traits(traits: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Traits as sent by a tracking client -> (standard fields, custom attributes).

    ``firstName`` / ``first_name`` / ``FirstName`` all map to ``first_name``; ``name`` fills the
    first and last name when those are absent. Anything unknown is a custom attribute.
    """
    standard: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for key, value in traits.items():
        target = TRAIT_ALIASES.get(key.replace(" ", "_").lower())
        if target is None:
            target = TRAIT_ALIASES.get(re.sub(r"[^a-z0-9]", "", key.lower()))
        if target is not None and target != "external_id":
            standard[target] = value
        else:
            attributes[key] = value
    name = attributes.get("name")
    if isinstance(name, str) and "first_name" not in standard and "last_name" not in standard:
        first, _, last = name.strip().partition(" ")
        standard["first_name"] = first or None
        if last:
            standard["last_name"] = last
    return standard, attributes


def merge_attributes(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): keys in ``patch`` replace, ``null`` deletes, objects merge."""
    out = dict(current)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_attributes(out[key], value)
        else:
            out[key] = value
    return out


def event_value(properties: Mapping[str, Any]) -> float | None:
    """The numeric value of an event (revenue, order total, NPS score) for fast sums."""
    for key in VALUE_PROPERTIES:
        v = properties.get(key)
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)):
            f = float(v)
            return f if math.isfinite(f) else None
        if isinstance(v, str):
            try:
                f = float(v)
            except ValueError:
                continue
            return f if math.isfinite(f) else None
    return None


def neutralise_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection advice)."""
    if value is None:
        return ""
    if not isinstance(value, str):  # numbers and booleans are never formulas
        return str(value)
    text = value
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def search_terms(text: str) -> list[str]:
    """The terms of a contact search: lower-cased, split on whitespace, duplicates dropped (at most 8)."""
    return list(dict.fromkeys(t.lower() for t in text.split()))[:8]
