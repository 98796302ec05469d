"""Contacts and identity: create/update/merge contacts, change events, preferences, timeline."""
