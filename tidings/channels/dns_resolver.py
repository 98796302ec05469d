"""The DNS resolver port (``application/ports/dns.py``) on dnspython: TXT look-ups with a
short timeout, for the sending-domain checks of ``/settings``."""

from __future__ import annotations

import dns.exception
import dns.resolver

from tidings.application.ports.dns import DnsLookupFailed


class DnspythonResolver:
    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout

    def txt(self, name: str) -> list[str]:
        resolver = dns.resolver.Resolver()
        resolver.lifetime = self.timeout
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsLookupFailed(type(exc).__name__) from None
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
