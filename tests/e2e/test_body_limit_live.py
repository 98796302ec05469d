"""A body over the limit gets its structured 413, and the client really reads it.

A real uvicorn server and real HTTP clients sending ~20 MB. The hard case is a client that
sends the whole body before it reads (urllib, http.client) on a connection that closes after
the answer (``Connection: close``, what urllib always sends): unless the server reads the rest
of the body first, it closes a socket with unread data and the client gets a reset or a broken
pipe instead of the 413. Streamed (chunked) bodies and kept-alive connections too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer

TWENTY_MB = 20 * 1024 * 1024


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def _urllib_post(url: str, key: str, body: bytes) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(  # noqa: S310 - our own live server
        url, data=body, method="POST", headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_client_that_sends_everything_first_reads_the_413(live_server: LiveServer, admin_key: str) -> None:
    assert live_server.container.settings.max_body_bytes < TWENTY_MB
    body = b"x" * TWENTY_MB
    for _ in range(5):  # every time, not now and then
        status, answer = _urllib_post(f"{live_server.url}/api/events", admin_key, body)
        assert status == 413 and answer["error"]["code"] == "payload_too_large"  # type: ignore[index]


@pytest.mark.parametrize("connection", ["close", "keep-alive"])
def test_a_streamed_20_mb_body_gets_the_413(live_server: LiveServer, admin_key: str, connection: str) -> None:
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json", "Connection": connection}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        for _ in range(3):
            r = client.post("/api/events", content=_chunks(TWENTY_MB))  # no Content-Length: chunked
            assert r.status_code == 413, r.text
            assert r.json()["error"]["code"] == "payload_too_large"
        r = client.post("/api/events", content=b"x" * TWENTY_MB)  # with a Content-Length
        assert r.status_code == 413, r.text
        ok = client.post("/api/events", json={"name": "after", "email": "after@example.org"})
        assert ok.status_code == 202, ok.text  # the same client goes on
