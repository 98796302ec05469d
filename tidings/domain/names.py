"""Names hold no control characters.

An event name, a contact's first or last name, a tag, a segment, journey, template or team name,
a task title: a name is shown in lists, logs, CSV exports and e-mail headers, and matched by
rules. NUL (which PostgreSQL cannot store) and the other C0/C1 control characters (tab and
newline included), DEL and the Unicode line/paragraph separators are refused wherever a name
enters. Pure: no I/O.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_problem(text: str) -> str | None:
    """The message for the first control character in ``text``, or None."""
    m = _CONTROL.search(text)
    if m is None:
        return None
    return f"control character U+{ord(m.group()):04X} at position {m.start()} is not allowed in a name"


def check_name(text: str) -> str:
    """``text`` unchanged, or ValueError naming the control character it holds."""
    problem = control_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text
