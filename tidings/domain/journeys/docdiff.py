"""What changed between two versions of a journey document, as sentences: steps added, removed,
changed (which fields) or moved, triggers added or removed, settings changed.

Pure: it compares the two documents as loaded from YAML (mappings); the phrases are translatable
(``narrate.Phrase``) and the web shows them above the line diff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tidings.domain.journeys.narrate import N_, Phrase


def _steps(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for s in doc.get("steps") or []:
        if isinstance(s, Mapping) and s.get("id") is not None:
            out[str(s["id"])] = s
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _triggers(doc: Mapping[str, Any]) -> list[str]:
    raw = doc.get("triggers") or []
    return [_canon(t) for t in raw] if isinstance(raw, Sequence) and not isinstance(raw, str) else []


def _trigger_text(canon: str) -> str:
    value = json.loads(canon)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {v if isinstance(v, str) else _canon(v)}" for k, v in value.items())
    return str(value)


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Phrase]:
    """The changes from ``old`` to ``new``, in reading order (name, triggers, steps, settings)."""
    out: list[Phrase] = []
    if old.get("name") != new.get("name"):
        out.append(
            Phrase(
                N_("Renamed from %(old)s to %(new)s"), {"old": old.get("name") or "—", "new": new.get("name") or "—"}
            )
        )
    if (old.get("description") or "") != (new.get("description") or ""):
        out.append(Phrase(N_("The description changed")))
    before, after = _triggers(old), _triggers(new)
    for t in after:
        if t not in before:
            out.append(Phrase(N_("New trigger: %(trigger)s"), {"trigger": _trigger_text(t)}))
    for t in before:
        if t not in after:
            out.append(Phrase(N_("Trigger removed: %(trigger)s"), {"trigger": _trigger_text(t)}))
    a, b = _steps(old), _steps(new)
    for sid, step in b.items():
        if sid not in a:
            out.append(Phrase(N_("New step %(step)s (%(type)s)"), {"step": sid, "type": step.get("type") or "?"}))
    for sid, step in a.items():
        if sid not in b:
            out.append(Phrase(N_("Step %(step)s (%(type)s) removed"), {"step": sid, "type": step.get("type") or "?"}))
    for sid in (s for s in b if s in a):
        fields = sorted(
            k for k in set(a[sid]) | set(b[sid]) if k != "id" and _canon(a[sid].get(k)) != _canon(b[sid].get(k))
        )
        if fields:
            out.append(Phrase(N_("Step %(step)s changed: %(fields)s"), {"step": sid, "fields": ", ".join(fields)}))
    kept_a = [s for s in a if s in b]
    kept_b = [s for s in b if s in a]
    if kept_a != kept_b:
        out.append(Phrase(N_("Steps reordered: %(order)s"), {"order": " → ".join(kept_b)}))
    sa, sb = old.get("settings") or {}, new.get("settings") or {}
    if isinstance(sa, Mapping) and isinstance(sb, Mapping):
        for k in sorted(set(sa) | set(sb)):
            if _canon(sa.get(k)) != _canon(sb.get(k)):
                out.append(Phrase(N_("Setting %(setting)s changed"), {"setting": k}))
    return out
