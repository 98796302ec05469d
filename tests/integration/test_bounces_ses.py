"""Amazon SES via SNS: signatures (v1 and v2) checked with our own test CA, forged ones rejected."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tidings.bootstrap import Container
from tidings.channels.sns import SnsVerifier, string_to_sign
from tidings.store import schema

TOPIC = "arn:aws:sns:eu-west-1:1:ses"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"


def make_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, PEM = make_cert()


def signed(message: dict[str, Any], version: str = "2", key: rsa.RSAPrivateKey = KEY) -> dict[str, Any]:
    message = {
        **message,
        "SignatureVersion": version,
        "SigningCertURL": message.get("SigningCertURL", CERT_URL),
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    sig = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return message | {"Signature": base64.b64encode(sig).decode()}


def notification(ses: dict[str, Any], message_id: str = "sns-1") -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(ses),
        "Timestamp": "2026-03-02T09:00:00.000Z",
    }


def bounce(address: str, kind: str = "Permanent", message_ref: str | None = None) -> dict[str, Any]:
    mail: dict[str, Any] = {"source": "news@mail.shop.test", "messageId": "0100-ses"}
    if message_ref:
        mail["commonHeaders"] = {"messageId": f"<{message_ref}>"}
    return {
        "notificationType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": address, "diagnosticCode": "smtp; 550 5.1.1"}],
        },
    }


@pytest.fixture
def fetched(container: Container) -> list[str]:
    urls: list[str] = []

    def fetch(url: str) -> bytes:
        urls.append(url)
        return PEM

    container.settings = replace(container.settings, ses_topic_arns=(TOPIC,))
    container.sns_verifier = SnsVerifier(fetch)
    return urls


def add_contact_and_message(container: Container, email: str) -> tuple[int, int, str]:
    now = container.clock.now()
    with container.engine.begin() as conn:
        cid = conn.execute(
            sa.insert(schema.contacts).values(email=email, attributes={}, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        oid = conn.execute(
            sa.insert(schema.outbox).values(
                contact_id=cid,
                idempotency_key=f"m-{cid}",
                kind="message",
                channel="email",
                template="welcome",
                payload={},
                status="sent",
                next_attempt_at=now,
                created_at=now,
                sent_at=now,
            )
        ).inserted_primary_key[0]
        ref = f"{oid}.abcd@mail.shop.test"
        conn.execute(
            sa.update(schema.outbox)
            .where(schema.outbox.c.id == oid)
            .values(provider_message_id=ref, rendered={"message_ref": ref})
        )
    return int(cid), int(oid), ref


@pytest.mark.parametrize("version", ["1", "2"])
def test_hard_bounce_suppresses_and_emits_event(
    api: Any, container: Container, fetched: list[str], version: str
) -> None:
    cid, oid, ref = add_contact_and_message(container, "ann@example.org")
    r = api.post(
        "/api/webhooks/ses",
        content=json.dumps(signed(notification(bounce("Ann@Example.org", message_ref=ref)), version)),
        headers={"Content-Type": "text/plain; charset=UTF-8"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["suppressed"] == ["ann@example.org"]
    with container.engine.connect() as conn:
        sup = conn.execute(sa.select(schema.suppressions)).mappings().one()
        ev = conn.execute(sa.select(schema.events).where(schema.events.c.name == "message.bounced")).mappings().one()
        fb = conn.execute(sa.select(schema.feedback)).mappings().one()
    assert (sup["channel"], sup["address"], sup["reason"]) == ("email", "ann@example.org", "hard_bounce")
    assert ev["contact_id"] == cid
    assert ev["properties"]["message_id"] == oid and ev["properties"]["template"] == "welcome"
    assert ev["properties"]["bounce_type"] == "hard"
    assert fb["sending_domain"] == "mail.shop.test" and fb["outbox_id"] == oid
    # a replay of the same SNS message changes nothing; the certificate was fetched once
    again = api.post(
        "/api/webhooks/ses",
        content=json.dumps(signed(notification(bounce("ann@example.org", message_ref=ref)), version)),
    )
    assert again.json()["duplicates"] == 1 and again.json()["recorded"] == 0
    assert fetched == [CERT_URL]


def test_complaint_suppresses(api: Any, container: Container, fetched: list[str]) -> None:
    cid, _, ref = add_contact_and_message(container, "bob@example.org")
    ses = {
        "notificationType": "Complaint",
        "mail": {"source": "a@mail.shop.test", "commonHeaders": {"messageId": ref}},
        "complaint": {
            "complainedRecipients": [{"emailAddress": "bob@example.org"}],
            "complaintFeedbackType": "abuse",
        },
    }
    r = api.post("/api/webhooks/ses", content=json.dumps(signed(notification(ses, "sns-c"))))
    assert r.status_code == 200, r.text
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(schema.suppressions.c.reason)).scalar() == "complaint"
        names = conn.execute(sa.select(schema.events.c.name).where(schema.events.c.contact_id == cid)).scalars().all()
    assert "message.complained" in names


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda m: m | {"Message": m["Message"].replace("Permanent", "Transient")}, 401),  # tampered body
        (lambda m: m | {"Signature": base64.b64encode(b"x" * 256).decode()}, 401),
        (lambda m: m | {"Signature": "not base64!"}, 401),
        (lambda m: {k: v for k, v in m.items() if k != "Signature"}, 401),
        (lambda m: m | {"SigningCertURL": "http://sns.eu-west-1.amazonaws.com/c.pem"}, 401),
        (lambda m: m | {"SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.test/c.pem"}, 401),
        (lambda m: m | {"SigningCertURL": "https://evil.test/sns.eu-west-1.amazonaws.com.pem"}, 401),
        (lambda m: m | {"SignatureVersion": "3"}, 401),
        (lambda m: m | {"Type": "Other"}, 400),
    ],
)
def test_forged_or_malformed_notifications_are_rejected(
    api: Any,
    container: Container,
    fetched: list[str],
    mutate: Any,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_contact_and_message(container, "ann@example.org")
    message = mutate(signed(notification(bounce("ann@example.org"))))
    r = api.post("/api/webhooks/ses", content=json.dumps(message))
    assert r.status_code == status, r.text
    assert "rejected" in caplog.text
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.suppressions)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.feedback)).scalar() == 0


def test_signed_by_another_key_is_rejected(api: Any, container: Container, fetched: list[str]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = api.post("/api/webhooks/ses", content=json.dumps(signed(notification(bounce("x@example.org")), key=other)))
    assert r.status_code == 401
    assert api.post("/api/webhooks/ses", content=b"not json").status_code == 400


def test_subscription_confirmation_visits_subscribe_url(api: Any, container: Container, fetched: list[str]) -> None:
    sub = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m1",
        "Token": "tok",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
        "Timestamp": "2026-03-02T09:00:00.000Z",
    }
    r = api.post("/api/webhooks/ses", content=json.dumps(signed(sub)))
    assert r.status_code == 200, r.text
    assert r.json()["subscription"] == "confirmed"
    assert fetched == [CERT_URL, sub["SubscribeURL"]]
    evil = signed(sub | {"SubscribeURL": "https://169.254.169.254/latest"})
    assert api.post("/api/webhooks/ses", content=json.dumps(evil)).status_code == 400


def test_only_configured_topics_are_accepted(api: Any, container: Container, fetched: list[str]) -> None:
    add_contact_and_message(container, "ann@example.org")
    # validly signed by SNS, but for someone else's topic: anyone can create an SNS topic
    other = signed(notification(bounce("ann@example.org")) | {"TopicArn": "arn:aws:sns:eu-west-1:666:evil"})
    assert api.post("/api/webhooks/ses", content=json.dumps(other)).status_code == 403
    container.settings = replace(container.settings, ses_topic_arns=())
    ours = signed(notification(bounce("ann@example.org")))
    assert api.post("/api/webhooks/ses", content=json.dumps(ours)).status_code == 404
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.suppressions)).scalar() == 0


#: the example notification of Amazon's SNS documentation ("HTTP/HTTPS notification JSON format").
AWS_DOC_EXAMPLE = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Subject": "My First Message",
    "Message": "Hello world!",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "SignatureVersion": "1",
    "Signature": "EXAMPLEw6JRNwm1LFQL4ICB0bnXrdB8ClRMTQFGBqwLpGbM78tJ4etTwC5zU7O3tS6tGpey3ejedNdOJ+1fkIp9F2/"
    "LmNVKb5aFlYq+9rk9ZiPph5YlLmWsDcyC5T+Sy9/umic5S0UQc2PEtgdpVBahwNOdMW4JPwk0kAJJztnc=",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
    "arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96",
}


def test_aws_documented_example_string_to_sign_and_its_placeholder_signature() -> None:
    """The canonical string of Amazon's published example is built field by field as documented,
    and its placeholder signature ("EXAMPLE...") does not verify: 401, nothing recorded."""
    assert string_to_sign(AWS_DOC_EXAMPLE) == (
        b"Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n"
        b"Timestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
        b"Type\nNotification\n"
    )
    without_subject = {k: v for k, v in AWS_DOC_EXAMPLE.items() if k != "Subject"}
    assert b"Subject" not in string_to_sign(without_subject)
    from tidings.channels.sns import SnsForged

    verifier = SnsVerifier(fetcher=lambda url: PEM)
    with pytest.raises(SnsForged):
        verifier.verify(AWS_DOC_EXAMPLE)
    # the same documented message, really signed (by our test CA for that URL), verifies
    verifier.verify(signed({k: v for k, v in AWS_DOC_EXAMPLE.items() if k != "Signature"}, version="1"))
