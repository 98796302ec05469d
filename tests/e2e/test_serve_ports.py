"""`tidings serve --port N` as a newcomer runs it: no TIDINGS_PUBLIC_URL, no catcher port set.

Two servers on one machine, each on its own HTTP port, both start (the built-in catcher's SMTP
port follows the HTTP port), each delivers its message into its own inbox, and every link of
every message points at the server that sent it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.conftest import free_port, interrupt, wait_for_http
from tests.integration.channels_helpers import add_contact, add_outbox, add_template
from tidings.application.access.keys import create_key
from tidings.cli.main import catcher_port_for
from tidings.store.db import create_engine
from tidings.store.migrate import upgrade
from tidings.store.sql_uow import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"""https?://[^\s"'<>)]+""")


def _serve(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_") or k == "TIDINGS_TEST_DATABASE_URL"}
    env.update(TIDINGS_DATABASE_URL=db_url, TIDINGS_SECRET_KEY="ports-test", TIDINGS_LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "tidings"), "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _queue_message(db_url: str, email: str) -> str:
    eng = create_engine(db_url)
    upgrade(eng)
    now = datetime.now(UTC) - timedelta(minutes=1)
    _, key = create_key(SqlUnitOfWork(eng), "ports", ["admin"], now)
    add_template(eng, now)
    add_outbox(eng, now, add_contact(eng, now, email=email))
    eng.dispose()
    return key


def _delivered(base: str, key: str) -> dict[str, object]:
    h = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 60
    while True:  # real time: the delivery loop sends it within a poll or two
        items = httpx.get(f"{base}/api/inbox", params={"channel": "email"}, headers=h, timeout=30).json()["items"]
        if items:
            return httpx.get(f"{base}/api/inbox/{items[0]['id']}", headers=h, timeout=30).json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the message never reached the inbox"
        time.sleep(0.3)


def _bindable(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _http_port_with_free_catcher(taken: set[int]) -> int:
    """A free HTTP port whose default catcher port is free too (the catcher port follows it)."""
    while True:
        port = free_port()
        catcher = catcher_port_for(port)
        if port not in taken and catcher not in taken and catcher != port and _bindable(catcher):
            return port


def test_two_servers_on_other_ports_start_and_link_to_themselves(db_url: str, tmp_path: Path) -> None:
    first = _http_port_with_free_catcher(set())
    ports = [first, _http_port_with_free_catcher({first, catcher_port_for(first)})]
    urls = [db_url, f"sqlite:///{tmp_path / 'second.db'}"]
    keys = [_queue_message(url, f"n{i}@example.org") for i, url in enumerate(urls)]
    logs = [tmp_path / f"serve{i}.log" for i in range(2)]
    procs = [_serve(url, port, log) for url, port, log in zip(urls, ports, logs, strict=True)]
    try:
        for proc, port, log in zip(procs, ports, logs, strict=True):
            wait_for_http(proc, f"http://127.0.0.1:{port}", log)
            text = log.read_text()
            assert f"links in messages: http://127.0.0.1:{port}" in text
            assert f"mail catcher (SMTP): 127.0.0.1:{catcher_port_for(port)}" in text
        for i, port in enumerate(ports):
            base = f"http://127.0.0.1:{port}"
            mail = _delivered(base, keys[i])
            assert mail["recipient"] == f"n{i}@example.org"  # each server's catcher got its own
            headers = mail["headers"]
            assert isinstance(headers, dict)
            links = _URL.findall(str(mail["body_html"])) + _URL.findall(str(mail.get("body_text") or ""))
            links += _URL.findall(str(headers["list-unsubscribe"]))
            assert any("/t/c/" in u for u in links) and any("/u/" in u for u in links), links
            ours = [u for u in links if not u.startswith("https://shop.example.com/")]  # the template's own
            assert ours and [u for u in ours if not u.startswith(base + "/")] == []
            click = next(u for u in ours if "/t/c/" in u)
            r = httpx.get(click, follow_redirects=False, timeout=30)  # and they work
            assert r.status_code == 302 and r.headers["location"].startswith("https://shop.example.com/")
    finally:
        interrupt(*procs)
