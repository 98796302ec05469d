"""Use case: check a sending domain's DKIM, SPF and DMARC records through a resolver.

Each check says pass or fail, what was found, and the record to publish. DKIM passes when the
TXT record at ``<selector>._domainkey.<domain>`` carries the public key we sign with (or, when
we do not sign for that domain, any ``v=DKIM1`` key); SPF passes with exactly one ``v=spf1``
record that does not end in ``+all``; DMARC passes with a ``v=DMARC1`` record at ``_dmarc``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.application.ports.dns import DnsLookupFailed, TxtResolver


@dataclass(frozen=True)
class RecordCheck:
    kind: str  # DKIM | SPF | DMARC
    name: str  # where the TXT record lives
    passed: bool
    found: tuple[str, ...]
    publish: str  # the record to publish (TXT at ``name``)
    message: str


def _key_of(record: str) -> str:
    tags = dict(
        (k.strip().lower(), v.strip()) for k, _, v in (p.partition("=") for p in record.split(";")) if k.strip()
    )
    return tags.get("p", "").replace(" ", "")


def _lookup(resolver: TxtResolver, name: str) -> tuple[list[str], str]:
    try:
        return resolver.txt(name), ""
    except DnsLookupFailed as exc:
        return [], f"the DNS look-up failed ({exc}); try again"


def check_dkim(resolver: TxtResolver, domain: str, selector: str, our_record: str | None) -> RecordCheck:
    name = f"{selector}._domainkey.{domain}"
    found, failed = _lookup(resolver, name)
    keys = [r for r in found if r.replace(" ", "").lower().startswith("v=dkim1") or "p=" in r]
    publish = our_record or "v=DKIM1; k=rsa; p=<your public key> (set TIDINGS_DKIM_KEY_FILE to sign)"
    if failed:
        return RecordCheck("DKIM", name, False, tuple(found), publish, failed)
    if not keys:
        return RecordCheck("DKIM", name, False, tuple(found), publish, "no DKIM key is published here")
    if our_record is not None and _key_of(our_record) not in {_key_of(k) for k in keys}:
        return RecordCheck(
            "DKIM", name, False, tuple(found), publish, "a key is published, but not the one Tidings signs with"
        )
    return RecordCheck("DKIM", name, True, tuple(found), publish, "the DKIM key is published")


def check_spf(resolver: TxtResolver, domain: str) -> RecordCheck:
    found, failed = _lookup(resolver, domain)
    spf = [r for r in found if r.lower().startswith("v=spf1")]
    publish = spf[0] if len(spf) == 1 else "v=spf1 mx a ~all (add include:<your provider> if it sends for you)"
    if failed:
        return RecordCheck("SPF", domain, False, tuple(spf), publish, failed)
    if not spf:
        return RecordCheck("SPF", domain, False, (), publish, "no SPF record: receivers cannot tell who may send")
    if len(spf) > 1:
        return RecordCheck(
            "SPF", domain, False, tuple(spf), publish, "more than one SPF record: receivers treat that as an error"
        )
    if spf[0].replace(" ", "").lower().endswith("+all"):
        return RecordCheck("SPF", domain, False, tuple(spf), "v=spf1 mx a ~all", "+all lets anyone send as this domain")
    return RecordCheck("SPF", domain, True, tuple(spf), publish, "one SPF record")


def check_dmarc(resolver: TxtResolver, domain: str) -> RecordCheck:
    name = f"_dmarc.{domain}"
    found, failed = _lookup(resolver, name)
    dmarc = [r for r in found if r.replace(" ", "").lower().startswith("v=dmarc1")]
    publish = dmarc[0] if len(dmarc) == 1 else f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}"
    if failed:
        return RecordCheck("DMARC", name, False, tuple(dmarc), publish, failed)
    if len(dmarc) != 1:
        why = "no DMARC record" if not dmarc else "more than one DMARC record"
        return RecordCheck("DMARC", name, False, tuple(dmarc), publish, why)
    return RecordCheck("DMARC", name, True, tuple(dmarc), publish, "a DMARC policy is published")


def check_domain(
    resolver: TxtResolver, domain: str, *, selector: str, our_dkim_record: str | None
) -> list[RecordCheck]:
    """DKIM, SPF and DMARC of ``domain`` (``our_dkim_record``: the record of the key we sign with)."""
    domain = domain.strip().lower().rstrip(".")
    return [
        check_dkim(resolver, domain, selector, our_dkim_record),
        check_spf(resolver, domain),
        check_dmarc(resolver, domain),
    ]
