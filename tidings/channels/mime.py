"""Email bytes: multipart/alternative (plain + HTML), built directly, fast.

Building with ``email.message.EmailMessage`` + ``as_bytes`` costs ~1.9 ms a message, the hot
path of a fast sender. We build the bytes ourselves with the stdlib's encoders (RFC 2047
headers through ``email.header``, quoted-printable bodies through ``binascii.b2a_qp``); tests
parse the result with the stdlib parser and verify it round-trips.

Every line ends with CRLF (what SMTP and DKIM want). Header values are refused if they
contain CR or LF (no header injection from personalised subjects).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

CRLF = b"\r\n"
_NEWLINES = re.compile(r"\r\n|\r|\n")


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


class HeaderInjection(ValueError):
    pass


def _clean(value: str, name: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"header {name} contains a line break")
    return value


def encode_header_value(value: str, name: str = "Subject") -> str:
    """RFC 2047 when not ASCII; folded at 78 columns with CRLF."""
    value = _clean(value, name)
    if value.isascii():
        return value if len(value) + len(name) + 2 <= 78 else fold_ascii(value, len(name) + 2)
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def fold_ascii(value: str, used: int, width: int = 78) -> str:
    """Fold at spaces so lines stay under ``width`` where possible (a long URL stays whole)."""
    lines: list[str] = []
    line = ""
    for word in value.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and used + len(candidate) > width:
            lines.append(line)
            line, used = word, 1
        else:
            line = candidate
    lines.append(line)
    return "\r\n ".join(lines)


@lru_cache(maxsize=1024)
def encode_address(value: str, name: str = "From") -> str:
    """``Name <addr>`` with the display name encoded when needed."""
    value = _clean(value, name)
    if _PLAIN_ADDRESS.fullmatch(value):  # the common case: a bare address, nothing to encode
        return value
    display, addr = parseaddr(value)
    if not addr:
        raise ValueError(f"{name}: not an email address: {value!r}")
    return formataddr((display, addr), charset="utf-8") if display else addr


def qp_body(text: str) -> bytes:
    """Quoted-printable, CRLF line ends, 76 columns (binascii is C: microseconds)."""
    data = _NEWLINES.sub("\r\n", text).encode("utf-8")
    if not data.endswith(CRLF):
        data += CRLF
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)


def boundary_for(message_id: str) -> str:
    # "=_" never occurs in quoted-printable output, so the boundary cannot collide with a body.
    return "=_tidings_" + hashlib.blake2s(message_id.encode(), digest_size=12).hexdigest()


def build_headers(
    *,
    sender: str,
    recipient: str,
    subject: str,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The top-level headers, in order, values already encoded (ASCII)."""
    headers = [
        ("From", encode_address(sender, "From")),
        ("To", encode_address(recipient, "To")),
        ("Subject", encode_header_value(subject, "Subject")),
        ("Date", format_datetime(date)),
        ("Message-ID", f"<{_clean(message_id, 'Message-ID')}>"),
    ]
    if reply_to:
        headers.append(("Reply-To", encode_address(reply_to, "Reply-To")))
    headers.append(("MIME-Version", "1.0"))
    for name, value in (extra or {}).items():
        headers.append((_clean(name, name), encode_header_value(value, name)))
    return headers


def build_body(message_id: str, text: str | None, html: str | None) -> tuple[str, bytes]:
    """(Content-Type header value, body bytes) for text, HTML or both."""
    if html is None:
        return 'text/plain; charset="utf-8"', qp_body(text or "")
    if text is None:
        return 'text/html; charset="utf-8"', qp_body(html)
    boundary = boundary_for(message_id)
    b = boundary.encode()
    parts = [
        b"--" + b + CRLF,
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        qp_body(text),
        CRLF,  # the CRLF before a boundary belongs to the boundary: keep the body's last line end
        b"--" + b + CRLF,
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        qp_body(html),
        CRLF,
        b"--" + b + b"--" + CRLF,
    ]
    return f'multipart/alternative; boundary="{boundary}"', b"".join(parts)


def content_headers(content_type: str) -> list[tuple[str, str]]:
    if content_type.startswith("multipart/"):
        return [("Content-Type", content_type)]
    return [("Content-Type", content_type), ("Content-Transfer-Encoding", "quoted-printable")]


def serialise(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    return head + CRLF + body


def build_email(
    *,
    sender: str,
    recipient: str,
    subject: str,
    message_id: str,
    date: datetime,
    text: str | None,
    html: str | None,
    reply_to: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> tuple[list[tuple[str, str]], bytes]:
    """(headers, body) of one email; ``dkim.sign`` and ``serialise`` finish it."""
    headers = build_headers(
        sender=sender,
        recipient=recipient,
        subject=subject,
        message_id=message_id,
        date=date,
        reply_to=reply_to,
        extra=extra,
    )
    content_type, body = build_body(message_id, text, html)
    return headers + content_headers(content_type), body
