"""SMTP AUTH is never sent without TLS, except to loopback or when explicitly allowed (issue 12:
with ``starttls=auto`` a relay offering no STARTTLS received ``AUTH PLAIN`` with the password)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port
from tidings.application.ports.senders import DeliveryStatus, OutgoingMessage
from tidings.bootstrap import Container
from tidings.channels.email import SmtpConfig, SmtpProvider, plain_auth_allowed
from tidings.channels.ssrf import is_loopback_name


class Relay:
    """A real SMTP server that offers AUTH but no STARTTLS; records logins and messages."""

    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []
        self.messages: list[bytes] = []

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


def non_loopback_address() -> str:
    """This machine's own address on its default route (not 127/8): a relay "elsewhere"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent, only a route is chosen
        except OSError:
            pytest.skip("this machine has no non-loopback IPv4 address")
        address = str(s.getsockname()[0])
    if is_loopback_name(address):
        pytest.skip("this machine has no non-loopback IPv4 address")
    return address


@pytest.fixture
def relay() -> Iterator[tuple[Relay, str, int]]:
    host, port = non_loopback_address(), free_port()
    handler = Relay()
    controller = Controller(
        handler, hostname=host, port=port, authenticator=handler.authenticate, auth_require_tls=False
    )
    controller.start()
    yield handler, host, port
    controller.stop()


def message() -> OutgoingMessage:
    return OutgoingMessage(
        outbox_id=1, channel="email", contact_id=1, recipient="ann@example.org", idempotency_key="k1",
        message_ref="1.a@tidings.test", subject="Hi", text="Hello", sender="shop@example.com",
    )


async def test_no_password_in_clear_to_a_relay_without_starttls(
    relay: tuple[Relay, str, int], container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    handler, host, port = relay
    provider = SmtpProvider(
        SmtpConfig.from_url(f"smtp://mailer:s3cret@{host}:{port}"), clock=container.clock, default_from="x@y.z"
    )
    result = await provider.send(message())
    await provider.aclose()
    assert result.status is DeliveryStatus.FAILED_TEMPORARY
    assert result.error and "offers no TLS" in result.error and "allow_plain_auth=1" in result.error
    assert "password would be sent in clear" in caplog.text
    assert handler.logins == [] and handler.messages == []


async def test_plain_auth_when_explicitly_allowed(relay: tuple[Relay, str, int], container: Container) -> None:
    handler, host, port = relay
    provider = SmtpProvider(
        SmtpConfig.from_url(f"smtp://mailer:s3cret@{host}:{port}?allow_plain_auth=1"),
        clock=container.clock,
        default_from="x@y.z",
    )
    result = await provider.send(message())
    await provider.aclose()
    assert result.ok, result.error
    assert handler.logins == [("mailer", "s3cret")] and len(handler.messages) == 1


async def test_without_a_user_name_nothing_changes(relay: tuple[Relay, str, int], container: Container) -> None:
    handler, host, port = relay
    provider = SmtpProvider(SmtpConfig.from_url(f"smtp://{host}:{port}"), clock=container.clock, default_from="x@y.z")
    assert (await provider.send(message())).ok
    await provider.aclose()
    assert handler.logins == [] and len(handler.messages) == 1


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("smtp://u:p@localhost:25", True),
        ("smtp://u:p@127.0.0.5:25", True),
        ("smtp://u:p@[::1]:25", True),
        ("smtp://u:p@mail.localhost:25", True),
        ("smtp://u:p@smtp.example.com:587", False),
        ("smtp://u:p@192.0.2.2:25", False),
        ("smtp://u:p@10.0.0.1:25", False),
        ("smtp://u:p@127.0.0.1.evil.test:25", False),
        ("smtp://u:p@smtp.example.com:587?allow_plain_auth=1", True),
        ("smtp://u:p@smtp.example.com:587?allow_plain_auth=0", False),
    ],
)
def test_plain_auth_decision(url: str, allowed: bool) -> None:
    assert plain_auth_allowed(SmtpConfig.from_url(url)) is allowed


def test_allow_plain_auth_must_be_a_flag() -> None:
    with pytest.raises(ValueError, match="allow_plain_auth"):
        SmtpConfig.from_url("smtp://u:p@h:25?allow_plain_auth=maybe")
