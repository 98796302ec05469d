"""Amazon SNS message verification and Amazon SES bounce/complaint notifications.

SNS signs every message: the string to sign is the message's fields in a fixed order, each as
``name\\nvalue\\n``; SignatureVersion 1 is RSA PKCS#1 v1.5 with SHA-1, version 2 with SHA-256.
The signing certificate is fetched from ``SigningCertURL``, which must be https on an
``sns.<region>.amazonaws.com`` host — never from anywhere a forger could choose. Certificates
are fetched through an injectable fetcher (there is no internet in tests; tests sign with their
own key and serve their own certificate) and cached by URL.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tidings.channels.bounces import COMPLAINT, HARD, SOFT, Feedback, domain_of
from tidings.domain import jsonvalues

Fetcher = Callable[[str], bytes]

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")


class SnsError(ValueError):
    """The message is malformed or its signature does not hold (reject with 4xx, log)."""


class SnsForged(SnsError):
    """The signature does not verify (missing, malformed, an untrusted certificate URL, an unknown
    version, or not matching): forged or tampered with. Answered 401."""


def check_aws_url(url: str, what: str) -> str:
    parts = urlsplit(str(url))
    if parts.scheme != "https" or not parts.hostname or not SNS_HOST.match(parts.hostname.lower()):
        raise SnsError(f"{what} must be https on an sns.<region>.amazonaws.com host, not {url!r}")
    return url


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    kind = message.get("Type")
    fields = NOTIFICATION_FIELDS if kind == "Notification" else SUBSCRIPTION_FIELDS
    out = []
    for name in fields:
        if name == "Subject" and message.get(name) is None:
            continue
        if name not in message:
            raise SnsError(f"{name}: field required for {kind}")
        out.append(f"{name}\n{message[name]}\n")
    return "".join(out).encode()


def default_fetcher(url: str) -> bytes:  # pragma: no cover - needs the internet
    import httpx

    response = httpx.get(url, timeout=10, follow_redirects=False)
    response.raise_for_status()
    return response.content


class SnsVerifier:
    """Checks SNS signatures; caches certificates by URL (thread-safe)."""

    def __init__(self, fetcher: Fetcher = default_fetcher) -> None:
        #: GETs a URL (certificates, and SubscribeURL to confirm a subscription).
        self.fetcher = fetcher
        self._certs: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def _key(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            if url in self._certs:
                return self._certs[url]
        try:
            cert = x509.load_pem_x509_certificate(self.fetcher(url))
        except SnsError:
            raise
        except Exception as exc:
            raise SnsError(f"cannot load the signing certificate: {exc}") from None
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsError("the signing certificate does not hold an RSA key")
        with self._lock:
            self._certs[url] = key
        return key

    def verify(self, message: Mapping[str, Any]) -> None:
        """Raises ``SnsError`` unless the message is a well-formed, validly signed SNS message."""
        if message.get("Type") not in TYPES:
            raise SnsError(f"Type: must be one of {', '.join(TYPES)}")
        version = str(message.get("SignatureVersion", ""))
        if version not in {"1", "2"}:
            raise SnsForged("SignatureVersion: must be 1 or 2")
        try:
            url = check_aws_url(str(message.get("SigningCertURL", "")), "SigningCertURL")
        except SnsError as exc:
            raise SnsForged(str(exc)) from None
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except ValueError:
            raise SnsForged("Signature: not base64") from None
        if not signature:
            raise SnsForged("Signature: field required")
        algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
        try:
            self._key(url).verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsForged("the signature does not match the message") from None

    def confirm_subscription(self, message: Mapping[str, Any]) -> None:
        """Confirm a (verified) SubscriptionConfirmation by visiting its SubscribeURL."""
        url = check_aws_url(str(message.get("SubscribeURL", "")), "SubscribeURL")
        self.fetcher(url)


# --------------------------------------------------------------------------- SES notifications


def _our_message_id(mail: Mapping[str, Any]) -> str | None:
    common = mail.get("commonHeaders") or {}
    if common.get("messageId"):
        return str(common["messageId"]).strip().strip("<>")
    for header in mail.get("headers") or ():
        if str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value", "")).strip().strip("<>")
    return None


def ses_feedback(sns_message_id: str, body: str) -> list[Feedback]:
    """Feedback items from an SES notification (the SNS ``Message``, a JSON string)."""
    try:
        note = jsonvalues.loads(body)
    except ValueError:
        raise SnsError("Message: not the JSON of an SES notification") from None
    if not isinstance(note, dict):
        raise SnsError("Message: not the JSON of an SES notification")
    kind = note.get("notificationType") or note.get("eventType")
    mail = note.get("mail") or {}
    ref = _our_message_id(mail)
    source_domain = domain_of(str(mail.get("source") or "")) or domain_of(ref)
    base: dict[str, Any] = {"ses_message_id": mail.get("messageId")}
    out = []
    if kind == "Bounce":
        bounce = note.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        detail = base | {
            "bounce_type": bounce.get("bounceType"),
            "bounce_subtype": bounce.get("bounceSubType"),
        }
        for r in bounce.get("bouncedRecipients") or ():
            if r.get("emailAddress"):
                out.append(
                    Feedback(
                        HARD if hard else SOFT,
                        str(r["emailAddress"]),
                        "ses",
                        ref=sns_message_id,
                        message_ref=ref,
                        sending_domain=source_domain,
                        detail=detail | {"diagnostic": r.get("diagnosticCode"), "status": r.get("status")},
                    )
                )
    elif kind == "Complaint":
        complaint = note.get("complaint") or {}
        detail = base | {"feedback_type": complaint.get("complaintFeedbackType")}
        for r in complaint.get("complainedRecipients") or ():
            if r.get("emailAddress"):
                out.append(
                    Feedback(
                        COMPLAINT,
                        str(r["emailAddress"]),
                        "ses",
                        ref=sns_message_id,
                        message_ref=ref,
                        sending_domain=source_domain,
                        detail=detail,
                    )
                )
    elif kind not in {"Delivery", "Send", "Open", "Click", "Reject", "DeliveryDelay", "Rendering Failure"}:
        raise SnsError(f"notificationType: unknown SES notification {kind!r}")
    return out
