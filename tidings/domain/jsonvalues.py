"""What a JSON value may hold so that both databases store it and read it back unchanged.

The one rule, applied wherever JSON enters (HTTP bodies, CSV JSON columns, CLI arguments, stored
attributes and properties):

* numbers are finite: ``NaN``, ``Infinity``, ``-Infinity`` (and numbers like ``1e400`` that only
  fit as infinity) are refused — they are not JSON, and one stored NaN breaks every later read;
* numbers lie in the signed 64-bit range (``-2**63`` .. ``2**63 - 1``): larger ones (``10**30``,
  ``1e300``) are refused, not rounded or turned into strings — SQLite's JSON functions hold no
  larger integer, and PostgreSQL's jsonb gives a float like ``1e300`` back as a 301-digit integer;
* strings and keys hold no NUL character (``\\u0000``): PostgreSQL stores none in text or jsonb;
* nesting is at most :data:`MAX_DEPTH` levels deep.

:func:`problems` walks a value (iteratively: no recursion limit) and names the path of each
offence; :func:`loads` parses JSON text with that rule. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: deepest nesting of objects and arrays: the JSON parser's own limit (200 levels holding values,
#: plus an empty object or array inside), so text it accepts is never too deep
MAX_DEPTH = 201
#: at most this many offences are listed in one answer
MAX_PROBLEMS = 20

NOT_FINITE = "numbers must be finite (NaN, Infinity and numbers beyond ±1.8e308 are refused)"
OUT_OF_RANGE = f"numbers must lie in the signed 64-bit range ({INT64_MIN} .. {INT64_MAX})"
NUL = "the NUL character (\\u0000) is not allowed"
TOO_DEEP = f"nested too deeply: at most {MAX_DEPTH} levels"

Path = list[str | int]


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    #: "json_invalid" for numbers JSON cannot spell (NaN, Infinity), "value_error" otherwise
    kind: str


class JsonRefused(ValueError):
    """JSON text that is malformed (``problems`` empty) or breaks the rule (``problems`` listed)."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    @property
    def malformed(self) -> bool:
        """True for text that is not JSON at all, or that spells NaN / Infinity."""
        return not self.problems or any(p.kind == "json_invalid" for p in self.problems)


def scalar_problem(value: Any) -> tuple[str, str] | None:
    """The (message, kind) for one scalar that breaks the rule, or None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return NOT_FINITE, "json_invalid"
        if not INT64_MIN <= value < 2.0**63:
            return OUT_OF_RANGE, "value_error"
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            return OUT_OF_RANGE, "value_error"
    elif isinstance(value, str) and "\x00" in value:
        return NUL, "value_error"
    return None


def problems(value: Any, prefix: Sequence[str | int] = ()) -> list[Problem]:
    """Every place (up to :data:`MAX_PROBLEMS`) where ``value`` breaks the rule."""
    found: list[Problem] = []
    stack: list[tuple[Any, Path, int]] = [(value, list(prefix), 0)]
    while stack and len(found) < MAX_PROBLEMS:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                found.append(Problem(path, TOO_DEEP, "value_error"))
                continue
            if isinstance(item, dict):
                for key, child in reversed(list(item.items())):
                    if isinstance(key, str) and "\x00" in key:
                        found.append(Problem([*path, key], f"key: {NUL}", "value_error"))
                    stack.append((child, [*path, key], depth + 1))
            else:
                for i in range(len(item) - 1, -1, -1):
                    stack.append((item[i], [*path, i], depth + 1))
            continue
        bad = scalar_problem(item)
        if bad is not None:
            found.append(Problem(path, *bad))
    return found


def check(value: Any, prefix: Sequence[str | int] = ()) -> None:
    """Raise :class:`JsonRefused` naming the first offence's path when ``value`` breaks the rule."""
    found = problems(value, prefix)
    if found:
        first = found[0]
        where = ".".join(map(str, first.path))
        raise JsonRefused(f"{where}: {first.message}" if where else first.message, found)


#: text without any of these holds no offence (the parser refuses raw NUL and depth > MAX_DEPTH):
#: NaN / Infinity, 19 digits in a row (every number beyond 64-bit written without an exponent),
#: an exponent, an escaped NUL. Only text that matches is walked — the hot path of ingest.
_SUSPECT_NUMBER = re.compile(rb"[0-9](?:[eE]|[0-9]{18})")
_SUSPECT_TOKENS = (b"NaN", b"Infinity", b"\\u0000")


def suspect(text: str | bytes) -> bool:
    """False when JSON text cannot hold an offence (then it need not be walked)."""
    raw = text.encode() if isinstance(text, str) else text
    return any(token in raw for token in _SUSPECT_TOKENS) or _SUSPECT_NUMBER.search(raw) is not None


def loads(text: str | bytes, prefix: Sequence[str | int] = ()) -> Any:
    """Parse JSON text and apply the rule; :class:`JsonRefused` names the path of each offence."""
    try:
        value = from_json(text)
    except ValueError as exc:
        raise JsonRefused(f"malformed JSON: {exc}") from None
    if suspect(text):
        check(value, prefix)
    return value


def is_storable(value: Any) -> bool:
    """True when ``value`` keeps the rule (for code that repairs what is already stored)."""
    return not problems(value)


def repaired(value: Any) -> tuple[Any, list[Problem]]:
    """``value`` made to keep the rule, and what was changed (for stored data written before it).

    The repair rule: a non-finite number, a number outside signed 64-bit and anything nested
    deeper than :data:`MAX_DEPTH` become ``null``; NUL characters are removed from strings and keys.
    """
    changed: list[Problem] = []

    def fix(item: Any, path: Path, depth: int) -> Any:
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                changed.append(Problem(path, TOO_DEEP, "value_error"))
                return None
            if isinstance(item, dict):
                out: dict[Any, Any] = {}
                for key, child in item.items():
                    new_key = key.replace("\x00", "") if isinstance(key, str) else key
                    if new_key != key:
                        changed.append(Problem([*path, key], f"key: {NUL}", "value_error"))
                    out[new_key] = fix(child, [*path, key], depth + 1)
                return out
            return [fix(child, [*path, i], depth + 1) for i, child in enumerate(item)]
        bad = scalar_problem(item)
        if bad is None:
            return item
        changed.append(Problem(path, *bad))
        return item.replace("\x00", "") if isinstance(item, str) else None

    result = fix(value, [], 0)
    return result, changed
