"""Open pixel and click redirects through the HTTP API: signed tokens, stored destinations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.channels_helpers import events, links_client, send_one
from tidings.bootstrap import Container
from tidings.channels import tracking
from tidings.store import attribution

HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


@pytest.fixture
def api(container: Container) -> Any:
    with links_client(container) as client:
        yield client


def links(html: str) -> list[str]:
    return re.findall(r'href="http://testserver(/t/c/[^"]+)"', html)


def pixel(html: str) -> str:
    found = re.search(r'src="http://testserver(/t/o/[^"]+)"', html)
    assert found
    return found.group(1)


def test_click_redirects_to_stored_destination_and_records_event(api: Any, container: Container) -> None:
    oid, msg = send_one(container)
    container.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    path = links(msg.html)[0]
    r = api.get(path, headers={"User-Agent": HUMAN_UA}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "https://shop.example.com/offer?a=1&b=2"
    clicked = events(container.engine, "message.clicked")
    assert len(clicked) == 1
    props = clicked[0]["properties"]
    assert (
        props["message_id"] == oid and props["machine"] is False and props["url"].startswith("https://shop")
    )


def test_click_seconds_after_sending_or_by_scanner_is_machine(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    path = links(msg.html)[0]
    api.get(path, headers={"User-Agent": HUMAN_UA}, follow_redirects=False)  # 0 s after sending
    container.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    api.get(
        path, headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}, follow_redirects=False
    )
    flags = [
        (e["properties"]["machine"], e["properties"]["machine_reason"])
        for e in events(container.engine, "message.clicked")
    ]
    assert flags == [(True, "within 10s of sending"), (True, "link scanner user agent")]


def test_open_pixel_records_human_and_apple_proxy_opens(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    container.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    r = api.get(pixel(msg.html), headers={"User-Agent": HUMAN_UA})
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    api.get(pixel(msg.html), headers={"User-Agent": "Mozilla/5.0"})
    opened = [e["properties"]["machine"] for e in events(container.engine, "message.opened")]
    assert opened == [False, True]


def test_tampered_tokens_are_refused_and_change_nothing(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    path = links(msg.html)[0]
    token = path.rsplit("/", 1)[1]
    before = len(events(container.engine))
    raw = bytearray(tracking.base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[3] ^= 1  # another outbox id
    forged = tracking.base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in (forged, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", "A" * 46):
        r = api.get(f"/t/c/{bad}", follow_redirects=False)
        assert r.status_code == 404, bad
        assert "location" not in r.headers
        assert api.get(f"/t/o/{bad}.gif").status_code == 404
    assert len(events(container.engine)) == before


def test_no_open_redirect_even_with_a_valid_token_for_another_purpose(api: Any, container: Container) -> None:
    oid, msg = send_one(container)
    now = container.clock.now()
    # a correctly signed click token for a link index that does not exist
    ghost = tracking.make_token(container.secret_key, tracking.CLICK, oid, 7, now)
    assert api.get(f"/t/c/{ghost}?url=https://evil.example", follow_redirects=False).status_code == 404
    # an open token used as a click token
    open_token = pixel(msg.html).rsplit("/", 1)[1].removesuffix(".gif")
    assert api.get(f"/t/c/{open_token}", follow_redirects=False).status_code == 404
    # the query string never chooses the destination
    path = links(msg.html)[0]
    r = api.get(path + "?url=https://evil.example", follow_redirects=False)
    assert r.headers["location"].startswith("https://shop.example.com/")


def test_expired_click_token_is_410(api: Any, container: Container) -> None:
    _, msg = send_one(container)
    container.clock.advance(tracking.TTL[tracking.CLICK] + timedelta(seconds=1))  # type: ignore[attr-defined]
    r = api.get(links(msg.html)[0], follow_redirects=False)
    assert r.status_code == 410
    assert events(container.engine, "message.clicked") == []


def test_conversion_is_attributed_to_last_human_click_in_window(api: Any, container: Container) -> None:
    oid, msg = send_one(container)
    container.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    api.get(links(msg.html)[0], headers={"User-Agent": HUMAN_UA}, follow_redirects=False)
    container.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    api.get(links(msg.html)[0], headers={"User-Agent": "curl/8.0"}, follow_redirects=False)  # machine
    cid = events(container.engine, "message.clicked")[0]["contact_id"]
    with container.engine.connect() as conn:
        hit = attribution.attribute_conversion(conn, cid, container.clock.now())
        late = attribution.attribute_conversion(conn, cid, container.clock.now() + timedelta(days=8))
    assert hit is not None and hit["message_id"] == oid
    assert late is None
