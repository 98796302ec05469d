"""Measurement use cases: live experiments, marketing goals and KPIs, the economics of a journey."""
