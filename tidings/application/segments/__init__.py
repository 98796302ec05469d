"""Segments: definitions, memberships and the refresher of time-relative segments."""
