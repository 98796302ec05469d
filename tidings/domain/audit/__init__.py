"""The automation audit's pure core: findings from documents and counts, name checks, and the
blast-radius preview of a journey over a population."""
