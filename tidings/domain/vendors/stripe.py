"""Stripe events -> spec events (the event's ``type``; idempotent on the event's ``id``).

- checkout.session.completed, mode ``payment``: ``Order Completed`` (order_id: the session id);
  mode ``subscription``/``setup``: identify only (the first ``invoice.paid`` carries the money).
- invoice.paid: ``Order Completed`` (order_id: the invoice id).
- charge.refunded: ``Order Refunded`` (the amount refunded).
- customer.subscription.created / updated / deleted: ``subscription.created`` /
  ``subscription.updated`` / ``subscription.cancelled``.

Amounts are in minor units (``1999`` usd is 19.99; zero-decimal currencies as Stripe lists them).
The Stripe customer id is tied to the contact (``stripe-customer:<id>``) whenever an email comes
with it, so the subscription events, which carry only the customer id, find the contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.vendors.model import (
    Mapped,
    PayloadError,
    VendorCall,
    as_object,
    ignored,
    minor_units,
    sub,
    text,
    timestamp,
)

SUBSCRIPTION_EVENTS = {
    "customer.subscription.created": "subscription.created",
    "customer.subscription.updated": "subscription.updated",
    "customer.subscription.deleted": "subscription.cancelled",
}


def map_delivery(source_id: int, event: Mapping[str, Any]) -> Mapped:
    event_id = text(event.get("id"))
    kind = text(event.get("type"))
    if event_id is None or kind is None:
        raise PayloadError("id, type: a Stripe event needs both")
    data = as_object(event.get("data"), "data")
    obj = as_object(data.get("object"), "data.object")
    when = timestamp(event.get("created"))
    prefix = f"stripe:{source_id}"
    mid = f"{prefix}:{event_id}"
    link = _link(prefix, obj)
    if kind == "checkout.session.completed":
        return _session(mid, obj, when, link)
    if kind == "invoice.paid":
        return _invoice(mid, obj, when, link)
    if kind == "charge.refunded":
        return _refund(mid, obj, when, link)
    if kind in SUBSCRIPTION_EVENTS:
        return _subscription(mid, SUBSCRIPTION_EVENTS[kind], obj, when, link)
    return ignored(f"event type {kind!r} is not mapped")


def _link(prefix: str, obj: Mapping[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, Mapping):  # expanded
        customer = customer.get("id")
    cid = text(customer)
    return f"stripe-customer:{prefix}:{cid}" if cid else None


def _calls(mid: str, email: str | None, link: str | None, track: VendorCall | None, name: str | None = None) -> Mapped:
    calls: list[VendorCall] = []
    if email and link:
        traits: dict[str, Any] = {"email": email}
        if name:
            first, _, last = name.strip().partition(" ")
            traits["first_name"] = first or None
            if last:
                traits["last_name"] = last
        calls.append(VendorCall("identify", f"{mid}:identify", anonymous_id=link, traits=traits))
    if track is not None:
        if not (email or link):
            return ignored(f"{track.name} names neither an email nor a customer")
        calls.append(track)
    if not calls:
        return ignored("the event names neither an email nor a customer")
    return Mapped(calls=tuple(calls))


def _track(mid: str, name: str, props: Mapping[str, Any], when: Any, email: str | None, link: str | None) -> VendorCall:
    clean = {k: v for k, v in props.items() if v is not None}
    if email:
        return VendorCall("track", mid, name=name, properties=clean, occurred_at=when, email=email)
    return VendorCall("track", mid, name=name, properties=clean, occurred_at=when, anonymous_id=link)


def _currency(obj: Mapping[str, Any]) -> str:
    cur = text(obj.get("currency"))
    if cur is None:
        raise PayloadError("data.object.currency: missing")
    return cur


def _session(mid: str, s: Mapping[str, Any], when: Any, link: str | None) -> Mapped:
    details = sub(s, "customer_details")
    email = text(details.get("email")) or text(s.get("customer_email"))
    name = text(details.get("name"))
    if s.get("mode") != "payment":
        return _calls(mid, email, link, None, name)
    if s.get("payment_status") not in (None, "paid", "no_payment_required"):
        return ignored(f"checkout session {s.get('id')} is {s.get('payment_status')!r}, not paid")
    currency = _currency(s)
    total = minor_units(s.get("amount_total"), currency, "data.object.amount_total")
    props = {
        "order_id": text(s.get("id")),
        "checkout_id": text(s.get("id")),
        "payment_intent": text(s.get("payment_intent")),
        "total": total,
        "revenue": total,
        "currency": currency.upper(),
        "source": "stripe",
    }
    return _calls(mid, email, link, _track(mid, "Order Completed", props, when, email, link), name)


def _invoice(mid: str, inv: Mapping[str, Any], when: Any, link: str | None) -> Mapped:
    email = text(inv.get("customer_email"))
    currency = _currency(inv)
    total = minor_units(inv.get("amount_paid"), currency, "data.object.amount_paid")
    products = []
    lines = inv.get("lines")
    for i, raw in enumerate((lines.get("data") or []) if isinstance(lines, Mapping) else []):
        line = as_object(raw, f"data.object.lines.data.{i}")
        price = sub(line, "price")
        item = {
            "product_id": text(price.get("product")),
            "sku": text(price.get("id")),
            "name": text(line.get("description")),
            "quantity": line.get("quantity") if isinstance(line.get("quantity"), int) else 1,
            "price": minor_units(line["amount"], currency, f"data.object.lines.data.{i}.amount")
            if isinstance(line.get("amount"), int) else None,
        }
        products.append({k: v for k, v in item.items() if v is not None})
    props = {
        "order_id": text(inv.get("id")),
        "subscription_id": text(inv.get("subscription")),
        "total": total,
        "revenue": total,
        "currency": currency.upper(),
        "products": products,
        "source": "stripe",
    }
    track = _track(mid, "Order Completed", props, when, email, link)
    return _calls(mid, email, link, track, text(inv.get("customer_name")))


def _refund(mid: str, charge: Mapping[str, Any], when: Any, link: str | None) -> Mapped:
    billing = sub(charge, "billing_details")
    email = text(billing.get("email")) or text(charge.get("receipt_email"))
    currency = _currency(charge)
    refunded = minor_units(charge.get("amount_refunded"), currency, "data.object.amount_refunded")
    props = {
        "order_id": text(charge.get("payment_intent")) or text(charge.get("id")),
        "charge_id": text(charge.get("id")),
        "total": refunded,
        "revenue": refunded,
        "currency": currency.upper(),
        "source": "stripe",
    }
    return _calls(mid, email, link, _track(mid, "Order Refunded", props, when, email, link), text(billing.get("name")))


def _subscription(mid: str, name: str, subscription: Mapping[str, Any], when: Any, link: str | None) -> Mapped:
    items = subscription.get("items")
    first: Mapping[str, Any] = {}
    if isinstance(items, Mapping) and isinstance(items.get("data"), list) and items["data"]:
        first = as_object(items["data"][0], "data.object.items.data.0")
    price = sub(first, "price")
    plan = price or (sub(subscription, "plan"))
    currency = text(plan.get("currency"))
    amount = None
    if currency and isinstance(plan.get("unit_amount", plan.get("amount")), int):
        quantity: int = first["quantity"] if isinstance(first.get("quantity"), int) else 1
        amount = minor_units(plan.get("unit_amount", plan.get("amount")), currency, "data.object.items") * quantity
    recurring = sub(plan, "recurring")
    props = {
        "subscription_id": text(subscription.get("id")),
        "status": text(subscription.get("status")),
        "plan_id": text(plan.get("id")),
        "product_id": text(plan.get("product")),
        "amount": amount,
        "currency": currency.upper() if currency else None,
        "interval": text(recurring.get("interval")) or text(plan.get("interval")),
        "cancel_at_period_end": subscription["cancel_at_period_end"]
        if isinstance(subscription.get("cancel_at_period_end"), bool) else None,
        "source": "stripe",
    }
    if link is None:
        return ignored(f"{name} names no customer")
    return Mapped(calls=(_track(mid, name, props, when, None, link),))
