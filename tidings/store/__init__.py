"""Storage adapter: SQLAlchemy Core on SQLite (embedded default) and PostgreSQL (scale-out)."""
