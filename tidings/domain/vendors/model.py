"""What a vendor's webhook delivery means, before anything is stored.

A mapper (``shopify.py``, ``stripe.py``...) turns one verified delivery into a :class:`Mapped`:
calls in the vocabulary of the tracking API (``identify`` with traits, ``track`` with a Segment
spec name), checkouts to watch for abandonment, checkouts now completed, or the reason the
delivery is ignored. Message ids are built from the vendor's own ids, so a retried delivery (and
two deliveries of one fact, Shopify's ``orders/create`` then ``orders/paid``) is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

VENDORS = ("shopify", "stripe", "woocommerce", "zoom", "meta-leads", "google-leads")
Vendor = Literal["shopify", "stripe", "woocommerce", "zoom", "meta-leads", "google-leads"]


class PayloadError(ValueError):
    """A verified delivery whose body is not what the vendor documents (422, nothing stored)."""


@dataclass(frozen=True)
class VendorCall:
    """One tracking call: ``identify`` (``traits``: contact fields, attributes, consent) or ``track``."""

    kind: Literal["identify", "track"]
    message_id: str
    name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    email: str | None = None
    #: a vendor-side identity (``shopify-order:...``, ``stripe-customer:...``) kept as an alias
    anonymous_id: str | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckoutSeen:
    """A checkout started or updated and not completed: abandoned if quiet for the source's period."""

    checkout_id: str
    email: str
    #: the ``Cart Abandoned`` properties (cart_id, products, total, currency, cart_url)
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Mapped:
    calls: tuple[VendorCall, ...] = ()
    checkouts_seen: tuple[CheckoutSeen, ...] = ()
    checkouts_completed: tuple[str, ...] = ()
    #: why nothing is done (an unknown topic, a status that is not a purchase): 200, logged
    ignored: str | None = None


def ignored(reason: str) -> Mapped:
    return Mapped(ignored=reason)


def money(value: Any, where: str) -> float:
    """A decimal amount sent as a string or number ("598.94") -> float."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{where}: expected an amount, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{where}: expected an amount, got {value!r}") from None
    if not d.is_finite():
        raise PayloadError(f"{where}: expected a finite amount")
    return float(d)


#: ISO 4217 currencies without minor units, as Stripe lists them (stripe.com/docs/currencies#zero-decimal)
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
#: three-decimal currencies (Stripe: amounts in thousandths)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def minor_units(amount: Any, currency: str, where: str) -> float:
    """Stripe's integer amount in the currency's smallest unit -> the amount (1999 usd -> 19.99)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PayloadError(f"{where}: expected an integer amount in minor units, got {amount!r}")
    cur = currency.lower()
    exponent = 0 if cur in ZERO_DECIMAL else 3 if cur in THREE_DECIMAL else 2
    return float(Decimal(amount).scaleb(-exponent))


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object")
    return value


def sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional nested object (``{}`` when absent or not an object)."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str | None:
    """A non-empty string (ids may come as numbers), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        s = str(value).strip()
        return s or None
    return None


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 string or Unix seconds -> an aware datetime (None when absent or unreadable)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # Zoom's event_ts is milliseconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return None
