"""`python -m pytest` prints its summary line, also with `-q` (the project's options must not make
it quiet already: `-q` twice prints no summary at all)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flags", [[], ["-q"], ["-q", "-x"]])
def test_the_summary_line_is_printed(flags: list[str]) -> None:
    r = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pytest", *flags, "tests/unit/test_sms_segments.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed.* in [\d.]+s", last), r.stdout
