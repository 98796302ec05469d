"""README's examples, run as written (the server's address aside) on a database that is not new.

The contacts block runs twice on one database (no contact id assumed, nothing refused the second
time). The first-journey walkthrough runs on a real clock, then again after a restart with
``--test-clock`` on the same database, and moving that clock two days delivers days two and three.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port, interrupt, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def sh_block(after: str) -> str:
    """The first ```sh block after the line containing ``after``."""
    start = README.index(after)
    m = re.compile(r"```sh\n(.*?)```", re.S).search(README, start)
    assert m, after
    return m.group(1)


@contextmanager
def serving(cwd: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    port = free_port()
    log = cwd / f"serve-{port}.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "tidings"), "serve", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(proc, base, log, timeout=120)
        yield base
    finally:
        interrupt(proc)


def run_block(block: str, base: str, cwd: Path, env: dict[str, str], prefix: str = "") -> str:
    script = "set -euo pipefail\n" + prefix + block.replace("http://127.0.0.1:8000", base)
    r = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603,S607
    assert r.returncode == 0, f"{script}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    assert '"error"' not in r.stdout, r.stdout  # no 4xx/5xx answer either
    return r.stdout


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TIDINGS_LOG_LEVEL="WARNING",
        HOME=str(cwd),
    )
    return env  # the database: ./tidings.db in cwd, as the README says


def test_the_contacts_examples_run_twice_on_one_database(tmp_path: Path) -> None:
    env = _env(tmp_path)
    block = sh_block("## Contacts, events and the tracking API")
    assert "/api/contacts/1" not in block
    with serving(tmp_path, env, "--no-catcher") as base:
        run_block(block, base, tmp_path, env)
        run_block(block, base, tmp_path, env)  # an existing database: ann exists, ids are not 1


def test_the_first_journey_walkthrough_works_again_on_a_test_clock(tmp_path: Path) -> None:
    env = _env(tmp_path)
    walk = sh_block("In a second terminal")
    advance = sh_block("move the clock forward two days")
    inbox = (
        "echo; curl -s 'http://127.0.0.1:8000/api/inbox?recipient=you@example.com&limit=50'"
        ' -H "Authorization: Bearer $KEY"\n'
    )
    with serving(tmp_path, env, "--demo") as base:
        run_block(walk, base, tmp_path, env)
    with serving(tmp_path, env, "--demo", "--test-clock") as base:
        run_block(walk, base, tmp_path, env)  # the same steps on the database they filled
        key = "KEY=$(tidings keys create --name again --scope admin | tail -1)\n"
        out = run_block(advance + inbox, base, tmp_path, env, prefix=key)
    items = json.loads(out.strip().splitlines()[-1])["items"]
    subjects = {i["subject"] for i in items}
    assert len(subjects) >= 3, subjects  # day one, and days two and three after the move
