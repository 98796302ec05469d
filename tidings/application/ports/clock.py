"""The clock port: where every use case reads the time from (implementations in `tidings.clock`)."""

from __future__ import annotations

from tidings.clock import Clock

__all__ = ["Clock"]
