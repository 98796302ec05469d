"""Sending-domain checks (DKIM, SPF, DMARC) through a fake resolver."""

from __future__ import annotations

from tidings.application.domains.checks import check_domain
from tidings.application.ports.dns import DnsLookupFailed

OURS = "v=DKIM1; k=rsa; p=MIIBIjANBgkqh"


class FakeResolver:
    def __init__(self, records: dict[str, list[str]], failing: set[str] | None = None) -> None:
        self.records = records
        self.failing = failing or set()

    def txt(self, name: str) -> list[str]:
        if name in self.failing:
            raise DnsLookupFailed("Timeout")
        return self.records.get(name, [])


def _by_kind(resolver: FakeResolver, ours: str | None = OURS) -> dict[str, tuple[bool, str, str]]:
    checks = check_domain(resolver, "Shop.Test.", selector="tid", our_dkim_record=ours)
    return {c.kind: (c.passed, c.message, c.publish) for c in checks}


def test_a_domain_that_publishes_everything_passes() -> None:
    r = FakeResolver(
        {
            "tid._domainkey.shop.test": ["v=DKIM1; k=rsa; p=MIIBIjANBgkqh"],
            "shop.test": ["google-site-verification=x", "v=spf1 mx include:_spf.mail.test ~all"],
            "_dmarc.shop.test": ["v=DMARC1; p=quarantine"],
        }
    )
    got = _by_kind(r)
    assert all(passed for passed, _, _ in got.values()), got
    assert got["SPF"][2] == "v=spf1 mx include:_spf.mail.test ~all"


def test_missing_wrong_and_dangerous_records_fail_with_the_record_to_publish() -> None:
    r = FakeResolver(
        {
            "tid._domainkey.shop.test": ["v=DKIM1; k=rsa; p=OTHERKEY"],
            "shop.test": ["v=spf1 +all"],
        }
    )
    got = _by_kind(r)
    assert got["DKIM"][:2] == (False, "a key is published, but not the one Tidings signs with")
    assert got["DKIM"][2] == OURS
    assert got["SPF"][0] is False and "+all" in got["SPF"][1]
    assert got["DMARC"] == (False, "no DMARC record", "v=DMARC1; p=none; rua=mailto:dmarc@shop.test")
    two = _by_kind(FakeResolver({"shop.test": ["v=spf1 mx ~all", "v=spf1 a ~all"]}), ours=None)
    assert two["SPF"][0] is False and "more than one" in two["SPF"][1]
    assert two["DKIM"][:2] == (False, "no DKIM key is published here")
    any_key = _by_kind(FakeResolver({"tid._domainkey.shop.test": ["v=DKIM1; p=ANY"]}), ours=None)
    assert any_key["DKIM"][0] is True  # not signing for it: any key will do


def test_a_failed_lookup_is_not_a_missing_record() -> None:
    got = _by_kind(FakeResolver({}, failing={"_dmarc.shop.test"}))
    assert got["DMARC"][0] is False and "look-up failed" in got["DMARC"][1]
