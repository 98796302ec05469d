"""Settings are read in one place: no module but tidings/settings.py reads the process
environment (the CLI may set TIDINGS_TEST_CLOCK for the Settings it builds next)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "tidings"
READ = re.compile(
    r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]+\](?!\s*=[^=])|environ\.copy\(|dict\(os\.environ"
)


def test_only_settings_reads_the_environment() -> None:
    readers = sorted(
        f"{p.relative_to(ROOT.parent)}:{n}"
        for p in ROOT.rglob("*.py")
        if p.name != "settings.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if READ.search(line)
    )
    assert readers == []


def test_the_pattern_sees_a_read() -> None:
    assert READ.search('x = os.environ.get("TIDINGS_X")') and READ.search('y = os.environ["TIDINGS_Y"]')
    assert not READ.search('os.environ["TIDINGS_TEST_CLOCK"] = "1"')
