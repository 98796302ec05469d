"""The audit's vocabulary: a finding, its severity, and the name helpers every check shares.

A finding is ``{kind, severity, subjects, message, suggestion}``; ``subjects`` name what it is
about by key (``journey:welcome``, ``step:welcome/tips``, ``tag:vip``, ``segment:buyers``).
Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: Severity
    subjects: tuple[str, ...]
    message: str
    suggestion: str = ""
    #: figures behind the finding (counts, depth, the cycle...), for --json and the web page.
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "subjects": list(self.subjects),
            "message": self.message,
            "suggestion": self.suggestion,
            "detail": self.detail,
        }


def journey(key: str) -> str:
    return f"journey:{key}"


def step(key: str, step_id: str) -> str:
    return f"step:{key}/{step_id}"


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.kind, f.subjects, f.message))


def did_you_mean(name: str, known: Iterable[str], *, n: int = 3, cutoff: float = 0.75) -> list[str]:
    """Close known names (difflib), compared on a normalised spelling so that
    ``webinar-registerd`` finds ``webinar.registered``."""
    by_norm: dict[str, list[str]] = {}
    for k in known:
        by_norm.setdefault(normalise(k), []).append(k)
    close = difflib.get_close_matches(normalise(name), list(by_norm), n=n, cutoff=cutoff)
    out: list[str] = []
    for c in close:
        out.extend(sorted(by_norm[c]))
    return [o for o in out if o != name][:n]


def suggestion_text(candidates: list[str]) -> str:
    if not candidates:
        return ""
    return "did you mean " + " or ".join(repr(c) for c in candidates) + "?"


_SEP = re.compile(r"[\s._\-:/]+")
_DIGITS = re.compile(r"\d+")


def normalise(name: str) -> str:
    """Case and separators do not count: ``Web Inar``, ``web_inar`` and ``web-inar`` are one."""
    return _SEP.sub(" ", name.strip().casefold()).strip()


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance at most 1, in one pass."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]


def near_duplicates(names: Iterable[str], *, max_distance: int = 1, min_length: int = 5) -> list[list[str]]:
    """Groups of names that are probably one: same spelling up to case and separators, or
    within ``max_distance`` edits — a letter more or less for names of ``min_length``
    characters, a changed letter from 8 (``ping-me`` / ``pong-me`` are two words); names that
    differ only in digits, like ``cohort-1`` / ``cohort-2``, are kept apart.

    Candidates meet through their one-character deletions (two strings one edit apart share
    one), so thousands of tags cost a few dictionary lookups each, not every pair."""
    items = sorted(set(names))
    parent = {n: n for n in items}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    norm = {n: normalise(n) for n in items}
    shape = {n: _DIGITS.sub("#", norm[n]) for n in items}
    buckets: dict[str, list[str]] = {}
    for n in items:
        na = norm[n]
        keys = {na}
        if max_distance >= 1 and len(na) >= min_length:
            keys |= {na[:i] + na[i + 1 :] for i in range(len(na))}
        for k in keys:
            buckets.setdefault(k, []).append(n)
    for group in buckets.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if find(a) == find(b):
                    continue
                na, nb = norm[a], norm[b]
                if na != nb and shape[a] == shape[b]:
                    continue  # numbered on purpose
                if max_distance == 1:
                    near = within_one_edit(na, nb)
                else:
                    near = edit_distance(na, nb, max_distance) <= max_distance
                # a changed letter in a short name is as often another word (ping / pong)
                shortest = min(len(na), len(nb))
                close = near and shortest >= (min_length if len(na) != len(nb) else max(min_length, 8))
                if na == nb or close:
                    parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in items:
        groups.setdefault(find(n), []).append(n)
    return [sorted(g) for g in groups.values() if len(g) > 1]
