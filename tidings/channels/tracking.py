"""Tracking: signed tokens, link rewriting, open/click recording, machine flags, attribution.

Tokens: ``base64url(version | kind | a | b | expires | mac)``. ``mac`` is the first 16 bytes of
HMAC-SHA256 over the rest with a key derived from the server secret per token version, checked
in constant time. A token names a stored thing (outbox row, contact, enrolment) and can only be
made by us: ids inside are not secrets, but changing one breaks the MAC, so tokens cannot be
enumerated or forged. Click tokens carry the *index* of a link in the stored rendered message;
the destination always comes from our database, never from the URL (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import ipaddress
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from tidings.store import schema
from tidings.store.ingest_sql import insert_events
from tidings.store.outbox import message_event_properties
from tidings.store.queue import enqueue_contacts

VERSION = 1
_LAYOUT = struct.Struct(">BcQII")  # version, kind, a, b, expires (epoch seconds)
_MAC_LEN = 16

#: token kinds
OPEN, CLICK, UNSUBSCRIBE, PREFERENCES, SELF_SERVICE = b"o", b"c", b"u", b"p", b"s"
#: the ``ref`` of a provider's delivery-status callback (SMS, voice): names one outbox row.
STATUS_REF = b"r"
#: a signal link (``message.signal_url('stop')``): names one enrolment and, by its tag, one signal.
SIGNAL = b"g"
#: a form's double opt-in link: names one submission (a) and its random nonce (b).
FORM_CONFIRM = b"f"
KINDS = {OPEN, CLICK, UNSUBSCRIBE, PREFERENCES, SELF_SERVICE, STATUS_REF, SIGNAL, FORM_CONFIRM}

#: how long a link in a message keeps working.
TTL: dict[bytes, timedelta] = {
    OPEN: timedelta(days=365),
    CLICK: timedelta(days=365),
    UNSUBSCRIBE: timedelta(days=730),
    PREFERENCES: timedelta(days=730),
    SELF_SERVICE: timedelta(days=180),
    SIGNAL: timedelta(days=180),
    STATUS_REF: timedelta(days=30),
    FORM_CONFIRM: timedelta(days=90),  # a form's own expiry (at most 90 days) is passed in
}

#: clicks/opens this soon after sending are machines (security scanners, prefetchers).
MACHINE_CLICK_SECONDS = 10
MACHINE_OPEN_SECONDS = 2
#: conversions are attributed to the last human click within this window.


def signal_tag(name: str) -> int:
    """The 32 bits of a signal's name a signal token carries (the name itself is in the URL)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def signal_link(secret: str, public_url: str, enrollment_id: int, name: str, now: datetime) -> str:
    """The signed link that sends signal ``name`` to one enrolment (after the contact confirms)."""
    token = make_token(secret, SIGNAL, enrollment_id, signal_tag(name), now)
    return f"{public_url}/s/{token}/{name}"


class BadToken(ValueError):
    """Tampered, unknown version or wrong kind: a 4xx, nothing changes."""


class ExpiredToken(BadToken):
    """A genuine token past its expiry; ``token`` is its (authentic) content."""

    def __init__(self, message: str, token: Token | None = None) -> None:
        super().__init__(message)
        self.token = token


@dataclass(frozen=True)
class Token:
    kind: bytes
    a: int
    b: int
    expires: datetime


@lru_cache(maxsize=16)
def _key(secret: str, version: int) -> bytes:
    return hmac.new(secret.encode(), f"tidings-token-v{version}".encode(), hashlib.sha256).digest()


