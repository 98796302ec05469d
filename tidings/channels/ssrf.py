"""SSRF protection for outgoing webhooks: never let a journey's URL reach into our own network.

A webhook URL is user data. Before every request (and again on every redirect) the host is
resolved and **every** address it resolves to is checked; one internal address refuses the URL.
The request then connects to the checked IP itself (the Host header and TLS SNI keep the name),
so a DNS answer that changes between the check and the connection (DNS rebinding) cannot move
the request somewhere else.

Refused: loopback, private (RFC 1918, IPv6 ULA), link-local (169.254/16, fe80::/10), cloud metadata
(169.254.169.254, fd00:ec2::254), unspecified, multicast, CGNAT (100.64/10), reserved/broadcast,
and the same addresses hidden in IPv4-mapped or NAT64 IPv6 forms. The operator allows exceptions
with ``TIDINGS_WEBHOOK_ALLOW`` (host names or CIDRs).

Our own public origin (``TIDINGS_PUBLIC_URL``) is reachable **only on the local sinks' paths**
(``<public path>/sink/...``), so the built-in webhook sink works in development while a webhook
step can never call the rest of our own API (with its own headers). This holds even when the
operator allow-lists the host, and for any loopback address on the port of a loopback public
URL (``localhost:8000`` is ``127.0.0.1:8000``). Paths with dot segments or encoded characters
are refused there rather than interpreted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALLOW_HINT = "allow it with TIDINGS_WEBHOOK_ALLOW"
#: the paths of our own origin a webhook may reach (after the public URL's own path).
SINK_PATH = "/sink/"


class SsrfRefused(Exception):
    """The URL may not be requested; ``str(exc)`` is the reason recorded on the message."""


@dataclass(frozen=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: (host, port) of our own public URL: reachable on the sink paths only.
    origins: frozenset[tuple[str, int]] = frozenset()
    #: path prefixes of the local sinks on our own origin (``<public path>/sink/``).
    sink_prefixes: tuple[str, ...] = ()
    #: ports of our own origins whose host is loopback: any loopback address there is us.
    loopback_ports: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str], *, own_urls: Iterable[str] = ()) -> AllowList:
        hosts: set[str] = set()
        networks = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        origins, prefixes, loopback_ports = set(), [], set()
        for url in own_urls:
            parts = urlsplit(url)
            if parts.hostname:
                port = parts.port or default_port(parts.scheme)
                origins.add((parts.hostname.lower(), port))
                prefixes.append(parts.path.rstrip("/") + SINK_PATH)
                if is_loopback_name(parts.hostname):
                    loopback_ports.add(port)
        return cls(frozenset(hosts), tuple(networks), frozenset(origins), tuple(prefixes), frozenset(loopback_ports))

    def allows_host(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or (host, port) in self.origins

    def is_own_origin(self, host: str, port: int, addresses: Iterable[IPAddress]) -> bool:
        if (host.lower().rstrip("."), port) in self.origins:
            return True
        return port in self.loopback_ports and any(_unmapped(ip).is_loopback for ip in addresses)

    def own_path_problem(self, path: str) -> str | None:
        """Why this path of our own origin may not be requested (None for a local sink)."""
        decoded = unquote(path or "/")
        segments = decoded.split("/")
        if "%" in decoded or "\\" in decoded or "." in segments or ".." in segments:
            return f"the path {path!r} of Tidings' own origin is not a plain local sink path"
        if not any(decoded.startswith(prefix) for prefix in self.sink_prefixes):
            sinks = " or ".join(f"{p}..." for p in self.sink_prefixes) or SINK_PATH
            return f"only the local sinks ({sinks}) of Tidings' own origin may be called, not {path or '/'}"
        return None

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)


def is_loopback_name(host: str) -> bool:
    """``localhost`` (or ``*.localhost``) or a loopback IP literal; the name is not resolved."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return _unmapped(ipaddress.ip_address(name)).is_loopback
    except ValueError:
        return False


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def unsafe_reason(ip: IPAddress) -> str | None:
    """Why this address is internal ("a loopback address"...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return unsafe_reason(ip.ipv4_mapped)
        if ip in NAT64:
            return unsafe_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "a carrier-grade NAT (100.64/10) address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``ip`` but speak to ``host`` (Host header, SNI)."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str
    #: the URL with the host replaced by the checked IP.
    pinned_url: str
    #: the Host header value (with the port when it is not the default).
    host_header: str


def check_url(url: str, allow: AllowList, resolver: Resolver = system_resolver) -> Target:
    """Resolve and check a URL; raises ``SsrfRefused`` with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise SsrfRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed; use http or https")
    host = parts.hostname
    if not host:
        raise SsrfRefused("the URL has no host")
    try:
        port = parts.port or default_port(parts.scheme)
    except ValueError as exc:
        raise SsrfRefused(f"invalid port: {exc}") from None
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise SsrfRefused(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise SsrfRefused(f"{host} resolves to no address")
    ips = [ipaddress.ip_address(text.split("%", 1)[0]) for text in addresses]
    if allow.is_own_origin(host, port, ips):
        problem = allow.own_path_problem(parts.path)
        if problem:
            raise SsrfRefused(problem)
    host_allowed = allow.allows_host(host, port)
    for ip in ips:
        reason = unsafe_reason(ip)
        if reason and not host_allowed and not allow.allows_ip(ip):
            raise SsrfRefused(
                f"{host} resolves to {ip}, {reason}; {ALLOW_HINT}"
                if literal is None
                else f"{ip} is {reason}; {ALLOW_HINT}"
            )
    ip_text = addresses[0].split("%", 1)[0]
    netloc_ip = f"[{ip_text}]" if ":" in ip_text else ip_text
    pinned = parts._replace(netloc=f"{netloc_ip}:{port}").geturl()
    host_header = host if port == default_port(parts.scheme) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port(parts.scheme) else f"[{host}]:{port}"
    return Target(url, parts.scheme, host, port, ip_text, pinned, host_header)
