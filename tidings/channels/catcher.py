"""The built-in SMTP catcher: a local SMTP server storing every email it receives in the inbox.

`tidings serve` starts it (``runtime.catcher_service``, which also turns mail to ``unsubscribe@``
into unsubscribes) so a newcomer sees email work with nothing installed;
the delivery loop's default email provider sends to it over a real SMTP conversation. The
same server, with an in-memory store, is the test double for "a real SMTP server".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller

from tidings.application.ports.senders import EMAIL
from tidings.channels.base import InboxItem

if TYPE_CHECKING:
    pass

log = logging.getLogger("tidings.channels.catcher")


def parse_email(raw: bytes, *, sender: str | None, recipients: list[str]) -> InboxItem:
    """What the inbox shows of an email: subject, both bodies, headers, our Message-ID."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    text = html = None
    plain_part = msg.get_body(("plain",))
    if plain_part is not None:
        text = plain_part.get_content()
    html_part = msg.get_body(("html",))
    if html_part is not None:
        html = html_part.get_content()
    headers: dict[str, Any] = {}
    for name, value in msg.items():
        key = name.lower()
        headers[key] = (
            headers[key] + [str(value)]
            if isinstance(headers.get(key), list)
            else ([headers[key], str(value)] if key in headers else str(value))
        )
    message_id = str(msg.get("Message-ID", "")).strip().strip("<>") or None
    return InboxItem(
        channel=EMAIL,
        sender=sender,
        recipient=", ".join(recipients),
        subject=msg.get("Subject"),
        body_text=text,
        body_html=html,
        headers=headers,
        raw=raw.decode("utf-8", "replace"),
        message_ref=message_id,
    )


class CatcherHandler:
    """aiosmtpd handler: parse each message and hand it to ``store``."""

    def __init__(self, store: Callable[[InboxItem], None]) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            item = parse_email(
                envelope.original_content or envelope.content,
                sender=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
            )
            self.store(item)
        except Exception:
            log.exception("catcher could not store a message")
            return "451 Requested action aborted: local error in processing"
        return "250 Message accepted for delivery"


class SmtpCatcher:
    """An aiosmtpd server in its own thread (aiosmtpd's Controller owns the thread and loop)."""

    def __init__(
        self,
        host: str,
        port: int,
        store: Callable[[InboxItem], None],
        name: str = "smtp-catcher",
        **server_kwargs: Any,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        # big newsletters are fine; aiosmtpd's default limit is 32 MB.
        self.controller = Controller(
            CatcherHandler(store), hostname=host, port=port, ready_timeout=10, **server_kwargs
        )

    def start(self) -> None:
        # aiosmtpd logs every SMTP command at INFO ("mail.log"): too chatty beside the API's log.
        if logging.getLogger("mail.log").level == logging.NOTSET:
            logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        log.info("SMTP catcher listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        self.controller.stop()


class MemoryStore:
    """An in-memory store for tests: a list of received items, thread-safe."""

    def __init__(self) -> None:
        self.items: list[InboxItem] = []
        self._lock = threading.Lock()

    def __call__(self, item: InboxItem) -> None:
        with self._lock:
            self.items.append(item)


