"""Email through SMTP (aiosmtplib): reused connections, a concurrency cap and a rate limit.

``TIDINGS_SMTP_URL``: ``smtp://[user:pass@]host[:port]`` (STARTTLS when the server offers it),
``smtps://...`` (implicit TLS, port 465 by default). Query parameters: ``pool`` (connections
kept open, default 4), ``rate`` (messages per second cap, 0 = none), ``starttls`` (``auto`` |
``required`` | ``off``), ``timeout`` (seconds), ``allow_plain_auth`` (``1`` to allow AUTH without
TLS: see below). Without it, email goes to the built-in catcher (``catcher.py``) — the local sink
whose ``confirm`` answers from the inbox table.

The password is never sent in clear: with a user name, AUTH happens only over TLS (``smtps`` or
after STARTTLS). A relay that offers no STARTTLS makes every send fail with ``PlainAuthRefused``
(logged as an error) instead, unless the host is a loopback address (``localhost``, 127/8, ::1)
or the URL says ``allow_plain_auth=1`` (``plain_auth_allowed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from tidings.application.ports.senders import EMAIL, DeliveryResult, OutgoingMessage
from tidings.channels import mime
from tidings.channels.base import inbox_has
from tidings.channels.dkim import DkimSigner
from tidings.channels.ssrf import is_loopback_name

if TYPE_CHECKING:
    from tidings.application.ports.clock import Clock
    from tidings.application.ports.wiring import Wiring
    from tidings.store.db import Engine

log = logging.getLogger("tidings.channels.email")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None = when offered
    pool: int = 4
    rate: float = 0.0
    timeout: float = 30.0
    #: send AUTH over a connection without TLS (``?allow_plain_auth=1``); loopback hosts always may.
    allow_plain_auth: bool = False

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"TIDINGS_SMTP_URL: scheme must be smtp or smtps, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("TIDINGS_SMTP_URL: a host is required (smtp://host:port)")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        tls = parts.scheme == "smtps"
        starttls = q.get("starttls", "auto")
        if starttls not in {"auto", "required", "off"}:
            raise ValueError("TIDINGS_SMTP_URL: starttls must be auto, required or off")
        plain = q.get("allow_plain_auth", "0")
        if plain not in {"0", "1", "true", "false", "yes", "no"}:
            raise ValueError("TIDINGS_SMTP_URL: allow_plain_auth must be 1 or 0")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=None if tls or starttls == "auto" else starttls == "required",
            pool=max(1, int(q.get("pool", 4))),
            rate=float(q.get("rate", 0)),
            timeout=float(q.get("timeout", 30)),
            allow_plain_auth=plain in {"1", "true", "yes"},
        )


class PlainAuthRefused(aiosmtplib.SMTPException):
    """The relay offers no TLS and the password would travel in clear: nothing is sent."""


def plain_auth_allowed(config: SmtpConfig) -> bool:
    """May AUTH be sent on a connection without TLS? Only to loopback, or when explicitly allowed."""
    return config.allow_plain_auth or is_loopback_name(config.host)


class RateLimiter:
    """Token bucket: at most ``rate`` acquisitions per second (0 = unlimited).

    Throttling reads the monotonic clock: it paces I/O, it is not business time.
    """

    def __init__(
        self,
        rate: float,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._now = now
        self._sleep = sleep
        self._next = 0.0

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        now = self._now()
        wait = self._next - now
        self._next = max(now, self._next) + 1.0 / self.rate
        if wait > 0:
            await self._sleep(wait)


def classify(exc: BaseException) -> DeliveryResult:
    """SMTP 5xx -> permanent; 4xx, timeouts, lost connections -> temporary."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        error = f"smtp {exc.code}: {exc.message}"
        if 500 <= exc.code < 600:
            return DeliveryResult.permanent(error, smtp_code=exc.code)
        return DeliveryResult.temporary(error, smtp_code=exc.code)
    return DeliveryResult.temporary(f"{type(exc).__name__}: {exc}")


@lru_cache(maxsize=256)
def envelope_sender(sender: str) -> str:
    return parseaddr(sender)[1]


