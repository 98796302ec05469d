"""WooCommerce webhooks -> spec events (topic in ``X-WC-Webhook-Topic``).

``order.created`` / ``order.updated``: an order whose status is ``completed`` becomes ``Order
Completed`` once per order (message id from the order id: the many updates of one order are one
event); status ``refunded`` becomes ``Order Refunded`` once. Other statuses are accepted and
ignored. The ping WooCommerce sends when a webhook is saved (``webhook_id=N``) is acknowledged.
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
    money,
    sub,
    text,
    timestamp,
)


def map_delivery(source_id: int, topic: str, order: Mapping[str, Any]) -> Mapped:
    if topic not in ("order.created", "order.updated"):
        return ignored(f"topic {topic!r} is not mapped")
    order_id = text(order.get("id"))
    if order_id is None:
        raise PayloadError("id: an order needs its id")
    status = text(order.get("status"))
    if status not in ("completed", "refunded"):
        return ignored(f"order {order_id} is {status!r}")
    billing = sub(order, "billing")
    email = text(billing.get("email"))
    if email is None:
        return ignored(f"order {order_id} names no billing email")
    total = money(order.get("total"), "total")
    products = []
    for i, raw in enumerate(order.get("line_items") or []):
        item = as_object(raw, f"line_items.{i}")
        product = {
            "product_id": text(item.get("product_id")),
            "variant": text(item.get("variation_id")) if item.get("variation_id") else None,
            "sku": text(item.get("sku")),
            "name": text(item.get("name")),
            "quantity": item.get("quantity") if isinstance(item.get("quantity"), int) else 1,
            "price": money(item["price"], f"line_items.{i}.price") if item.get("price") is not None else None,
        }
        products.append({k: v for k, v in product.items() if v is not None})
    props = {
        "order_id": order_id,
        "order_number": text(order.get("number")),
        "total": total,
        "revenue": total,
        "currency": text(order.get("currency")),
        "products": products,
        "source": "woocommerce",
    }
    if order.get("total_tax") is not None:
        props["tax"] = money(order.get("total_tax"), "total_tax")
    if order.get("shipping_total") is not None:
        props["shipping"] = money(order.get("shipping_total"), "shipping_total")
    prefix = f"woocommerce:{source_id}:order:{order_id}"
    traits = {"email": email, "first_name": text(billing.get("first_name")),
              "last_name": text(billing.get("last_name")), "phone": text(billing.get("phone"))}
    clean = {k: v for k, v in props.items() if v is not None}
    if status == "completed":
        when = timestamp(order.get("date_completed_gmt")) or timestamp(order.get("date_completed"))
        track = VendorCall("track", f"{prefix}:completed", name="Order Completed", properties=clean,
                           occurred_at=when, email=email)
    else:
        track = VendorCall("track", f"{prefix}:refunded", name="Order Refunded", properties=clean,
                           occurred_at=timestamp(order.get("date_modified_gmt")), email=email)
    return Mapped(calls=(
        VendorCall("identify", f"{prefix}:identify", traits={k: v for k, v in traits.items() if v is not None}),
        track,
    ))
