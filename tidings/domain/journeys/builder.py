"""The visual builder's JSON form of a journey document, and back: one converter, pure.

The YAML document stays the single source of truth; the web builder (``static/builder.js``)
edits this JSON form and posts it back, and :func:`from_builder` turns it into YAML text again
with :func:`tidings.domain.journeys.yamlines.dump`, which :func:`parse_journey` reads back
equal. The form keeps every field of the document (also those the builder has no form for)
and the order of the keys, so a document that goes to the builder and back unchanged is the
same document (``tests/unit/test_journey_builder_form.py`` holds this for every recipe and for
generated documents). YAML comments are not data: they do not survive a trip through the
builder (the page says so).

Shape::

    {"format": 1,
     "keys": ["key", "name", "triggers", "settings", "steps"],   # top-level order
     "journey": {"key": ..., "name": ..., "triggers": [...], "settings": {...}},
     "steps": [{"id": ..., "type": ..., ...}, ...],
     "layout": {"step-id": [x, y], ...}}                          # builder-only positions
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.domain.journeys.model import JourneyError, Problem
from tidings.domain.journeys.yamlines import dump, plain

FORMAT = 1
#: the document's top-level keys the form keeps apart from ``journey``
SPLIT = ("steps", "layout")


def to_builder(data: Mapping[str, Any]) -> dict[str, Any]:
    """The builder form of a loaded document (a mapping, as ``yamlines.load`` returns)."""
    doc = plain(dict(data))
    layout = doc.get("layout")
    return {
        "format": FORMAT,
        "keys": [str(k) for k in doc],
        "journey": {k: v for k, v in doc.items() if k not in SPLIT},
        "steps": doc.get("steps") if isinstance(doc.get("steps"), list) else [],
        "layout": layout if isinstance(layout, Mapping) else {},
    }


def from_builder(form: Any) -> dict[str, Any]:
    """The document a builder form describes (check it with ``build_journey``/``parse_journey``).

    Raises :class:`JourneyError` when the form itself is malformed (not the document's
    problems: those are the validator's)."""
    problems = _shape_problems(form)
    if problems:
        raise JourneyError(problems)
    journey: dict[str, Any] = dict(form["journey"])
    steps = list(form["steps"])
    layout = dict(form.get("layout") or {})
    ids = {s.get("id") for s in steps if isinstance(s, Mapping)}
    layout = {k: v for k, v in layout.items() if k in ids}  # positions of deleted steps go with them
    out: dict[str, Any] = {}
    keys = [str(k) for k in form.get("keys") or []]
    for k in [*keys, *journey, "steps", "layout"]:
        if k in out:
            continue
        if k == "steps":
            out[k] = steps
        elif k == "layout":
            if layout:
                out[k] = layout
        elif k in journey:
            out[k] = journey[k]
    return out


def builder_yaml(form: Any) -> str:
    """The YAML text of a builder form."""
    return dump(from_builder(form))


def _shape_problems(form: Any) -> list[Problem]:
    if not isinstance(form, Mapping):
        return [Problem("the builder sends an object with journey, steps and layout", None, path="")]
    out = []
    if form.get("format", FORMAT) != FORMAT:
        out.append(Problem(f"builder format {form.get('format')!r} is not {FORMAT}", None, path="format"))
    if not isinstance(form.get("journey"), Mapping):
        out.append(Problem("journey must be an object (key, name, triggers, settings)", None, path="journey"))
    elif any(k in form["journey"] for k in SPLIT):
        out.append(Problem("steps and layout go beside journey, not in it", None, path="journey"))
    if not isinstance(form.get("steps"), list):
        out.append(Problem("steps must be a list", None, path="steps"))
    if form.get("layout") is not None and not isinstance(form.get("layout"), Mapping):
        out.append(Problem("layout maps step ids to [x, y]", None, path="layout"))
    keys = form.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        out.append(Problem("keys is a list of the document's top-level keys", None, path="keys"))
    return out
