"""Control use cases: loop breaker, send policies, kill switch, cross-journey simulation; the
automation audit, name checks and the blast-radius preview."""
