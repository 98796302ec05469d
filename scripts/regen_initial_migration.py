"""Regenerate the initial migration from tidings/store/schema.py.

Only for the unreleased first revision: once a version has shipped, add a new revision with
`alembic revision --autogenerate` instead. Usage: python scripts/regen_initial_migration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from tidings.store.db import create_engine
from tidings.store.migrate import MIGRATIONS, alembic_config

versions = MIGRATIONS / "versions"
for old in versions.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    engine = create_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
    cfg = alembic_config(engine)
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
created = next(versions.glob("0001_*.py"))
text = created.read_text()
text = text.replace("astext_type=Text()", "astext_type=sa.Text()")
created.write_text(text)
print(f"wrote {created}")
