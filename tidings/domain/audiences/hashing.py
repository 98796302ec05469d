"""Normalise and hash a contact's email and phone as each ad platform documents it.

- **Meta** (Custom Audiences, customer file): email trimmed and lower-cased; phone as digits only,
  with the country code, no ``+`` and no leading zeros (``+1 (415) 555-0123`` -> ``14155550123``);
  each value SHA-256, lower-case hex.
- **Google** (Customer Match / enhanced conversions): email trimmed and lower-cased, and for
  ``gmail.com`` / ``googlemail.com`` addresses the dots before the ``@`` removed (Google's own rule
  for those domains); phone in E.164 with its ``+`` (``+14155550123``); SHA-256, lower-case hex.

Phones are read as E.164 (the contacts table already holds them so: ``domain/contacts``); a value
that is not a phone gives None, never a guessed hash. Normalising is idempotent: a normalised
value normalises to itself, so equivalent inputs hash equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tidings.domain.contacts import InvalidValue, normalise_phone

Platform = Literal["meta", "google"]
PLATFORMS: tuple[Platform, ...] = ("meta", "google")

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


@dataclass(frozen=True)
class Columns:
    """The header of a platform's customer-file upload, hashed email and phone columns."""

    email: str
    phone: str


#: Meta's customer-list template: ``email``, ``phone``; Google's Customer Match template: ``Email``, ``Phone``.
COLUMNS: Mapping[Platform, Columns] = {
    "meta": Columns("email", "phone"),
    "google": Columns("Email", "Phone"),
}


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(platform: Platform, value: str) -> str | None:
    """The email as the platform hashes it; None when it is not an address (no ``@``)."""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        return None
    if platform == "google" and domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        if not local:
            return None
    return f"{local}@{domain}"


def _e164(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if not text.startswith(("+", "00")):
        digits = "".join(c for c in text if c.isdigit())
        if not digits or digits.startswith("0"):
            return None  # a national number: the country code is unknown, no guess
        text = "+" + digits
    try:
        return normalise_phone(text)
    except InvalidValue:
        return None


def normalise_phone_for(platform: Platform, value: str) -> str | None:
    """Meta: country code and number as digits (``14155550123``); Google: E.164 (``+14155550123``)."""
    e164 = _e164(value)
    if e164 is None:
        return None
    return e164.lstrip("+") if platform == "meta" else e164


def hashed_email(platform: Platform, value: str | None) -> str | None:
    norm = normalise_email(platform, value) if value else None
    return sha256_hex(norm) if norm else None


def hashed_phone(platform: Platform, value: str | None) -> str | None:
    norm = normalise_phone_for(platform, value) if value else None
    return sha256_hex(norm) if norm else None
