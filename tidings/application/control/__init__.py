"""Control use cases: loop breaker, send policies, kill switch, cross-journey simulation."""
