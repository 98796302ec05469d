"""The A/B subject test of a campaign: who is in the test, which subject, and the winner.

``assign`` puts ``round(share * n)`` of the audience in the test (chosen by a hash of the campaign
key and the contact id: stable across retries, not by id order), split evenly over the
subjects (sizes differ by at most one); everyone else waits for the winner. ``choose`` reads the
counts through the experiments statistics (``domain/experiments``: Bayesian chance to be best,
the verdict sentence); at the review point the rest gets the clear winner, or when there is no
clear winner the variant most likely to be best (the verdict says so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tidings.domain.experiments.stats import Arm, StatsInputError, evaluate
from tidings.domain.experiments.verdict import decide

METRIC_WORDS = {"opens": "human opens", "clicks": "clicks"}


def variant_names(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def _rank(key: str, contact_id: int) -> bytes:
    return hashlib.blake2s(f"{key}:{contact_id}".encode(), digest_size=8).digest()


def assign(key: str, contact_ids: Sequence[int], subjects: int, share: float) -> dict[int, str | None]:
    """contact id -> variant name ("A", "B"...) for the test group, None for the rest."""
    if subjects < 2:
        return {cid: "A" if subjects == 1 else "" for cid in contact_ids}
    names = variant_names(subjects)
    ordered = sorted(set(contact_ids), key=lambda c: _rank(key, c))
    n_test = min(len(ordered), max(subjects, round(share * len(ordered)))) if ordered else 0
    out: dict[int, str | None] = {}
    for i, cid in enumerate(ordered):
        out[cid] = names[i % subjects] if i < n_test else None
    return out


@dataclass(frozen=True, slots=True)
class Choice:
    winner: str
    clear: bool
    verdict: str
    detail: dict[str, Any]


def choose(counts: Mapping[str, tuple[int, int]], metric: str) -> Choice:
    """The winner from (exposed, converted) per variant on ``metric`` (opens | clicks)."""
    names = sorted(counts)
    words = METRIC_WORDS.get(metric, metric)
    arms = [Arm(n, counts[n][0], min(counts[n][1], counts[n][0])) for n in names]
    try:
        ev = evaluate(arms)
    except StatsInputError as exc:
        first = names[0] if names else "A"
        return Choice(first, False, f"No result on {words} ({exc}): the rest gets {first}.", {"error": str(exc)})
    v = decide(ev, words)
    detail = {
        "status": v.status,
        "arms": [
            {"name": a.name, "exposed": a.exposed, "converted": a.converted, "rate": a.rate,
             "chance_to_be_best": a.chance_to_be_best}
            for a in ev.arms
        ],
        "srm": ev.srm,
    }
    if v.winner is not None:
        return Choice(v.winner, True, v.sentence, detail)
    best = max(ev.arms, key=lambda a: a.chance_to_be_best)
    return Choice(best.name, False, f"{v.sentence} Review point reached: the rest gets {best.name}, "
                  "the variant most likely to be best.", detail)
