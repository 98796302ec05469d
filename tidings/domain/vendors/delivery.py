"""One verified delivery -> :class:`Mapped`: the vendor's topic and body, dispatched."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tidings.domain import jsonvalues
from tidings.domain.vendors import leadforms, shopify, stripe, woocommerce, zoom
from tidings.domain.vendors.model import Mapped, PayloadError, ignored


def parse_body(body: bytes) -> Mapping[str, Any]:
    try:
        value = jsonvalues.loads(body, ["body"])
    except (jsonvalues.JsonRefused, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise PayloadError("the body must be a JSON object")
    return value


def topic_of(vendor: str, headers: Mapping[str, str], payload: Mapping[str, Any] | None = None) -> str:
    if vendor == "shopify":
        return headers.get("x-shopify-topic", "")
    if vendor == "woocommerce":
        return headers.get("x-wc-webhook-topic", "")
    if vendor == "meta-leads":
        return "leadgen"
    if vendor == "google-leads":
        return "lead_form"
    if payload is None:
        return ""
    key = "type" if vendor == "stripe" else "event"
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def delivery_id(vendor: str, headers: Mapping[str, str], payload: Mapping[str, Any] | None) -> str | None:
    if vendor == "shopify":
        return headers.get("x-shopify-webhook-id")
    if vendor == "woocommerce":
        return headers.get("x-wc-webhook-delivery-id")
    if vendor == "stripe" and payload is not None:
        value = payload.get("id")
        return value if isinstance(value, str) else None
    return None


def is_woocommerce_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return not headers.get("x-wc-webhook-topic") and body.startswith(b"webhook_id=")


def map_delivery(vendor: str, source_id: int, headers: Mapping[str, str], body: bytes) -> Mapped:
    if vendor == "woocommerce" and is_woocommerce_ping(headers, body):
        return ignored("WooCommerce ping")
    payload = parse_body(body)
    topic = topic_of(vendor, headers, payload)
    if vendor == "shopify":
        return shopify.map_delivery(source_id, topic, payload, delivery_id(vendor, headers, payload))
    if vendor == "stripe":
        return stripe.map_delivery(source_id, payload)
    if vendor == "woocommerce":
        return woocommerce.map_delivery(source_id, topic, payload)
    if vendor == "zoom":
        return zoom.map_delivery(source_id, payload)
    if vendor == "google-leads":
        return leadforms.map_google(source_id, payload)
    raise PayloadError(f"unknown vendor {vendor!r}")
