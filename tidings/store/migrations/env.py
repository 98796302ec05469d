"""Alembic environment: the engine is handed in by tidings.store.migrate (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from tidings.store.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` CLI use by developers: build from the environment
    from tidings.settings import Settings
    from tidings.store.db import create_engine

    engine = create_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
