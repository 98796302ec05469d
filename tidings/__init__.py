"""Tidings: open-source marketing automation, explainable and testable on a virtual clock."""

__version__ = "0.1.0"
