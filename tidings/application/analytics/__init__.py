"""Measurement use cases: rollups fed by the worker, reports, attribution; live experiments,
marketing goals and KPIs, the economics of a journey."""