def make_token(secret: str, kind: bytes, a: int, b: int, now: datetime, ttl: timedelta | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    expires = int((now + (ttl or TTL[kind])).timestamp())
    body = _LAYOUT.pack(VERSION, kind, a, b, expires)
    mac = hmac.digest(_key(secret, VERSION), body, "sha256")[:_MAC_LEN]
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def read_token(secret: str, token: str, kind: bytes, now: datetime) -> Token:
    """The token's content, or ``BadToken``/``ExpiredToken``. The MAC is checked first."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise BadToken("malformed token") from None
    if len(raw) != _LAYOUT.size + _MAC_LEN:
        raise BadToken("malformed token")
    body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    version = body[0]
    if version != VERSION:
        raise BadToken("unknown token version")
    expected = hmac.digest(_key(secret, version), body, "sha256")[:_MAC_LEN]
    if not hmac.compare_digest(mac, expected):
        raise BadToken("invalid token")
    _, got_kind, a, b, expires = _LAYOUT.unpack(body)
    if got_kind != kind:
        raise BadToken("token is for another purpose")
    expires_at = datetime.fromtimestamp(expires, tz=now.tzinfo)
    if now >= expires_at:
        raise ExpiredToken("this link has expired", Token(got_kind, a, b, expires_at))
    return Token(got_kind, a, b, expires_at)


class FormConfirmLinks:
    """The ``ConfirmationLinks`` port (``application/ports/forms.py``): signed ``/f/confirm/{token}``
    URLs whose token expires with the submission."""

    def __init__(self, secret: str, public_url: str) -> None:
        self.secret = secret
        self.public_url = public_url.rstrip("/")

    def confirm_url(self, submission_id: int, nonce: int, expires_at: datetime, now: datetime) -> str:
        token = make_token(self.secret, FORM_CONFIRM, submission_id, nonce, now, ttl=expires_at - now)
        return f"{self.public_url}/f/confirm/{token}"

    def read(self, token: str, now: datetime) -> Token:
        """The token's submission id (a) and nonce (b); BadToken / ExpiredToken."""
        return read_token(self.secret, token, FORM_CONFIRM, now)


# --------------------------------------------------------------------------- link rewriting

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def rewrite_links(
    html: str, *, secret: str, outbox_id: int, public_url: str, now: datetime, pixel: bool = True
) -> tuple[str, list[str]]:
    """Replace every http(s) link by a click redirect; add the open pixel. Returns (html, links).

    Our own links (unsubscribe, preferences) and non-web links (mailto:, tel:) are left alone.
    """
    links: list[str] = []
    index_of: dict[str, int] = {}

    def replace(m: re.Match[str]) -> str:
        url = html_lib.unescape(m.group(3)).strip()
        if not url.lower().startswith(("http://", "https://")) or url.startswith(public_url + "/"):
            return m.group(0)
        idx = index_of.get(url)
        if idx is None:
            idx = index_of[url] = len(links)
            links.append(url)
        token = make_token(secret, CLICK, outbox_id, idx, now)
        return f"{m.group(1)}{m.group(2)}{public_url}/t/c/{token}{m.group(2)}"

    out = _HREF.sub(replace, html)
    if pixel:
        token = make_token(secret, OPEN, outbox_id, 0, now)
        img = (
            f'<img src="{public_url}/t/o/{token}.gif" width="1" height="1" alt="" '
            'style="display:block;border:0">'
        )
        pos = out.lower().rfind("</body>")
        out = out[:pos] + img + out[pos:] if pos >= 0 else out + img
    return out, links


# --------------------------------------------------------------------------- machine detection

_SCANNER_UA = re.compile(
    r"bot\b|spider|crawl|scanner|preview|barracuda|proofpoint|mimecast|safelinks|urldefense|trendmicro|"
    r"forcepoint|symantec|messagelabs|fireeye|cisco|python-requests|python-httpx|curl/|wget|go-http-client|"
    r"headlesschrome|okhttp|java/|libwww|httpclient|ms-office|microsoft office|skypeuripreview",
    re.IGNORECASE,
)
#: what Apple Mail Privacy Protection's proxy sends (no browser version, no Safari token).
_APPLE_MPP_UA = {
    "Mozilla/5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
}
_APPLE_NET = ipaddress.ip_network("17.0.0.0/8")
_GOOGLE_PROXY = re.compile(r"GoogleImageProxy|YahooMailProxy", re.IGNORECASE)


def _in_apple_net(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip) in _APPLE_NET
    except ValueError:
        return False


def machine_reason(
    kind: bytes, user_agent: str | None, ip: str | None, sent_at: datetime | None, now: datetime
) -> str | None:
    """Why this open/click looks automated, or None for a human."""
    ua = (user_agent or "").strip()
    if not ua:
        return "no user agent"
    if _SCANNER_UA.search(ua):
        return "link scanner user agent"
    if kind == OPEN:
        if ua in _APPLE_MPP_UA or _in_apple_net(ip):
            return "apple mail privacy protection"
        if _GOOGLE_PROXY.search(ua):
            return "mail provider image proxy"
    if sent_at is not None:
        limit = MACHINE_OPEN_SECONDS if kind == OPEN else MACHINE_CLICK_SECONDS
        if now - sent_at < timedelta(seconds=limit):
            return f"within {limit}s of sending"
    return None


# --------------------------------------------------------------------------- recording


def append_event(
    conn: sa.Connection,
    contact_id: int,
    name: str,
    properties: dict[str, Any],
    now: datetime,
    *,
    source: str = "tracking",
    message_id: str | None = None,
) -> None:
    """Append an event and enqueue its contact in the caller's transaction (the pipeline contract)."""
    row = {"contact_id": contact_id, "name": name, "properties": properties, "occurred_at": now,
           "received_at": now, "source": source, "message_id": message_id, "value": None}
    insert_events(conn, [row])  # idempotent on message_id (event_receipts)
    enqueue_contacts(conn, [contact_id], now)


def load_message(conn: sa.Connection, outbox_id: int) -> dict[str, Any] | None:
    o = schema.outbox
    row = conn.execute(sa.select(o).where(o.c.id == outbox_id)).mappings().first()
    return dict(row) if row else None


def record_open(
    conn: sa.Connection, token: Token, *, user_agent: str | None, ip: str | None, now: datetime
) -> bool:
    row = load_message(conn, token.a)
    if row is None:
        return False
    reason = machine_reason(OPEN, user_agent, ip, row["sent_at"], now)
    props = message_event_properties(row) | {"machine": reason is not None}
    if reason:
        props["machine_reason"] = reason
    append_event(conn, row["contact_id"], "message.opened", props, now)
    return True


def record_click(
    conn: sa.Connection, token: Token, *, user_agent: str | None, ip: str | None, now: datetime
) -> str | None:
    """The stored destination of this click (None if unknown), after recording the event."""
    row = load_message(conn, token.a)
    if row is None:
        return None
    links = (row.get("rendered") or {}).get("links") or []
    if not 0 <= token.b < len(links):
        return None
    url = str(links[token.b])
    reason = machine_reason(CLICK, user_agent, ip, row["sent_at"], now)
    props = message_event_properties(row) | {"url": url, "link": token.b, "machine": reason is not None}
    if reason:
        props["machine_reason"] = reason
    append_event(conn, row["contact_id"], "message.clicked", props, now)
    return url
