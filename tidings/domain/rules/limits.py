"""How big a rule may be: checked before anything recurses over it (parser, evaluator, SQL).

A rule of 20,000 ``and``s or 3,000 nested parentheses is refused with a :class:`RuleError`
naming the limit, never a ``RecursionError``. The limits are far above any real segment.
"""

from __future__ import annotations

import re

from tidings.domain.rules.ast import All, AnyOf, Not, Rule, RuleError

#: the longest rule text, in characters
MAX_TEXT_LENGTH = 20_000
#: the most conditions in one rule (and the most ``and`` / ``or`` / ``not`` in its text)
MAX_CONDITIONS = 500
#: the deepest nesting of groups: parentheses, ``not``, ``all`` / ``any``
MAX_DEPTH = 32

_TOKENS = re.compile(r""""(?:\\.|[^"\\])*"|'[^'\\]*'|(\()|(\))|\b(and|or|not)\b""")


def check_text(source: str) -> None:
    """Refuse text too long, with too many operators or too deep parentheses, before parsing."""
    if len(source) > MAX_TEXT_LENGTH:
        raise RuleError(f"rule too long: at most {MAX_TEXT_LENGTH} characters, got {len(source)}", [], None)
    depth = operators = 0
    for m in _TOKENS.finditer(source):
        if m.group(1):
            depth += 1
            if depth > MAX_DEPTH:
                raise RuleError(f"rule nested too deeply: at most {MAX_DEPTH} levels of parentheses", [],
                                m.start() + 1)
        elif m.group(2):
            depth -= 1
        elif m.group(3):
            operators += 1
            if operators >= MAX_CONDITIONS:
                raise RuleError(f"rule too large: at most {MAX_CONDITIONS} conditions", [], m.start() + 1)


def check_rule(rule: Rule) -> None:
    """Refuse a parsed rule deeper than :data:`MAX_DEPTH` or with more than :data:`MAX_CONDITIONS` conditions."""
    count = 0
    todo: list[tuple[Rule, int]] = [(rule, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise RuleError(f"rule nested too deeply: at most {MAX_DEPTH} levels", [], None)
        if isinstance(node, All | AnyOf):
            todo.extend((item, depth + 1) for item in node.items)
        elif isinstance(node, Not):
            todo.append((node.item, depth + 1))
        else:
            count += 1
            if count > MAX_CONDITIONS:
                raise RuleError(f"rule too large: at most {MAX_CONDITIONS} conditions", [], None)
