"""What the audit is computed from, per journey, and the thresholds it applies. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tidings.domain.journeys.model import JourneyDoc


@dataclass(frozen=True, slots=True)
class AuditSettings:
    #: more distinct tags than this is the article's warning sign
    tag_limit: int = 100
    #: a journey with no entry for this many days (or never, once published this long) is idle
    idle_days: int = 30
    #: chains of more journeys than this are reported
    chain_depth: int = 3
    #: "step never reached in the traces" is reported once a journey has this many enrolments
    min_enrolments: int = 20
    #: complexity above which a journey is a candidate for "simplify"
    complexity_limit: int = 40

    def __post_init__(self) -> None:
        for name in ("tag_limit", "idle_days", "chain_depth", "min_enrolments", "complexity_limit"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")


@dataclass(frozen=True, slots=True)
class JourneyFacts:
    """One published journey with what storage knows about it."""

    key: str
    status: str
    doc: JourneyDoc
    published_at: datetime | None = None
    enrolments: int = 0
    last_entered_at: datetime | None = None
    conversions: int = 0
    revenue: float = 0.0
    sends: int = 0
    #: opens and clicks by people (not proxies or scanners) on its messages
    human_engagements: int = 0
    #: step ids seen in the recorded traces
    reached_steps: frozenset[str] = frozenset()
    #: from the journey's scenarios (recipes ship them); None when it has none
    untaken_branches: tuple[str, ...] | None = None
    unreached_by_scenarios: tuple[str, ...] | None = None