def render_bytes(
    msg: OutgoingMessage, *, default_from: str, clock: Clock, signer: DkimSigner | None
) -> bytes:
    """The message as sent: our headers, multipart body, DKIM signature first."""
    headers, body = mime.build_email(
        sender=msg.sender or default_from,
        recipient=msg.recipient,
        subject=msg.subject or "",
        message_id=msg.message_ref,
        date=clock.now(),
        text=msg.text,
        html=msg.html,
        reply_to=msg.reply_to,
        extra=msg.headers,
    )
    if signer is not None:
        headers = [signer.sign(headers, body), *headers]
    return mime.serialise(headers, body)


class SmtpProvider:
    """Sends through an SMTP server with a pool of reused connections."""

    channel = EMAIL

    def __init__(
        self,
        config: SmtpConfig,
        *,
        clock: Clock,
        default_from: str,
        signer: DkimSigner | None = None,
        name: str = "smtp",
        engine: Engine | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.default_from = default_from
        self.signer = signer
        self.name = name
        #: set for the catcher: ``confirm`` then answers from the inbox table.
        self.engine = engine
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None
        self._limiter = RateLimiter(config.rate)

    @property
    def concurrency(self) -> int:
        """Messages in flight at once (one per pooled connection): the delivery loop's hand-off window."""
        return self.config.pool

    def _semaphore(self) -> asyncio.Semaphore:
        # created lazily: it must belong to the loop that sends.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.pool)
        return self._slots

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host, port=c.port, use_tls=c.use_tls, start_tls=c.start_tls, timeout=c.timeout
        )
        await client.connect()
        if c.username is None:
            return client
        if client.get_transport_info("sslcontext") is None and not plain_auth_allowed(c):
            client.close()
            message = (
                f"SMTP relay {c.host}:{c.port} offers no TLS (STARTTLS), so the password would be sent "
                "in clear: refused. Use smtps://, a relay with STARTTLS, or add allow_plain_auth=1 to "
                "TIDINGS_SMTP_URL if this network is trusted"
            )
            log.error(message)
            raise PlainAuthRefused(message)
        await client.login(c.username, c.password or "")
        return client

    async def send(self, msg: OutgoingMessage) -> DeliveryResult:
        try:
            data = render_bytes(msg, default_from=self.default_from, clock=self.clock, signer=self.signer)
        except ValueError as exc:  # bad address, header injection: retrying cannot help
            return DeliveryResult.permanent(f"cannot build email: {exc}")
        return await self.send_raw(
            envelope_sender(msg.sender or self.default_from), msg.recipient, data, msg.message_ref
        )

    async def send_raw(self, sender: str, recipient: str, data: bytes, message_ref: str) -> DeliveryResult:
        """Push already-built bytes (the benchmark's ceiling uses this too)."""
        await self._limiter.acquire()
        async with self._semaphore():
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                await client.sendmail(sender, [recipient], data)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                result = classify(exc)
                if (
                    client is not None
                    and isinstance(exc, aiosmtplib.SMTPResponseException)
                    and client.is_connected
                ):
                    try:  # the conversation is still usable after a refused recipient
                        await client.rset()
                        self._idle.append(client)
                    except Exception:
                        client.close()
                elif client is not None:
                    client.close()
                return result
            self._idle.append(client)
            return DeliveryResult.accepted(message_ref)

    async def confirm(self, msg: OutgoingMessage) -> bool | None:
        if self.engine is None:
            return None  # a remote SMTP server cannot be asked whether it got a message
        return await asyncio.to_thread(inbox_has, self.engine, EMAIL, msg.message_ref)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except Exception:
                client.close()


def load_signer(container: Wiring) -> DkimSigner | None:
    s = container.settings
    if not (s.dkim_domain and s.dkim_key_file):
        return None
    return DkimSigner.from_file(s.dkim_domain, s.dkim_selector, s.dkim_key_file)


def build_provider(container: Wiring) -> SmtpProvider:
    s = container.settings
    signer = load_signer(container)
    if s.smtp_url:
        return SmtpProvider(
            SmtpConfig.from_url(s.smtp_url), clock=container.clock, default_from=s.email_from, signer=signer
        )
    return SmtpProvider(
        SmtpConfig(host=s.catcher_host, port=s.catcher_port, start_tls=False, pool=2),
        clock=container.clock,
        default_from=s.email_from,
        signer=signer,
        name="catcher",
        engine=container.engine,
    )
