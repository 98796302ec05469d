"""Control groups: sticky membership, the declared share, validation, lift."""

from __future__ import annotations

import pytest

from tidings.domain.analytics.holdout import in_control_group, lift
from tidings.domain.journeys.document import parse_journey
from tidings.domain.journeys.model import JourneyError

DOC = """key: j
settings:
  control_group: {pct}
triggers:
  - event: e
steps:
  - id: hello
    type: send
    channel: email
    template: t
"""


def test_membership_is_sticky_and_close_to_the_share() -> None:
    members = [cid for cid in range(20_000) if in_control_group("welcome", cid, 10)]
    assert 0.09 < len(members) / 20_000 < 0.11
    assert members == [cid for cid in range(20_000) if in_control_group("welcome", cid, 10)]
    assert not any(in_control_group("welcome", cid, 0) for cid in range(1000))
    other = {cid for cid in range(20_000) if in_control_group("other", cid, 10)}
    assert other != set(members)  # per journey, not one global set


def test_lift() -> None:
    assert lift((90, 18), (10, 1)) == {
        "treated_contacts": 90, "treated_converted": 18, "treated_rate": 0.2,
        "control_contacts": 10, "control_converted": 1, "control_rate": 0.1,
        "lift_points": 0.1, "lift_relative": 1.0,
    }
    assert lift((5, 1), (0, 0))["lift_points"] is None


def test_setting_is_validated() -> None:
    assert parse_journey(DOC.format(pct=10)).settings.control_group == 10.0
    with pytest.raises(JourneyError) as err:
        parse_journey(DOC.format(pct=80))
    assert "control_group" in str(err.value)
