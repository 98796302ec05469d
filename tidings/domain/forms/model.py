"""A form definition: fields mapped to contact fields, consent boxes per channel, double opt-in.

``parse_form(doc)`` validates a JSON document (the API body, the CLI's file) and returns a frozen
:class:`FormDefinition`, or raises :class:`FormInvalid` with every problem and its field path
(``fields[2].maps_to``). Redirects after a submission go only to URLs listed in the form's own
``allowed_redirects``: the submitter cannot name one (no open redirect).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tidings.domain.channels import CONSENT_CHANNELS
from tidings.domain.names import control_problem

FIELD_TYPES = ("text", "email", "phone", "textarea", "select", "hidden")
#: contact fields a form may fill (the rest of PROFILE_FIELDS are the system's to set).
MAPPABLE_FIELDS = ("email", "phone", "first_name", "last_name", "timezone", "locale", "external_id")
RESERVED_KEYS = frozenset({"confirm"})
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: the field a human never sees; a bot fills it (see ``submission.py``).
HONEYPOT = "website_url"
MAX_FIELDS = 30
MAX_TEXT = 2000


class FormInvalid(ValueError):
    """A form document that cannot be saved; ``errors`` is [(field path, message)]."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    type: str = "text"
    required: bool = False
    #: a contact field (``email``) or ``attributes.<name>``
    maps_to: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentBox:
    channel: str
    #: the exact sentence shown beside the box; stored word for word as proof
    text: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class FormDefinition:
    key: str
    name: str
    fields: tuple[FormField, ...]
    consents: tuple[ConsentBox, ...] = ()
    double_opt_in: bool = True
    #: a template key for the confirmation email; empty: the built-in text
    confirmation_template: str = ""
    #: a template key whose HTML is shown above the hosted form (a simple landing page); empty: none
    landing_template: str = ""
    thank_you: str = "Thank you."
    redirect_url: str = ""
    allowed_redirects: tuple[str, ...] = ()
    #: origins allowed to embed the form (CORS on POST /f/{key} and embed.js)
    allowed_origins: tuple[str, ...] = ()
    remind_after_hours: int = 24
    expire_after_days: int = 7
    #: the language of the page's own words; empty: the visitor's browser language
    locale: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def as_doc(self) -> dict[str, Any]:
        """The JSON document ``parse_form`` reads back into an equal definition."""
        return {
            "key": self.key,
            "name": self.name,
            "fields": [
                {"name": f.name, "label": f.label, "type": f.type, "required": f.required,
                 "maps_to": f.maps_to, **({"options": list(f.options)} if f.options else {})}
                for f in self.fields
            ],
            "consents": [{"channel": c.channel, "text": c.text, "required": c.required} for c in self.consents],
            "double_opt_in": self.double_opt_in,
            "confirmation_template": self.confirmation_template,
            "landing_template": self.landing_template,
            "thank_you": self.thank_you,
            "redirect_url": self.redirect_url,
            "allowed_redirects": list(self.allowed_redirects),
            "allowed_origins": list(self.allowed_origins),
            "remind_after_hours": self.remind_after_hours,
            "expire_after_days": self.expire_after_days,
            "locale": self.locale,
        }


_KNOWN = {"key", "name", "fields", "consents", "double_opt_in", "confirmation_template", "landing_template",
          "thank_you", "redirect_url", "allowed_redirects", "allowed_origins", "remind_after_hours",
          "expire_after_days", "locale"}


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _text(doc: Mapping[str, Any], key: str, path: str, errs: _Errors, *, required: bool = False,
          default: str = "", limit: int = MAX_TEXT) -> str:
    value = doc.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        errs.add(path, "must be a string")
        return default
    value = value.strip()
    if required and not value:
        errs.add(path, "is required")
    elif len(value) > limit:
        errs.add(path, f"is longer than {limit} characters")
    else:
        problem = control_problem(value.replace("\n", " "))
        if problem:
            errs.add(path, problem)
    return str(value)


def _int(doc: Mapping[str, Any], key: str, default: int, low: int, high: int, errs: _Errors) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errs.add(key, f"must be a whole number from {low} to {high}")
        return default
    return value


def _bool(doc: Mapping[str, Any], key: str, default: bool, path: str, errs: _Errors) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        errs.add(path, "must be true or false")
        return default
    return value


def _url(value: str, path: str, errs: _Errors, *, origin_only: bool = False) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errs.add(path, "must be an absolute http(s) URL")
    elif parts.username or parts.password:
        errs.add(path, "must not carry a user name or password")
    elif origin_only and (parts.path not in ("", "/") or parts.query or parts.fragment):
        errs.add(path, "must be an origin (scheme://host[:port]), without a path")
    return f"{parts.scheme}://{parts.netloc}".lower() if origin_only else value


def _strings(doc: Mapping[str, Any], key: str, errs: _Errors) -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errs.add(key, "must be a list of strings")
        return []
    return [v.strip() for v in value]


