"""Measurement use cases: rollups fed by the worker, reports, attribution."""
