"""Channels: the provider port (base.py), its adapters (email, sms, ...), the delivery loop."""
