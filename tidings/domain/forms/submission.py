"""A submission checked against its form: values -> contact changes, the consent boxes ticked, spam.

``check_submission`` is the one validation of ``POST /f/{key}`` (form-encoded or JSON): required
fields, emails and phones normalised by ``domain/contacts.py``, select values among the options,
UTM parameters and the referrer kept as contact attributes. The hidden honeypot field filled means
a bot: the result says ``spam`` and the caller answers as if it worked, storing nothing. A consent
box left unticked records no consent; a box marked ``required`` must be ticked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tidings.domain.contacts import InvalidValue, normalise_email, normalise_phone
from tidings.domain.forms.model import HONEYPOT, MAX_TEXT, ConsentBox, FormDefinition
from tidings.domain.names import control_problem

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
#: what a box's value must be to count as ticked (HTML sends "on"; JSON true).
TICKED = ("on", "true", "1", "yes")
MAX_URL = 2000


class SubmissionInvalid(ValueError):
    """A submission that cannot be accepted; ``errors`` is [(field name, message)]."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class CheckedSubmission:
    #: the contact change: standard fields and ``attributes`` (UTM, referrer, mapped attributes)
    contact: dict[str, Any] = field(default_factory=dict)
    #: the boxes ticked, in the form's order (their exact text is the proof)
    consents: tuple[ConsentBox, ...] = ()
    #: the honeypot was filled: store nothing, answer as if accepted
    spam: bool = False
    page_url: str = ""
    referrer: str = ""

    @property
    def email(self) -> str:
        return str(self.contact["email"])


def _one(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _ticked(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in TICKED


def _clean_url(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = value.strip()[:MAX_URL]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or control_problem(text):
        return ""
    return text


def check_submission(
    form: FormDefinition, values: Mapping[str, Any], *, page_url: str = "", referrer: str = "",
    default_region: str | None = None,
) -> CheckedSubmission:
    """The checked submission, or :class:`SubmissionInvalid` naming each bad field."""
    trap = _one(values, HONEYPOT)
    if trap not in (None, "", False):
        return CheckedSubmission(spam=True)
    errors: list[tuple[str, str]] = []
    contact: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for f in form.fields:
        raw = _one(values, f.name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if f.required:
                errors.append((f.name, f"{f.label} is required"))
            continue
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            errors.append((f.name, "must be text"))
            continue
        text = str(raw).strip()
        if len(text) > MAX_TEXT:
            errors.append((f.name, f"is longer than {MAX_TEXT} characters"))
            continue
        problem = control_problem(text.replace("\n", " ") if f.type == "textarea" else text)
        if problem:
            errors.append((f.name, problem))
            continue
        try:
            if f.maps_to == "email" or f.type == "email":
                text = normalise_email(text)
            elif f.maps_to == "phone" or f.type == "phone":
                text = normalise_phone(text, default_region)
        except InvalidValue as exc:
            errors.append((f.name, exc.message))
            continue
        if f.type == "select" and text not in f.options:
            errors.append((f.name, f"must be one of {', '.join(f.options)}"))
            continue
        if f.maps_to.startswith("attributes."):
            attributes[f.maps_to.removeprefix("attributes.")] = text
        else:
            contact[f.maps_to] = text
    ticked = tuple(c for c in form.consents if _ticked(_one(values, f"consent_{c.channel}")))
    for c in form.consents:
        if c.required and c not in ticked:
            errors.append((f"consent_{c.channel}", "this box must be ticked to subscribe"))
    if errors:
        raise SubmissionInvalid(errors)
    page = _clean_url(_one(values, "page_url")) or _clean_url(page_url)
    ref = _clean_url(_one(values, "referrer")) or _clean_url(referrer)
    query = parse_qs(urlsplit(page).query) if page else {}
    for key in UTM_KEYS:
        got = _one(values, key)
        if not isinstance(got, str) or not got.strip():
            got = (query.get(key) or [""])[-1]
        got = got.strip()[:200]
        if got and not control_problem(got):
            attributes[key] = got
    if ref:
        attributes["referrer"] = ref
    if attributes:
        contact["attributes"] = attributes
    return CheckedSubmission(contact=contact, consents=ticked, spam=False, page_url=page, referrer=ref)


def redirect_for(form: FormDefinition) -> str | None:
    """Where the browser goes after a submission: only the form's configured, allowed URL."""
    if form.redirect_url and form.redirect_url in form.allowed_redirects:
        return form.redirect_url
    return None
