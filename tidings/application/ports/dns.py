"""Port: DNS TXT look-ups (the sending-domain checks). ``channels/dns_resolver.py`` asks the
network through dnspython; tests pass a fake."""

from __future__ import annotations

from typing import Protocol


class DnsLookupFailed(RuntimeError):
    """The resolver could not answer (timeout, SERVFAIL): not the same as "no such record"."""


class TxtResolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT strings at ``name`` (each record's strings joined); [] when there is none.

        Raises :class:`DnsLookupFailed` when the question got no answer."""
        ...
