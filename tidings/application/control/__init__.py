"""Control and safety use cases: the automation audit, name checks, the blast-radius preview."""
