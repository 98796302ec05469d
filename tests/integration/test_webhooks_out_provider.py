"""Webhooks out: signed JSON POSTs, SSRF refusals (also on redirects), DNS pinning, retry advice."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.fake_http import FakeHttpServer, Recorded, Reply
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.ssrf import AllowList
from tidings.channels.webhooks import WebhookProvider, sign, verify

SECRET = "whsec-test"


def hook(url: str, body: dict | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=7,
        channel="webhook",
        contact_id=3,
        recipient=url,
        idempotency_key="enr1:s1:1",
        message_ref="wh-7",
        data={
            "url": url,
            "body": body or {"lead": 3, "name": "Ann"},
            "headers": {"X-Source": "journey", "Host": "evil"},
        },
    )


def provider(container: Container, allow: AllowList, resolver=None) -> WebhookProvider:
    table = {"hooks.test": ["127.0.0.1"], "localhost": ["127.0.0.1"]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown host")
        return table[host]

    return WebhookProvider(secret=SECRET, allow=allow, clock=container.clock, resolver=resolver or resolve)


async def test_signed_post_verifies_and_pins_the_checked_ip(container: Container) -> None:
    with FakeHttpServer() as server:
        p = provider(container, AllowList.parse(["hooks.test"]))
        result = await p.send(hook(f"http://hooks.test:{server.port}/in"))
        await p.aclose()
    assert result.status is DeliveryStatus.ACCEPTED, result.error
    (req,) = server.requests
    # "hooks.test" exists only in our resolver: the connection went to the checked IP, Host kept.
    assert req.headers["host"] == f"hooks.test:{server.port}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-source"] == "journey"
    assert req.headers["x-tidings-idempotency-key"] == "enr1:s1:1"
    assert json.loads(req.body) == {"lead": 3, "name": "Ann"}
    ts, sig = req.headers["x-tidings-timestamp"], req.headers["x-tidings-signature"]
    assert int(ts) == int(container.clock.now().timestamp())
    assert sig == sign(SECRET, int(ts), req.body)
    assert verify(SECRET, ts, req.body, sig, container.clock.now())
    assert not verify(SECRET, ts, req.body + b" ", sig, container.clock.now())
    assert not verify("other", ts, req.body, sig, container.clock.now())
    assert not verify(SECRET, ts, req.body, sig, container.clock.now() + timedelta(minutes=6))


async def test_internal_target_is_refused_with_reason_and_never_contacted(container: Container) -> None:
    with FakeHttpServer() as server:
        p = provider(container, AllowList())
        result = await p.send(hook(f"http://localhost:{server.port}/admin"))
        await p.aclose()
    assert result.status is DeliveryStatus.FAILED_PERMANENT
    assert result.error == (
        "refused: localhost resolves to 127.0.0.1, a loopback address; allow it with TIDINGS_WEBHOOK_ALLOW"
    )
    assert server.requests == []


async def test_redirect_into_the_internal_network_is_refused(container: Container) -> None:
    with (
        FakeHttpServer() as internal,
        FakeHttpServer(
            lambda r: Reply(302, {}, {"Location": f"http://localhost:{internal.port}/secret"})
        ) as server,
    ):
        p = provider(container, AllowList.parse(["hooks.test"]))
        result = await p.send(hook(f"http://hooks.test:{server.port}/in"))
        await p.aclose()
    assert result.status is DeliveryStatus.FAILED_PERMANENT
    assert "localhost resolves to 127.0.0.1, a loopback address" in (result.error or "")
    assert len(server.requests) == 1 and internal.requests == []


async def test_redirects_are_followed_by_hand_at_most_three(container: Container) -> None:
    def responder(r: Recorded) -> Reply:
        if r.path == "/a":
            return Reply(307, {}, {"Location": "/b"})
        if r.path == "/b":
            return Reply(303, {}, {"Location": "/c"})
        return Reply(200, {"ok": True})

    with FakeHttpServer(responder) as server:
        p = provider(container, AllowList.parse(["hooks.test"]))
        ok = await p.send(hook(f"http://hooks.test:{server.port}/a"))
        await p.aclose()
    assert ok.ok
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/a"), ("POST", "/b"), ("GET", "/c")]
    assert server.requests[1].body == server.requests[0].body  # 307 keeps the body

    with FakeHttpServer(lambda r: Reply(302, {}, {"Location": "/again"})) as loop:
        p = provider(container, AllowList.parse(["hooks.test"]))
        result = await p.send(hook(f"http://hooks.test:{loop.port}/start"))
        await p.aclose()
    assert result.status is DeliveryStatus.FAILED_PERMANENT
    assert "more than 3 redirects" in (result.error or "")
    assert len(loop.requests) == 4


async def test_status_codes_map_to_retry_advice(container: Container) -> None:
    answers = {
        "/busy": Reply(503, {}, {"Retry-After": "90"}),
        "/slow": Reply(429, {}),
        "/gone": Reply(404, {}),
        "/bad": Reply(400, {}),
    }
    with FakeHttpServer(lambda r: answers[r.path]) as server:
        p = provider(container, AllowList.parse(["hooks.test"]))
        results = {path: await p.send(hook(f"http://hooks.test:{server.port}{path}")) for path in answers}
        await p.aclose()
    assert results["/busy"].status is DeliveryStatus.FAILED_TEMPORARY and results["/busy"].retry_after_s == 90
    assert results["/slow"].status is DeliveryStatus.FAILED_TEMPORARY
    assert results["/gone"].status is DeliveryStatus.FAILED_PERMANENT
    assert "HTTP 400" in (results["/bad"].error or "")


async def test_connection_refused_is_temporary(container: Container) -> None:
    from tests.conftest import free_port

    p = provider(container, AllowList.parse(["hooks.test"]))
    result = await p.send(hook(f"http://hooks.test:{free_port()}/x"))
    await p.aclose()
    assert result.status is DeliveryStatus.FAILED_TEMPORARY
    assert result.error
