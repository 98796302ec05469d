"""Delivery: message templates and dead letters (the outbox use cases)."""
