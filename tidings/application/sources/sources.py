"""Sources: add (the signing secret given, or generated and shown once), list, remove."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from tidings.application.ports.sources import SourceRecord, SourcesUnitOfWork
from tidings.domain.names import control_problem
from tidings.domain.vendors.model import VENDORS
from tidings.domain.vendors.signatures import meta_verify_token

#: a Shopify checkout quiet this long is a ``Cart Abandoned`` (Shopify's own default is 10 h;
#: the abandoned-cart recipe waits a further hour before its first reminder)
DEFAULT_ABANDON_AFTER = 3600
MIN_SECRET = 8
MAX_SECRET = 500


class SourceInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NewSource:
    record: SourceRecord
    #: the secret, when Tidings generated it: shown this once, never again
    generated_secret: str | None


def masked(secret: str) -> str:
    """No character of a signing secret is ever shown again, only that it is set."""
    return f"set ({len(secret)} characters)"


def webhook_path(record: SourceRecord) -> str:
    return f"/webhooks/{record.vendor}/{record.id}"


def add_source(
    uow: SourcesUnitOfWork, vendor: str, name: str | None, secret: str | None, now: datetime,
    abandon_after_seconds: int = DEFAULT_ABANDON_AFTER,
) -> NewSource:
    vendor = vendor.strip().lower()
    if vendor not in VENDORS:
        raise SourceInputError("vendor", f"unknown vendor {vendor!r}; use one of {', '.join(VENDORS)}")
    name = (name or vendor).strip()
    if not name or len(name) > 200 or control_problem(name):
        raise SourceInputError("name", "a name of 1 to 200 characters without control characters")
    generated = None
    if secret is None or secret == "":
        generated = secret = "whsec_" + secrets.token_urlsafe(32)
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or control_problem(secret) or secret != secret.strip():
        raise SourceInputError("secret", f"the signing secret has {MIN_SECRET} to {MAX_SECRET} characters, "
                                         "no spaces around it, no control characters")
    if not 60 <= abandon_after_seconds <= 30 * 86400:
        raise SourceInputError("abandon_after", "the quiet period is between 1 minute and 30 days")
    with uow:
        sid = uow.sources.add(vendor, name, secret, abandon_after_seconds, now)
        uow.commit()
        record = uow.sources.get(sid)
    assert record is not None
    return NewSource(record, generated)


def list_sources(uow: SourcesUnitOfWork, vendor: str | None = None) -> list[SourceRecord]:
    with uow:
        return uow.sources.list(vendor)


def remove_source(uow: SourcesUnitOfWork, source_id: int) -> bool:
    with uow:
        gone = uow.sources.remove(source_id)
        uow.commit()
    return gone


def describe(record: SourceRecord) -> dict[str, object]:
    """A source for display: never its secret."""
    out: dict[str, object] = {
        "id": record.id,
        "vendor": record.vendor,
        "name": record.name,
        "secret": masked(record.secret),
        "webhook_path": webhook_path(record),
        "abandon_after_seconds": record.abandon_after_seconds,
        "created_at": record.created_at.isoformat(),
    }
    if record.vendor == "meta-leads":
        # what to type into Meta's webhook settings as the "Verify token" (derived from the secret)
        out["verify_token"] = meta_verify_token(record.secret)
    return out