def _parse_field(raw: Any, path: str, errs: _Errors) -> FormField | None:
    if not isinstance(raw, Mapping):
        errs.add(path, "must be an object")
        return None
    for extra in sorted(set(raw) - {"name", "label", "type", "required", "maps_to", "options"}):
        errs.add(f"{path}.{extra}", "unknown key")
    name = _text(raw, "name", f"{path}.name", errs, required=True, limit=64)
    if name and not NAME.match(name):
        errs.add(f"{path}.name", "use letters, digits and _ (starting with a letter)")
    if name == HONEYPOT:
        errs.add(f"{path}.name", f"{HONEYPOT!r} is the form's hidden spam trap")
    label = _text(raw, "label", f"{path}.label", errs, default=name, limit=200)
    kind = raw.get("type", "text")
    if kind not in FIELD_TYPES:
        errs.add(f"{path}.type", f"must be one of {', '.join(FIELD_TYPES)}")
    maps_to = _text(raw, "maps_to", f"{path}.maps_to", errs, default=f"attributes.{name}", limit=100)
    if maps_to.startswith("attributes."):
        if not NAME.match(maps_to.removeprefix("attributes.")):
            errs.add(f"{path}.maps_to", "attributes.<name>: letters, digits and _")
    elif maps_to not in MAPPABLE_FIELDS:
        errs.add(f"{path}.maps_to", f"must be attributes.<name> or one of {', '.join(MAPPABLE_FIELDS)}")
    options: tuple[str, ...] = ()
    if kind == "select":
        got = raw.get("options")
        if not isinstance(got, list) or not got or not all(isinstance(o, str) and o.strip() for o in got):
            errs.add(f"{path}.options", "a select needs a list of non-empty options")
        else:
            options = tuple(o.strip() for o in got)
    elif "options" in raw:
        errs.add(f"{path}.options", "only a select has options")
    required = _bool(raw, "required", False, f"{path}.required", errs)
    return FormField(name, label or name, str(kind), required, maps_to, options)


def _parse_consent(raw: Any, path: str, errs: _Errors) -> ConsentBox | None:
    if not isinstance(raw, Mapping):
        errs.add(path, "must be an object")
        return None
    channel = raw.get("channel")
    if channel not in CONSENT_CHANNELS:
        errs.add(f"{path}.channel", f"must be one of {', '.join(CONSENT_CHANNELS)}")
    text = _text(raw, "text", f"{path}.text", errs, required=True)
    required = _bool(raw, "required", False, f"{path}.required", errs)
    return ConsentBox(str(channel), text, required)


def parse_form(doc: Any) -> FormDefinition:
    """A validated definition, or :class:`FormInvalid` listing every problem with its path."""
    errs = _Errors()
    if not isinstance(doc, Mapping):
        raise FormInvalid([("", "a form is a JSON object")])
    for extra in sorted(set(doc) - _KNOWN):
        errs.add(extra, "unknown key")
    key = _text(doc, "key", "key", errs, required=True, limit=64)
    if key and not KEY.match(key):
        errs.add("key", "use lower-case letters, digits, - and _ (at most 64)")
    elif key in RESERVED_KEYS:
        errs.add("key", f"{key!r} is reserved (/f/{key}/ is the confirmation link's path)")
    name = _text(doc, "name", "name", errs, default=key, limit=200)
    raw_fields = doc.get("fields")
    fields: list[FormField] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        errs.add("fields", "a form needs at least one field")
    elif len(raw_fields) > MAX_FIELDS:
        errs.add("fields", f"at most {MAX_FIELDS} fields")
    else:
        fields = [f for i, r in enumerate(raw_fields) if (f := _parse_field(r, f"fields[{i}]", errs))]
    seen: dict[str, int] = {}
    for i, f in enumerate(fields):
        if f.name in seen:
            errs.add(f"fields[{i}].name", f"{f.name!r} is also field {seen[f.name]}")
        seen.setdefault(f.name, i)
    targets = [f.maps_to for f in fields]
    for i, t in enumerate(targets):
        if targets.index(t) != i:
            errs.add(f"fields[{i}].maps_to", f"{t} is filled by another field")
    if fields and not any(f.maps_to == "email" and f.required for f in fields):
        errs.add("fields", "a form needs a required field mapped to email (the confirmation goes there)")
    raw_consents = doc.get("consents", [])
    consents: list[ConsentBox] = []
    if not isinstance(raw_consents, list):
        errs.add("consents", "must be a list")
    else:
        consents = [c for i, r in enumerate(raw_consents) if (c := _parse_consent(r, f"consents[{i}]", errs))]
    channels = [c.channel for c in consents]
    for i, ch in enumerate(channels):
        if channels.index(ch) != i:
            errs.add(f"consents[{i}].channel", f"one box per channel ({ch} is already asked)")
    allowed = [_url(u, f"allowed_redirects[{i}]", errs) for i, u in enumerate(_strings(doc, "allowed_redirects", errs))]
    origins = [
        _url(u, f"allowed_origins[{i}]", errs, origin_only=True)
        for i, u in enumerate(_strings(doc, "allowed_origins", errs))
    ]
    redirect = _text(doc, "redirect_url", "redirect_url", errs)
    if redirect and redirect not in allowed:
        errs.add("redirect_url", "must be one of allowed_redirects (no open redirect)")
    locale = _text(doc, "locale", "locale", errs, limit=20)
    definition = FormDefinition(
        key=key,
        name=name or key,
        fields=tuple(fields),
        consents=tuple(consents),
        double_opt_in=_bool(doc, "double_opt_in", True, "double_opt_in", errs),
        confirmation_template=_text(doc, "confirmation_template", "confirmation_template", errs, limit=200),
        landing_template=_text(doc, "landing_template", "landing_template", errs, limit=200),
        thank_you=_text(doc, "thank_you", "thank_you", errs, default="Thank you.") or "Thank you.",
        redirect_url=redirect,
        allowed_redirects=tuple(allowed),
        allowed_origins=tuple(origins),
        remind_after_hours=_int(doc, "remind_after_hours", 24, 1, 24 * 30, errs),
        expire_after_days=_int(doc, "expire_after_days", 7, 1, 90, errs),
        locale=locale,
    )
    if definition.remind_after_hours >= definition.expire_after_days * 24:
        errs.add("remind_after_hours", "the reminder must come before the link expires")
    if errs.items:
        raise FormInvalid(errs.items)
    return definition
