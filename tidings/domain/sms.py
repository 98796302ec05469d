"""SMS encoding and segment counting (pure): what a text costs before we send it.

An SMS carries 140 octets. Text that fits the GSM 03.38 alphabet is sent 7-bit (160 characters,
153 per part when split, because the concatenation header takes 7); anything else goes as UCS-2
(70 characters, 67 per part). Characters of the GSM extension table (``{ } [ ] ~ \\ | ^ €`` and
form feed) are sent as ESC + char, so they count twice and never straddle two parts. UCS-2 counts
UTF-16 code units: an emoji outside the BMP takes two and is not split across parts either.

Inbound keywords (STOP/START/HELP) are classified here too, so the rule is testable without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsInfo:
    encoding: str
    #: length in the encoding's units: septets for GSM-7 (extension chars count 2), UTF-16 units for UCS-2.
    units: int
    segments: int
    #: units per segment for this message (160/153 or 70/67).
    per_segment: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_sizes(text: str, gsm: bool) -> list[int]:
    if gsm:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(sizes: list[int], per_segment: int) -> int:
    """Parts needed when a character (1 or 2 units) is never split between two parts."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            parts += 1
            used = 0
        used += size
    return parts


def analyse(text: str) -> SmsInfo:
    """Encoding, length and number of parts of an SMS text."""
    gsm = is_gsm7(text)
    single, multi = (160, 153) if gsm else (70, 67)
    sizes = _unit_sizes(text, gsm)
    units = sum(sizes)
    if units <= single:
        return SmsInfo(GSM7 if gsm else UCS2, units, 1 if units else 0, single)
    return SmsInfo(GSM7 if gsm else UCS2, units, _pack(sizes, multi), multi)


def segment_count(text: str) -> int:
    return analyse(text).segments


# --------------------------------------------------------------------------- inbound keywords

#: CTIA / carrier standard keywords. STOP and friends opt out, START and friends opt back in.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN", "SUBSCRIBE"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> str | None:
    """``stop`` | ``start`` | ``help`` when the message is one of the keywords, else None.

    Only the whole message (trimmed, case-insensitive, trailing punctuation ignored) counts: "please
    stop by the shop" is not an opt-out, "Stop." is.
    """
    word = body.strip().strip(".!?").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None
