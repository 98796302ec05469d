"""Vendor sources, pure: signature checks and payload -> Segment spec events (docs/sources.md)."""
