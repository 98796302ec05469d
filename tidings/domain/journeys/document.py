"""Journey documents: YAML/JSON text -> a validated :class:`JourneyDoc`, refused whole if bad.

Every problem carries the line and step id it was found at; all problems are collected before
refusing, so an author fixes a document in one pass. Graph checks (unreachable steps, loops
without a wait, missing templates) live in ``validate.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from tidings.domain import jsonvalues
from tidings.domain.analytics.holdout import MAX_PERCENT
from tidings.domain.event_names import canonical_event_name
from tidings.domain.journeys.docfields import (
    KEY_RE,
    TRIGGER_TYPES,
    Problems,
    check_date_spec,
    check_duration,
    check_rule,
    loop_limit_parts,
)
from tidings.domain.journeys.docsteps import parse_steps
from tidings.domain.journeys.model import (
    END,
    Criterion,
    FrequencyCap,
    JourneyDoc,
    JourneyError,
    JourneySettings,
    Problem,
    SendWindow,
    Trigger,
)
from tidings.domain.journeys.timing import parse_clock, parse_days
from tidings.domain.journeys.yamlines import line_of, load, plain
from tidings.domain.names import control_problem


def parse_journey(text: str, *, templates: set[str] | None = None) -> JourneyDoc:
    """Parse and validate a journey document (YAML or JSON).

    ``templates``: the known template keys; when given, a send naming another is refused.
    Raises :class:`JourneyError` listing every problem with its line and step id.
    """
    try:
        data = load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise JourneyError([Problem(f"not valid YAML/JSON: {getattr(exc, 'problem', exc)}", line)]) from exc
    return build_journey(data, templates=templates)


def build_journey(data: Any, *, templates: set[str] | None = None) -> JourneyDoc:
    """Validate an already loaded mapping (line numbers known when it came from ``yamlines``)."""
    from tidings.domain.journeys.validate import check_graph

    p = Problems()
    if not isinstance(data, Mapping):
        raise JourneyError([Problem("a journey document is a mapping with key, name, triggers, steps", 1)])
    for k in data:
        if k not in {"key", "name", "description", "triggers", "steps", "settings", "version", "layout"}:
            p.add(f"unknown field {k!r}", line_of(data, k), path=str(k))
    _check_layout(data.get("layout"), data, p)
    for bad in jsonvalues.problems(plain(data))[:5]:  # a YAML document may spell .nan, .inf, 10**30
        p.add(bad.message, 1, path=".".join(map(str, bad.path)))
    key = data.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        p.add("key is required: lowercase letters, digits, _ . -", line_of(data, "key") or 1, path="key")
        key = str(key or "")
    name = data.get("name") or key
    bad_name = control_problem(str(name))
    if bad_name is not None:
        p.add(bad_name, line_of(data, "name") or 1, path="name")
    settings = _settings(data.get("settings") or {}, p)
    triggers = _triggers(data.get("triggers"), data, p)
    steps, order = parse_steps(data.get("steps"), data, p)
    doc = JourneyDoc(
        key=key,
        name=str(name),
        description=str(data.get("description") or ""),
        triggers=tuple(triggers),
        steps=steps,
        start=order[0] if order else END,
        settings=settings,
        raw=plain(data),
    )
    if not p.items:
        for problem in check_graph(doc, order, templates):
            p.items.append(problem)
    if p.items:
        raise JourneyError(p.items)
    return doc


# --------------------------------------------------------------------------- pieces


def _check_layout(raw: Any, data: Any, p: Problems) -> None:
    """``layout``: where the visual builder draws each step (step id -> [x, y]); the engine ignores it."""
    if raw is None:
        return
    line = line_of(data, "layout")
    if not isinstance(raw, Mapping):
        p.add("layout maps step ids to [x, y] positions", line, path="layout")
        return
    for sid, pos in raw.items():
        ok = isinstance(pos, list) and len(pos) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
        if not ok:
            p.add("a layout position is [x, y] (two numbers)", line_of(raw, sid) or line, path=f"layout.{sid}")


def _criteria(value: Any, p: Problems, owner: Any, name: str) -> tuple[Criterion, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        line = line_of(item) or line_of(owner, name)
        path = f"settings.{name}.{i}"
        criterion_keys = {"event", "where", "rule", "revenue"}
        if isinstance(item, Mapping) and ("event" in item or "rule" in item) and set(item) <= criterion_keys:
            rule = check_rule(item["rule"], p, line, None, path + ".rule") if "rule" in item else None
            where = (
                check_rule(item["where"], p, line, None, path + ".where", "event")
                if "where" in item
                else None
            )
            event = item.get("event")
            if event is not None and not isinstance(event, str):
                p.add("event must be an event name", line, None, path + ".event")
            out.append(
                Criterion(
                    rule=rule,
                    event=canonical_event_name(event) if isinstance(event, str) else event,
                    where=where,
                    revenue=item.get("revenue"),
                    source=plain(item),
                    line=line,
                )
            )
        else:
            out.append(Criterion(rule=check_rule(item, p, line, None, path), source=plain(item), line=line))
    return tuple(out)


def _settings(raw: Any, p: Problems) -> JourneySettings:
    if not isinstance(raw, Mapping):
        p.add("settings must be a mapping", line_of(raw), path="settings")
        return JourneySettings()
    known = {
        "reentry",
        "exit",
        "suppress",
        "goal",
        "send_window",
        "quiet_hours",
        "frequency_cap",
        "allow_owned",
        "category",
        "timezone",
        "signals",
        "loop_limit",
        "exempt_from_caps",
        "control_group",
    }
    for k in raw:
        if k not in known:
            p.add(f"unknown setting {k!r}", line_of(raw, k), path=f"settings.{k}")
    reentry, days = "after_exit", None
    r = raw.get("reentry", "after_exit")
    if isinstance(r, Mapping) and "after_days" in r:
        reentry, days = "after_days", r["after_days"]
        if not isinstance(days, int) or days < 0:
            p.add(
                "after_days must be a whole number of days", line_of(raw, "reentry"), path="settings.reentry"
            )
    elif r in ("never", "after_exit", "per_key"):
        reentry = r
    else:
        p.add(
            "reentry is never | after_exit | per_key | {after_days: N}",
            line_of(raw, "reentry"),
            path="settings.reentry",
        )
    window = None
    if raw.get("send_window") is not None:
        w = raw["send_window"]
        line = line_of(raw, "send_window")
        try:
            window = SendWindow(
                parse_days(w.get("days")), str(w.get("start", "00:00")), str(w.get("end", "24:00"))
            )
            parse_clock(window.start)
            parse_clock(window.end)
        except (ValueError, AttributeError) as exc:
            p.add(f"send_window: {exc}", line, path="settings.send_window")
            window = None
    quiet = None
    if raw.get("quiet_hours") is not None:
        q = raw["quiet_hours"]
        try:
            quiet = (str(q["start"]), str(q["end"]))
            parse_clock(quiet[0])
            parse_clock(quiet[1])
        except (ValueError, KeyError, TypeError) as exc:
            p.add(
                f"quiet_hours needs start and end HH:MM ({exc})",
                line_of(raw, "quiet_hours"),
                path="settings.quiet_hours",
            )
            quiet = None
    caps: dict[str, FrequencyCap] = {}
    fc = raw.get("frequency_cap") or {}
    if not isinstance(fc, Mapping):
        p.add("frequency_cap maps a channel to {max, per, action}", line_of(raw, "frequency_cap"))
    else:
        for channel, spec in fc.items():
            line = line_of(fc, channel)
            path = f"settings.frequency_cap.{channel}"
            if not isinstance(spec, Mapping) or not isinstance(spec.get("max"), int) or spec["max"] < 1:
                p.add("a cap needs max (>= 1), per (duration) and action delay|skip", line, path=path)
                continue
            action = spec.get("action", "delay")
            if action not in ("delay", "skip"):
                p.add("action is delay or skip", line, path=path)
            per = check_duration(spec.get("per", "1d"), p, line, None, path + ".per")
            caps[str(channel)] = FrequencyCap(str(channel), spec["max"], per, action)
    category = raw.get("category", "marketing")
    if category not in ("marketing", "transactional"):
        p.add("category is marketing or transactional", line_of(raw, "category"), path="settings.category")
    tz = raw.get("timezone", "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(tz))
    except Exception:
        p.add(f"unknown timezone {tz!r}", line_of(raw, "timezone"), path="settings.timezone")
        tz = "UTC"
    signals = raw.get("signals") or []
    if not isinstance(signals, list) or not all(isinstance(s, str) for s in signals):
        p.add("signals is a list of names", line_of(raw, "signals"), path="settings.signals")
        signals = []
    loop_limit = None
    if raw.get("loop_limit") is not None:
        try:
            loop_limit = loop_limit_parts(raw["loop_limit"])
        except ValueError as exc:
            p.add(f"loop_limit: {exc}", line_of(raw, "loop_limit"), path="settings.loop_limit")
    exempt = raw.get("exempt_from_caps", False)
    if not isinstance(exempt, bool):
        p.add("exempt_from_caps is true or false", line_of(raw, "exempt_from_caps"), path="settings.exempt_from_caps")
        exempt = False
    control = raw.get("control_group", 0)
    if isinstance(control, bool) or not isinstance(control, int | float) or not 0 <= control <= MAX_PERCENT:
        p.add(f"control_group is a percentage from 0 to {MAX_PERCENT:g}", line_of(raw, "control_group"),
              path="settings.control_group")
        control = 0
    return JourneySettings(
        control_group=float(control),
        loop_limit=loop_limit,
        exempt_from_caps=exempt,
        reentry=reentry,
        reentry_days=days if isinstance(days, int) else None,
        exit=_criteria(raw.get("exit"), p, raw, "exit"),
        suppress=_criteria(raw.get("suppress"), p, raw, "suppress"),
        goal=_criteria(raw.get("goal"), p, raw, "goal"),
        send_window=window,
        quiet_hours=quiet,
        frequency_caps=caps,
        allow_owned=bool(raw.get("allow_owned", False)),
        category=str(category),
        timezone=str(tz),
        signals=frozenset(signals),
    )


def _triggers(raw: Any, data: Any, p: Problems) -> list[Trigger]:
    if not isinstance(raw, list) or not raw:
        p.add(
            "triggers: a non-empty list (use '- manual: true' for API-only enrolment)",
            line_of(data, "triggers") or 1,
            path="triggers",
        )
        return []
    out = []
    for i, t in enumerate(raw):
        line = line_of(t) or line_of(raw)
        path = f"triggers.{i}"
        if not isinstance(t, Mapping):
            p.add("a trigger is a mapping such as {event: order.completed}", line, path=path)
            continue
        kinds = [k for k in TRIGGER_TYPES if k in t]
        if len(kinds) != 1:
            p.add(f"a trigger names exactly one of {', '.join(TRIGGER_TYPES)}", line, path=path)
            continue
        kind = kinds[0]
        extra = set(t) - {kind, "where", "key", "to"}
        if extra:
            p.add(f"unknown field(s) {sorted(extra)}", line, path=path)
        target = t[kind]
        where = (
            check_rule(t["where"], p, line, None, path + ".where", "event")
            if t.get("where") is not None
            else None
        )
        if where is not None and kind != "event":
            p.add("where filters apply to event triggers only", line, path=path + ".where")
        date = None
        if kind == "date":
            date = check_date_spec(target, p, line, None, path + ".date")
            target = None
        elif kind == "manual":
            target = None
        elif not isinstance(target, str) or not target:
            p.add(f"{kind} names a {'event' if kind == 'event' else kind.split('_')[0]}", line, path=path)
        elif kind == "event":
            target = canonical_event_name(target)
        out.append(
            Trigger(
                index=i,
                type=kind,  # type: ignore[arg-type]
                line=line,
                target=target,
                where=where,
                to=t.get("to"),
                key=t.get("key"),
                date=date,
            )
        )
    return out
