"""Control is structural: causal chains and the loop breaker, global send policies (pure)."""
