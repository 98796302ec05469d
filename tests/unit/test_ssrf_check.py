"""The SSRF guard: internal addresses are refused after resolution, with the reason; allow-lists work."""

from __future__ import annotations

import pytest

from tidings.channels.ssrf import AllowList, SsrfRefused, check_url


def resolver_for(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


NONE = AllowList()


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.3.4.5", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.9", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("100.64.0.1", "a carrier-grade NAT (100.64/10) address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),
        ("240.0.0.1", "a reserved address"),
    ],
)
def test_internal_addresses_are_refused_with_reason(address: str, words: str) -> None:
    resolve = resolver_for({"hooks.example.com": [address]})
    with pytest.raises(SsrfRefused) as info:
        check_url("https://hooks.example.com/x", NONE, resolve)
    reason = str(info.value)
    assert address.split("%")[0] in reason or words in reason
    assert words in reason
    assert "TIDINGS_WEBHOOK_ALLOW" in reason


def test_reason_reads_like_the_docs() -> None:
    resolve = resolver_for({"evil.example": ["127.0.0.1"]})
    with pytest.raises(
        SsrfRefused,
        match=r"evil.example resolves to 127.0.0.1, a loopback address; "
        r"allow it with TIDINGS_WEBHOOK_ALLOW",
    ):
        check_url("http://evil.example/", NONE, resolve)


def test_ip_literals_are_checked_without_dns() -> None:
    with pytest.raises(SsrfRefused, match="loopback"):
        check_url("http://[::1]:8080/", NONE, resolver_for({}))
    with pytest.raises(SsrfRefused, match="metadata"):
        check_url("http://169.254.169.254/latest/meta-data/", NONE, resolver_for({}))


def test_one_internal_answer_among_public_ones_refuses() -> None:
    resolve = resolver_for({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(SsrfRefused, match="10.0.0.5"):
        check_url("https://mixed.example/", NONE, resolve)


def test_public_host_is_pinned_to_its_checked_ip() -> None:
    resolve = resolver_for({"hooks.example.com": ["93.184.216.34"]})
    target = check_url("https://hooks.example.com:8443/in?a=1", NONE, resolve)
    assert target.ip == "93.184.216.34"
    assert target.pinned_url == "https://93.184.216.34:8443/in?a=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.host == "hooks.example.com"
    v6 = check_url("http://v6.example/", NONE, resolver_for({"v6.example": ["2606:2800:220:1::1"]}))
    assert v6.pinned_url == "http://[2606:2800:220:1::1]:80/"
    assert v6.host_header == "v6.example"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "http:///nohost"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(SsrfRefused):
        check_url(url, NONE, resolver_for({"example.com": ["93.184.216.34"]}))


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(SsrfRefused, match="cannot resolve"):
        check_url("https://nowhere.invalid/", NONE, resolver_for({}))


def test_operator_allow_list_by_host_and_by_cidr() -> None:
    resolve = resolver_for({"crm.internal": ["10.0.0.7"], "other.internal": ["10.9.0.1"]})
    allow = AllowList.parse(["crm.internal"])
    assert check_url("http://crm.internal/hook", allow, resolve).ip == "10.0.0.7"
    with pytest.raises(SsrfRefused):
        check_url("http://other.internal/hook", allow, resolve)
    by_net = AllowList.parse(["10.9.0.0/16", " "])
    assert check_url("http://other.internal/hook", by_net, resolve).ip == "10.9.0.1"
    with pytest.raises(SsrfRefused):
        check_url("http://crm.internal/hook", by_net, resolve)


def test_own_public_origin_is_allowed_but_not_other_ports() -> None:
    allow = AllowList.parse([], own_urls=["http://127.0.0.1:8000"])
    assert check_url("http://127.0.0.1:8000/sink/webhook/a", allow, resolver_for({})).ip == "127.0.0.1"
    with pytest.raises(SsrfRefused, match="loopback"):
        check_url("http://127.0.0.1:6379/", allow, resolver_for({}))


@pytest.mark.parametrize(
    "path",
    [
        "/api/events",
        "/api/contacts/1",
        "/",
        "",
        "/sink",
        "/sinks/webhook/a",
        "/SINK/webhook/a",
        "/sink/../api/events",
        "/sink/%2e%2e/api/events",
        "/sink/%252e%252e/api/events",
        "/sink/./webhook/a",
        "/x/../sink/webhook/a",
    ],
)
def test_own_origin_only_on_the_local_sinks(path: str) -> None:
    """Issue 12: a webhook step could call any path of Tidings' own API with custom headers."""
    own = "http://127.0.0.1:8000"
    # refused even when the operator allow-lists the host or all of loopback
    for allow in (
        AllowList.parse([], own_urls=[own]),
        AllowList.parse(["127.0.0.1", "127.0.0.0/8", "localhost"], own_urls=[own]),
    ):
        for host in ("127.0.0.1", "localhost", "127.0.0.2", "[::ffff:127.0.0.1]"):
            with pytest.raises(SsrfRefused, match="own origin"):
                check_url(f"http://{host}:8000{path}", allow, resolver_for({"localhost": ["127.0.0.1"]}))


def test_own_origin_sinks_under_the_public_path() -> None:
    resolve = resolver_for({"tidings.example.com": ["93.184.216.34"]})
    allow = AllowList.parse([], own_urls=["https://tidings.example.com/crm/"])
    assert check_url("https://tidings.example.com/crm/sink/webhook/a", allow, resolve).ip == "93.184.216.34"
    assert check_url("https://tidings.example.com/crm/sink/webhook/a%20b", allow, resolve).ip == "93.184.216.34"
    for path in ("/sink/webhook/a", "/crm/api/events", "/crm/sink/../api/events"):
        with pytest.raises(SsrfRefused, match="own origin"):
            check_url(f"https://tidings.example.com{path}", allow, resolve)
    # another port of the same public host is not our origin: an ordinary public URL
    assert check_url("https://tidings.example.com:8443/api/events", allow, resolve).port == 8443
