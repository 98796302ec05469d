"""One event vocabulary: the Segment spec's names map to Tidings' dotted names.

A browser or server client following the Segment spec sends ``Order Completed``; recipes,
triggers, segments and attribution speak ``order.completed``. Ingest stores the dotted name
(the one documented in docs/tracking.md), and journey triggers, exit/goal criteria and the rule
language accept either spelling, so there is one vocabulary, not two. A name outside the table
is kept exactly as sent.
"""

from __future__ import annotations

from types import MappingProxyType

#: Segment spec name -> Tidings name (the e-commerce v2 spec).
SPEC_NAMES: MappingProxyType[str, str] = MappingProxyType(
    {
        "Products Searched": "products.searched",
        "Product List Viewed": "product_list.viewed",
        "Product List Filtered": "product_list.filtered",
        "Promotion Viewed": "promotion.viewed",
        "Promotion Clicked": "promotion.clicked",
        "Product Clicked": "product.clicked",
        "Product Viewed": "product.viewed",
        "Product Added": "product.added",
        "Product Removed": "product.removed",
        "Product Reviewed": "product.reviewed",
        "Product Shared": "product.shared",
        "Product Added to Wishlist": "wishlist.product_added",
        "Product Removed from Wishlist": "wishlist.product_removed",
        "Wishlist Product Added to Cart": "wishlist.product_added_to_cart",
        "Cart Viewed": "cart.viewed",
        "Cart Shared": "cart.shared",
        "Cart Abandoned": "cart.abandoned",
        "Checkout Started": "checkout.started",
        "Checkout Step Viewed": "checkout.step_viewed",
        "Checkout Step Completed": "checkout.step_completed",
        "Payment Info Entered": "payment_info.entered",
        "Coupon Entered": "coupon.entered",
        "Coupon Applied": "coupon.applied",
        "Coupon Denied": "coupon.denied",
        "Coupon Removed": "coupon.removed",
        "Order Updated": "order.updated",
        "Order Completed": "order.completed",
        "Order Refunded": "order.refunded",
        "Order Cancelled": "order.cancelled",
        # B2B: a lead form submitted (Meta lead ads, Google lead form extensions; docs/sources.md)
        "Lead Submitted": "lead.submitted",
    }
)


def canonical_event_name(name: str) -> str:
    """``Order Completed`` -> ``order.completed``; any other name unchanged."""
    return SPEC_NAMES.get(name, name)
