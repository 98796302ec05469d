"""The built-in SMTP catcher: whatever a real client sends lands in the inbox table, readable."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from tests.conftest import free_port
from tidings.bootstrap import Container
from tidings.channels.base import InboxItem
from tidings.channels.catcher import SmtpCatcher
from tidings.runtime import catcher_service
from tidings.store import schema


@pytest.fixture
def catcher(container: Container) -> Iterator[Container]:
    container.settings = replace(container.settings, catcher_port=free_port())
    service = catcher_service(container)
    service.start()
    yield container
    service.stop()


def rows(container: Container) -> list[dict[str, object]]:
    with container.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.inbox).order_by(schema.inbox.c.id)).mappings()]


def test_third_party_client_mail_is_stored_with_both_bodies(catcher: Container) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = (
        "Ops <ops@example.org>",
        "a@example.org, b@example.org",
        "Ünïcode ✓",
    )
    mail["Message-ID"] = "<abc.123@example.org>"
    mail.set_content("plain ✓ text")
    mail.add_alternative("<p>html ✓</p>", subtype="html")
    mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    with smtplib.SMTP("127.0.0.1", catcher.settings.catcher_port) as smtp:
        smtp.send_message(mail)
    [row] = rows(catcher)
    assert row["subject"] == "Ünïcode ✓" and row["message_ref"] == "abc.123@example.org"
    assert row["recipient"] == "a@example.org, b@example.org" and row["sender"] == "ops@example.org"
    assert (
        str(row["body_text"]).strip() == "plain ✓ text" and str(row["body_html"]).strip() == "<p>html ✓</p>"
    )
    assert row["headers"]["subject"] == "Ünïcode ✓"  # type: ignore[index]


def test_a_storage_failure_is_a_temporary_smtp_error() -> None:
    def broken(item: InboxItem) -> None:
        raise RuntimeError("disk full")

    server = SmtpCatcher("127.0.0.1", free_port(), broken)
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port) as smtp, pytest.raises(smtplib.SMTPDataError) as err:
            smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nbody\r\n")
    finally:
        server.stop()
    assert err.value.smtp_code == 451  # the sender keeps the message and retries
