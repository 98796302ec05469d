"""Ad audiences: a segment as a hashed customer file, or synced live to a destination (docs/audiences.md)."""
