"""GSM-7 / UCS-2 detection and segment counting, and inbound keyword classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.sms import GSM7, UCS2, analyse, is_gsm7, keyword, segment_count


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("Hello", GSM7, 5, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),  # extension chars count 2
        ("€" * 81, GSM7, 162, 2),
        ("Привет", UCS2, 6, 1),
        ("é" * 200, GSM7, 200, 2),  # é is in the basic table
        ("ê" * 70, UCS2, 70, 1),  # ê is not
        ("ê" * 71, UCS2, 71, 2),
        ("ê" * 134, UCS2, 134, 2),
        ("ê" * 135, UCS2, 135, 3),
        ("😀" * 35, UCS2, 70, 1),  # surrogate pairs: 2 units each
    ],
)
def test_known_lengths(text: str, encoding: str, units: int, segments: int) -> None:
    info = analyse(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_extension_char_never_straddles_two_parts() -> None:
    # 152 plain chars then a 2-septet char: 154 > 153 so the euro starts part two.
    text = "a" * 152 + "€" + "a" * 10
    assert analyse(text).units == 164
    assert segment_count(text) == 2
    # 306 septets would fit 2 parts of 153, but no part may end with half a euro.
    text = "a" * 152 + "€" * 77
    assert analyse(text).units == 306
    assert segment_count(text) == 3


def test_one_non_gsm_character_switches_the_whole_message() -> None:
    assert is_gsm7("Hello {name} [ok] ~ | ^ \\")
    assert not is_gsm7("Hello ✓")
    assert analyse("a" * 100 + "✓").segments == 2


@given(st.text(max_size=400))
def test_segments_bound_units(text: str) -> None:
    info = analyse(text)
    assert info.segments * info.per_segment >= info.units
    assert info.segments == 0 or (info.segments - 1) * info.per_segment < info.units + info.segments


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "stop"),
        (" stop. ", "stop"),
        ("Unsubscribe", "stop"),
        ("START", "start"),
        ("unstop", "start"),
        ("help", "help"),
        ("please stop by the shop", None),
        ("", None),
    ],
)
def test_keywords(body: str, expected: str | None) -> None:
    assert keyword(body) == expected
