"""Vendor sources: connect a shop or payment provider, receive its signed webhooks (docs/sources.md)."""
