"""DKIM signing (RFC 6376), rsa-sha256, relaxed/relaxed, with OpenSSL through ``cryptography``.

dkimpy's RSA is pure Python (~8.6 ms a signature); OpenSSL signs a 2048-bit key in well under
a millisecond. We only sign here; tests verify our signatures with dkimpy.

The signed header list always includes List-Unsubscribe and List-Unsubscribe-Post when present
(RFC 8058 requires them to be covered), and From twice-listed protection is not attempted.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_WSP_B = re.compile(rb"[ \t]+")
_TRAILING_WSP_B = re.compile(rb"[ \t]+\r\n")

#: headers we sign when present, lower case.
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "feedback-id",
)


def relaxed_header(name: str, value: str) -> str:
    """RFC 6376 3.4.2: lower-case name, unfold, compress whitespace, trim."""
    # unfolding (CRLF before WSP) + compressing WSP runs + trimming == splitting on whitespace.
    return f"{name.strip().lower()}:{' '.join(value.split())}"


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: compress/trim whitespace per line, drop trailing empty lines."""
    body = _WSP_B.sub(b" ", body)
    body = _TRAILING_WSP_B.sub(b"\r\n", body)
    if body.endswith(b" "):
        body = body.rstrip(b" ")
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> DkimSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("DKIM key must be an RSA private key (PEM)")
        return cls(domain, selector, key)

    @classmethod
    def from_file(cls, domain: str, selector: str, path: str | Path) -> DkimSigner:
        return cls.from_pem(domain, selector, Path(path).read_bytes())

    def public_dns_record(self) -> str:
        """The TXT record to publish at ``<selector>._domainkey.<domain>``."""
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()

    def sign(self, headers: Sequence[tuple[str, str]], body: bytes) -> tuple[str, str]:
        """The ("DKIM-Signature", value) header for these headers and body; prepend it."""
        bh = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        signed: list[tuple[str, str]] = []
        # RFC 6376 5.4.2: with repeated headers, the last instance is signed first.
        remaining = list(headers)
        names: list[str] = []
        for wanted in SIGNED_HEADERS:
            for i in range(len(remaining) - 1, -1, -1):
                name, value = remaining[i]
                if name.lower() == wanted:
                    signed.append((name, value))
                    names.append(wanted)
                    del remaining[i]
                    break
        value_without_b = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f" h={':'.join(names)};\r\n bh={bh};\r\n b="
        )
        data = "".join(relaxed_header(n, v) + "\r\n" for n, v in signed)
        data += relaxed_header("DKIM-Signature", value_without_b)
        signature = self.key.sign(data.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(signature).decode()
        folded = "\r\n ".join(b64[i : i + 72] for i in range(0, len(b64), 72))
        return "DKIM-Signature", value_without_b + folded


def generate_key(bits: int = 2048) -> bytes:
    """A new RSA private key as PEM (for `tidings` setup and tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
