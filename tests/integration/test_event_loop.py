"""Nothing blocks the event loop: the API and web test suites run again with asyncio's debug mode
and a slow-callback threshold of 100 ms (``tests/loop_watch.py``), and fail on any slow callback.

Every endpoint that does blocking work (database, scrypt, template rendering, index creation)
must be a sync ``def`` (FastAPI runs it in the thread pool) or hand that work to a thread. A
test that tripped the watch is run once more on its own: a machine this loaded (2 cores,
several test runs) can keep the loop's thread off the CPU for 100 ms now and then; a blocking
endpoint trips it every time.

It runs once per CI, in the SQLite run (five minutes on this machine): whether a request blocks the
loop depends on how its endpoint is declared (``async def`` doing blocking work), not on the
database behind it, so the PostgreSQL run skips it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the API and web suites: every integration test file that sends requests to the app
_USES_APP = re.compile(r"\bdef test_\w+\([^)]*\b(api|live_server|live_stack)\b|web_client\(|TestClient\(")


def app_suites() -> list[str]:
    here = ROOT / "tests" / "integration"
    return sorted(
        str(p.relative_to(ROOT))
        for p in here.glob("test_*.py")
        if p.name != Path(__file__).name
        and not p.name.startswith("test_fuzz_")  # fuzzing: thousands of generated requests, its own budget
        and _USES_APP.search(p.read_text())
    )


def _run_watched(targets: list[str], report: Path) -> tuple[list[str], str]:
    """Run the tests under the watch; (ids of the tests that blocked the loop, output)."""
    report.write_text("")
    proc = subprocess.run(  # noqa: S603 - our own interpreter and test files
        [sys.executable, "-m", "pytest", "-p", "tests.loop_watch", "-p", "no:cacheprovider", "-rE", *targets],
        cwd=ROOT,
        env={**os.environ, "TIDINGS_LOOP_WATCH_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return sorted(set(report.read_text().split("\n")) - {""}), proc.stdout + proc.stderr


def test_the_api_and_web_suites_collect_the_app_tests() -> None:
    suites = app_suites()
    for name in ("test_contacts_api.py", "test_events_api.py", "test_web_auth.py", "test_web_segments.py",
                 "test_unsubscribe_pages.py", "test_tracking_api.py"):
        assert f"tests/integration/{name}" in suites


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("TIDINGS_TEST_DATABASE_URL")),
    reason="runs in the SQLite run: blocking the loop depends on the endpoint, not on the database",
)
def test_no_request_of_the_api_and_web_suites_blocks_the_event_loop(tmp_path: Path) -> None:
    tripped, out = _run_watched(app_suites(), tmp_path / "blocked.txt")
    assert re.search(r"\d+ passed", out), out[-3000:]  # the suites ran
    if tripped:
        still, again = _run_watched(tripped, tmp_path / "blocked-again.txt")
        assert not still, "the event loop was blocked (twice) in:\n" + "\n".join(still) + "\n\n" + again[-8000:]
