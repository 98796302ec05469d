"""Migration 0023_citus places every table: distributed by contact, reference, or left on the
coordinator (docs/scale-out.md, "Citus"). A table added without a decision fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tidings.store import schema

MIGRATION = (
    Path(__file__).resolve().parents[2] / "tidings" / "store" / "migrations" / "versions" / "0023_citus.py"
)


def layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0023_citus", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_table_is_placed_once() -> None:
    m = layout()
    placed = [*m.DISTRIBUTED, *m.REFERENCE, *m.LOCAL]
    assert len(placed) == len(set(placed)), "a table placed twice"
    assert sorted(set(schema.metadata.tables) - set(placed)) == [], "a table 0023_citus does not place"
    assert sorted(set(placed) - set(schema.metadata.tables)) == [], "0023_citus places a table that does not exist"


def test_distributed_tables_carry_a_non_null_contact_key() -> None:
    m = layout()
    assert m.ANCHOR == "contacts" and m.DISTRIBUTED[0] == m.ANCHOR
    for name in m.DISTRIBUTED:
        column = schema.metadata.tables[name].c["id" if name == m.ANCHOR else "contact_id"]
        assert not column.nullable, name


def test_foreign_keys_of_distributed_tables_point_at_reference_tables() -> None:
    m = layout()
    for name in m.DISTRIBUTED:
        for fk in schema.metadata.tables[name].foreign_keys:
            assert fk.column.table.name in m.REFERENCE, (name, fk.column.table.name)


def test_contact_keys_are_the_unique_identifiers_of_contacts() -> None:
    from tidings.store.upsert import CONTACT_KEYS

    uniques = {
        tuple(c.name for c in con.columns)
        for con in schema.contacts.constraints
        if con.__class__.__name__ == "UniqueConstraint"
    }
    assert uniques == {(k,) for k in CONTACT_KEYS} == {(k,) for k in layout().CONTACT_KEYS}
