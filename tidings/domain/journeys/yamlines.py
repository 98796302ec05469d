"""A YAML loader that keeps line numbers and reads the document the way a person means it.

Mappings load as :class:`LineDict` (a dict that knows the line it and each key started on), so
validation can say "line 14, step 'wait-2'". The loader follows YAML 1.2 for scalars: only
``true``/``false`` are booleans (``yes``, ``no``, ``on`` stay strings), ``09:00`` stays a
string (not the sexagesimal integer 540), ``010`` is ten, and dates stay ISO strings. JSON
documents load through it too.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class LineDict(dict):  # type: ignore[type-arg]
    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class LineList(list):  # type: ignore[type-arg]
    line: int | None = None


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT, _TIMESTAMP)]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789.")
)


def _int(loader: _Loader, node: yaml.Node) -> int:
    return int(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


def _map(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be plain values", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(_INT, _int)
_Loader.add_constructor(_MAP, _map)
_Loader.add_constructor(_SEQ, _seq)


def load(text: str) -> Any:
    """Parse YAML or JSON text; raises ``yaml.YAMLError`` (with ``problem_mark``) on bad syntax."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def line_of(obj: Any, key: Any = None) -> int | None:
    """The line of a mapping's key, or of the mapping/list itself."""
    if key is not None and isinstance(obj, LineDict) and key in obj.key_lines:
        return obj.key_lines[key]
    return getattr(obj, "line", None)


def plain(obj: Any) -> Any:
    """Strip line information: plain dicts and lists (what the store keeps as JSON)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


class _Dumper(yaml.SafeDumper):
    """Writes what :func:`load` reads back equal: a string the loader would take for a number or
    a boolean (``09``, ``1.``, ``TRUE``) is quoted, as are the YAML 1.1 forms SafeDumper knows."""


for _tag, _rx, _first in (
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    (_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")),
    (_FLOAT, re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"), list("-+0123456789.")),
):
    _Dumper.add_implicit_resolver(_tag, _rx, _first)


def _str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    # line breaks YAML folds (NEL, LS, PS) and a BOM survive only escaped, in double quotes
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029\ufeff") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: _Dumper, value: list[Any]) -> yaml.SequenceNode:
    # a short list of plain values on one line: `add_tags: [welcomed]`, `exit-1: [490, 270]`
    short = all(v is None or isinstance(v, str | int | float) for v in value) and len(repr(value)) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=short or None)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)


def dump(data: Any) -> str:
    """YAML text of plain data, keys in their given order, that :func:`load` reads back equal."""
    return yaml.dump(
        plain(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
