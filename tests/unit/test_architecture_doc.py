"""docs/ARCHITECTURE.md's module map matches the tree, and the import contracts know every
capability package: a package added, moved or deleted without updating them fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def packages() -> set[str]:
    """Every package of tidings/ (a folder with an __init__.py), as 'tidings/a/b/'."""
    return {
        p.parent.relative_to(ROOT).as_posix() + "/"
        for p in (ROOT / "tidings").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }


def mapped() -> set[str]:
    """The packages the module map's first column names (rows like | `tidings/x/` | ... |)."""
    return set(re.findall(r"^\| `(tidings/(?:[a-z_]+/)*)` \|", DOC.read_text(), re.MULTILINE))


def test_the_module_map_names_every_package_and_only_packages() -> None:
    doc, tree = mapped(), packages()
    assert "tidings/application/ports/" in tree and "tidings/domain/" in doc  # the parsing works
    assert sorted(doc - tree) == [], "named in docs/ARCHITECTURE.md but not a package"
    assert sorted(tree - doc) == [], "a package docs/ARCHITECTURE.md does not name"


def test_every_path_the_doc_names_exists() -> None:
    named = set(re.findall(r"`((?:tidings|tests|docs|benchmarks)/[a-zA-Z0-9_./-]+)`", DOC.read_text()))
    assert named, "the doc names paths"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == []


def test_the_import_contracts_forbid_every_capability_package() -> None:
    capabilities = {
        p.removesuffix("/").replace("/", ".")
        for p in packages()
        if re.fullmatch(r"tidings/application/[a-z_]+/", p) and p != "tidings/application/ports/"
    }
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (adapters,) = [c for c in contracts if c.get("source_modules") == ["tidings.channels", "tidings.store"]]
    forbidden = {m for m in adapters["forbidden_modules"] if m.startswith("tidings.application.")}
    assert forbidden == capabilities
