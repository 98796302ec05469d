"""Who may be uploaded to an ad platform, and the row each contact becomes.

Tidings has no ``ads`` consent channel: uploading a hashed identifier is marketing to that
person, so a contact is exported only when

- it gave a marketing consent (``granted`` on email or SMS), and
- it withdrew none (no channel ``unsubscribed`` or ``denied``), and
- its email is not on the suppression list (hard bounce, complaint, manual).

Erased contacts are deleted rows, so they are never read. A contact with neither a usable email
nor a usable phone is skipped as "no identifier"; the counts keep the two reasons apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tidings.domain.audiences.hashing import Platform, hashed_email, hashed_phone

MARKETING_CONSENT_CHANNELS = ("email", "sms")
WITHDRAWN = frozenset({"unsubscribed", "denied"})

Skip = Literal["no_identifier", "no_consent"]


@dataclass(frozen=True)
class Member:
    """A segment member as the export reads it."""

    contact_id: int
    email: str | None
    phone: str | None
    #: channel -> consent status
    consents: Mapping[str, str]
    suppressed: bool


@dataclass(frozen=True)
class AudienceRow:
    contact_id: int
    email_hash: str | None
    phone_hash: str | None

    def hashes(self) -> tuple[str, ...]:
        return tuple(h for h in (self.email_hash, self.phone_hash) if h)


def consent_problem(member: Member) -> bool:
    """True when the contact may not be uploaded (see the module's rule)."""
    if member.suppressed:
        return True
    if any(status in WITHDRAWN for status in member.consents.values()):
        return True
    return not any(member.consents.get(ch) == "granted" for ch in MARKETING_CONSENT_CHANNELS)


def audience_row(platform: Platform, member: Member) -> AudienceRow | Skip:
    """The hashed row, or why the member is skipped (consent is checked first)."""
    if consent_problem(member):
        return "no_consent"
    email = hashed_email(platform, member.email)
    phone = hashed_phone(platform, member.phone)
    if email is None and phone is None:
        return "no_identifier"
    return AudienceRow(member.contact_id, email, phone)
