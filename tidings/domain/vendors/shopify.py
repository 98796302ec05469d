"""Shopify webhooks -> spec events (topic in ``X-Shopify-Topic``).

- orders/create, orders/paid: ``Order Completed`` once per order (message id from the order
  id); the order's checkout is completed.
- checkouts/create, checkouts/update: ``Checkout Started`` once per checkout; the checkout is
  watched for abandonment (one with ``completed_at``: completed).
- refunds/create: ``Order Refunded`` once per refund, on the order's contact.
- customers/create: ``identify`` with email, names, phone, and the email consent from
  ``email_marketing_consent`` (or the older ``accepts_marketing``), Shopify's fields as proof.

Orders identify their contact by email and tie the order id to it (``shopify-order:<id>``), since
a refund names only the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.vendors.model import (
    CheckoutSeen,
    Mapped,
    PayloadError,
    VendorCall,
    as_object,
    ignored,
    money,
    sub,
    text,
    timestamp,
)

#: Shopify's email_marketing_consent.state -> our consent status
CONSENT_STATES = {
    "subscribed": "granted",
    "not_subscribed": "denied",
    "unsubscribed": "unsubscribed",
    "pending": "pending",
    "redacted": "denied",
    "invalid": "denied",
}


def products(items: Any, where: str) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise PayloadError(f"{where}: expected a list")
    out = []
    for i, raw in enumerate(items):
        item = as_object(raw, f"{where}.{i}")
        product: dict[str, Any] = {
            "product_id": text(item.get("product_id")),
            "variant": text(item.get("variant_id")),
            "sku": text(item.get("sku")),
            "name": text(item.get("title")) or text(item.get("name")),
            "quantity": item.get("quantity") if isinstance(item.get("quantity"), int) else 1,
        }
        if item.get("price") is not None:
            product["price"] = money(item.get("price"), f"{where}.{i}.price")
        out.append({k: v for k, v in product.items() if v is not None})
    return out


def _email(obj: Mapping[str, Any]) -> str | None:
    customer = sub(obj, "customer")
    return text(obj.get("email")) or text(obj.get("contact_email")) or text(customer.get("email"))


def map_delivery(source_id: int, topic: str, payload: Mapping[str, Any], delivery_id: str | None) -> Mapped:
    prefix = f"shopify:{source_id}"
    if topic in ("orders/create", "orders/paid"):
        return _order(prefix, payload)
    if topic in ("checkouts/create", "checkouts/update"):
        return _checkout(prefix, payload)
    if topic == "refunds/create":
        return _refund(prefix, payload)
    if topic == "customers/create":
        return _customer(prefix, payload, delivery_id)
    return ignored(f"topic {topic!r} is not mapped")


def _order(prefix: str, order: Mapping[str, Any]) -> Mapped:
    order_id = text(order.get("id"))
    if order_id is None:
        raise PayloadError("id: an order needs its id")
    email = _email(order)
    token = text(order.get("checkout_token"))
    completed = (token,) if token else ()
    if email is None:
        return Mapped(checkouts_completed=completed, ignored=f"order {order_id} names no email")
    total = money(order.get("total_price"), "total_price")
    props: dict[str, Any] = {
        "order_id": order_id,
        "checkout_id": token,
        "order_number": text(order.get("name")) or text(order.get("order_number")),
        "total": total,
        "revenue": total,
        "currency": text(order.get("currency")),
        "products": products(order.get("line_items"), "line_items"),
        "source": "shopify",
    }
    for key, field in (("subtotal", "subtotal_price"), ("tax", "total_tax"), ("discount", "total_discounts")):
        if order.get(field) is not None:
            props[key] = money(order.get(field), field)
    customer = sub(order, "customer")
    traits = {
        "email": email,
        "first_name": text(customer.get("first_name")),
        "last_name": text(customer.get("last_name")),
    }
    when = timestamp(order.get("processed_at")) or timestamp(order.get("created_at"))
    link = f"shopify-order:{prefix}:{order_id}"
    return Mapped(
        calls=(
            VendorCall("identify", f"{prefix}:order:{order_id}:identify", anonymous_id=link,
                       traits={k: v for k, v in traits.items() if v is not None}),
            VendorCall("track", f"{prefix}:order:{order_id}:completed", name="Order Completed",
                       properties={k: v for k, v in props.items() if v is not None}, occurred_at=when, email=email),
        ),
        checkouts_completed=completed,
    )


def _checkout(prefix: str, checkout: Mapping[str, Any]) -> Mapped:
    token = text(checkout.get("token")) or text(checkout.get("id"))
    if token is None:
        raise PayloadError("token: a checkout needs its token")
    if checkout.get("completed_at"):
        return Mapped(checkouts_completed=(token,))
    email = _email(checkout)
    if email is None:
        return ignored(f"checkout {token} names no email yet")
    total = money(checkout.get("total_price"), "total_price") if checkout.get("total_price") is not None else None
    cart = {
        "cart_id": token,
        "checkout_id": token,
        "products": products(checkout.get("line_items"), "line_items"),
        "total": total,
        "revenue": total,
        "currency": text(checkout.get("currency")) or text(checkout.get("presentment_currency")),
        "cart_url": text(checkout.get("abandoned_checkout_url")),
        "source": "shopify",
    }
    cart = {k: v for k, v in cart.items() if v is not None}
    when = timestamp(checkout.get("created_at"))
    return Mapped(
        calls=(
            VendorCall("track", f"{prefix}:checkout:{token}:started", name="Checkout Started",
                       properties=cart, occurred_at=when, email=email),
        ),
        checkouts_seen=(CheckoutSeen(token, email, cart),),
    )


def _refund(prefix: str, refund: Mapping[str, Any]) -> Mapped:
    refund_id = text(refund.get("id"))
    order_id = text(refund.get("order_id"))
    if refund_id is None or order_id is None:
        raise PayloadError("id, order_id: a refund needs both")
    amount = 0.0
    currency = None
    transactions = refund.get("transactions") or []
    if not isinstance(transactions, list):
        raise PayloadError("transactions: expected a list")
    for i, raw in enumerate(transactions):
        t = as_object(raw, f"transactions.{i}")
        if t.get("kind") == "refund" and t.get("status", "success") == "success":
            amount += money(t.get("amount"), f"transactions.{i}.amount")
            currency = currency or text(t.get("currency"))
    lines = refund.get("refund_line_items") or []
    if not isinstance(lines, list):
        raise PayloadError("refund_line_items: expected a list")
    items = [as_object(r, f"refund_line_items.{i}").get("line_item") for i, r in enumerate(lines)]
    props = {
        "order_id": order_id,
        "refund_id": refund_id,
        "total": amount,
        "revenue": amount,
        "currency": currency,
        "products": products([i for i in items if isinstance(i, Mapping)], "refund_line_items"),
        "source": "shopify",
    }
    return Mapped(
        calls=(
            VendorCall("track", f"{prefix}:refund:{refund_id}", name="Order Refunded",
                       properties={k: v for k, v in props.items() if v is not None},
                       occurred_at=timestamp(refund.get("processed_at")) or timestamp(refund.get("created_at")),
                       anonymous_id=f"shopify-order:{prefix}:{order_id}"),
        )
    )


def consent_of(customer: Mapping[str, Any]) -> dict[str, Any] | None:
    """The email consent a customer record states, with Shopify's own fields as proof."""
    emc = customer.get("email_marketing_consent")
    if isinstance(emc, Mapping) and emc.get("state") in CONSENT_STATES:
        proof = {
            "form": "shopify:email_marketing_consent",
            "state": emc.get("state"),
            "opt_in_level": emc.get("opt_in_level"),
            "consent_updated_at": emc.get("consent_updated_at"),
        }
        return {"status": CONSENT_STATES[str(emc["state"])], "source": "shopify",
                "proof": {k: v for k, v in proof.items() if v is not None}}
    accepts = customer.get("accepts_marketing")
    if isinstance(accepts, bool):
        proof = {"form": "shopify:accepts_marketing", "accepts_marketing": accepts,
                 "accepts_marketing_updated_at": customer.get("accepts_marketing_updated_at"),
                 "marketing_opt_in_level": customer.get("marketing_opt_in_level")}
        return {"status": "granted" if accepts else "denied", "source": "shopify",
                "proof": {k: v for k, v in proof.items() if v is not None}}
    return None


def _customer(prefix: str, customer: Mapping[str, Any], delivery_id: str | None) -> Mapped:
    customer_id = text(customer.get("id"))
    email = text(customer.get("email"))
    if email is None:
        return ignored(f"customer {customer_id} has no email")
    traits: dict[str, Any] = {
        "email": email,
        "first_name": text(customer.get("first_name")),
        "last_name": text(customer.get("last_name")),
        "phone": text(customer.get("phone")),
        "attributes": {"shopify_customer_id": customer_id} if customer_id else None,
    }
    consent = consent_of(customer)
    if consent is not None:
        traits["consent"] = {"email": consent}
    return Mapped(
        calls=(
            VendorCall("identify", f"{prefix}:customer:{customer_id or delivery_id}:create",
                       traits={k: v for k, v in traits.items() if v is not None}),
        )
    )
