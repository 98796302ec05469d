"""Masking secrets for display: URLs with passwords, secret settings (CLI, logs, web, reprs).

``masked_url("postgresql://app:s3cret@db/tidings")`` is ``postgresql://app:***@db/tidings``;
query parameters that carry secrets (``password``, ``token``, ``secret``, ``key``...) are masked
too. ``redact(text, url)`` removes the URL's password from any text (an error message quoting it).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
#: query parameter names whose values are secrets.
SECRET_PARAMS = ("password", "passwd", "pass", "secret", "token", "key", "apikey", "api_key", "auth")


def _secret_param(name: str) -> bool:
    lowered = name.lower()
    return any(lowered == p or lowered.endswith(("_" + p, "-" + p)) for p in SECRET_PARAMS)


def masked_url(url: str | None) -> str:
    """The URL with its password (and secret query parameters) replaced by ``***``."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK  # not parseable: show nothing rather than risk the secret
    netloc, query = parts.netloc, parts.query
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_param(k) else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact(text: str, url: str | None) -> str:
    """``text`` with the URL masked and its password (raw or decoded) removed wherever it appears."""
    if not url:
        return text
    out = text.replace(url, masked_url(url))
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password or "")}:
        if secret:
            out = out.replace(secret, MASK)
    return out


def masked_value(name: str, value: object) -> object:
    """How a setting is shown: URLs masked, secret fields (``*_key``, ``*token``, ``*secret``) hidden."""
    if isinstance(value, str) and value:
        lowered = name.lower()
        if any(w in lowered for w in ("secret", "token", "password", "api_key")) or lowered.endswith("_key"):
            return MASK
        if "://" in value:
            return masked_url(value)
    if isinstance(value, tuple) and value and any(w in name.lower() for w in ("secret", "token", "password")):
        # ``host=secret`` pairs (TIDINGS_WEBHOOK_SECRETS): the keys may show, the values never
        return tuple((str(k), MASK) if isinstance(k, str) else MASK for k, *_ in value)
    return value
