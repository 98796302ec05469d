"""Settings, read once from the environment by the composition root (no global settings object)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///tidings.db"
    #: secret for signing tracking / unsubscribe tokens and sessions. Generated and stored in
    #: the database on first start when not given (see bootstrap).
    secret_key: str | None = None
    #: public base URL used in links inside messages.
    public_url: str = "http://127.0.0.1:8000"
    #: where email goes: None means the built-in catcher (`tidings serve` starts it).
    smtp_url: str | None = None
    catcher_host: str = "127.0.0.1"
    #: default From of emails (a template or journey may set its own).
    email_from: str = "Tidings <hello@tidings.localhost>"
    #: DKIM signing: domain, selector and PEM private key file (signing is off when unset).
    dkim_domain: str | None = None
    dkim_selector: str = "tidings"
    dkim_key_file: str | None = None
    #: the built-in catcher's SMTP port (`tidings serve` derives it from its HTTP port).
    catcher_port: int = 1025
    #: a controllable clock that tests move through the API (never in production).
    test_clock: bool = False
    run_worker: bool = True
    #: request limits at the edge.
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch_items: int = 2000
    #: hosts/networks webhooks may reach although internal (comma separated in env).
    webhook_allow: tuple[str, ...] = ()
    #: live ad-audience destinations, ``name=https://...`` pairs (docs/audiences.md)
    audience_destinations: tuple[tuple[str, str], ...] = ()
    #: bearer token sent to those destinations
    audience_token: str | None = None
    #: Meta's Graph API root (lead ads read the lead there) and the page access token
    meta_graph_url: str = "https://graph.facebook.com/v21.0"
    meta_access_token: str | None = None
    # --- CRM hand-off (docs/crm.md): base URLs are settings so tests and proxies can point them elsewhere
    #: HubSpot's API root and a private app's access token (Bearer); no token = HubSpot is off
    hubspot_url: str = "https://api.hubapi.com"
    hubspot_token: str | None = None
    #: Salesforce: the org's instance URL and an OAuth access token (Bearer); both or Salesforce is off
    salesforce_instance_url: str | None = None
    salesforce_token: str | None = None
    salesforce_api_version: str = "v60.0"
    #: the Lead's external id field the upsert matches on (holds the contact's email)
    salesforce_lead_external_id: str = "Email__c"
    #: a Lead needs a Company: used when the contact has no ``attributes.company``
    salesforce_default_company: str = "Unknown"
    #: the CRM's stage values -> ours, ``system:value=stage`` pairs (docs/crm.md has the defaults)
    crm_stage_map: tuple[tuple[str, str], ...] = ()
    #: signing secrets of v2 webhooks per destination host, ``host=secret`` pairs (else the webhook secret)
    webhook_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    log_level: str = "INFO"
    #: lease of a message a delivery loop claimed, renewed by its heartbeat every third (seconds).
    delivery_lease_s: float = 15.0
    #: on SIGTERM, how long in-flight sends may take to finish before the process exits (seconds).
    shutdown_grace_s: float = 10.0
    #: how often time-relative segments are re-evaluated (None: the refresher's default).
    segment_refresh_seconds: float | None = None
    #: the account's time zone: campaigns sent "at a local time" use it for contacts without one.
    default_timezone: str = "UTC"
    #: how often lead scores are brought to now (decay, demotion thresholds), in seconds.
    scoring_decay_seconds: float = 3600.0
    #: how often overdue sales tasks are checked for escalation (their team's SLA), in seconds.
    task_escalation_seconds: float = 60.0
    #: how often the worker applies the retention policy (docs/privacy.md), in seconds.
    retention_seconds: float = 3600.0
    #: how long the message ids of accepted events are remembered (``event_receipts``): a repeat
    #: within this window is never stored twice (docs/scale-out.md), in days.
    receipt_days: int = 30
    #: PostgreSQL: how many months after the current one have their events/traces partitions
    #: made ahead (the worker's daily partition maintenance, docs/scale-out.md).
    partition_months_ahead: int = 3
    # --- SMS, voice, direct mail, webhooks out, bounces (channels, see docs/channels.md)
    #: Twilio-compatible API: base URL, account SID, auth token, sender number. Unset SID =
    #: SMS and calls go to the local sinks (the web inbox).
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    #: Lob-compatible print API; unset key = letters are rendered into the batch folder only.
    lob_base_url: str = "https://api.lob.com"
    lob_api_key: str | None = None
    direct_mail_dir: str = "./direct-mail"
    #: local time ("17:00") at which the worker builds the day's print batch (unset: by hand only,
    #: `tidings direct-mail batch`), and the timezone of that time and of letters' batch days.
    direct_mail_batch_at: str | None = None
    direct_mail_timezone: str = "UTC"
    #: HMAC key for outgoing webhook signatures (derived from secret_key when unset).
    webhook_secret: str | None = None
    webhook_max_attempts: int = 6
    #: HMAC key of the generic signed bounce/complaint webhook (endpoint off when unset).
    bounce_webhook_secret: str | None = None
    #: SNS topics whose SES notifications we accept ("*" = any topic; unset = SES endpoint off).
    ses_topic_arns: tuple[str, ...] = ()
    #: DEVELOPMENT ONLY: accept inbound/status webhooks (SMS, voice) without a verified signature.
    #: Off by default; when on, a warning is logged at startup and on every unsigned call.
    insecure_unsigned_webhooks: bool = False
    soft_bounce_threshold: int = 3
    soft_bounce_days: int = 30
    bounce_rate_limit: float = 0.05
    complaint_rate_limit: float = 0.001
    rate_window_days: int = 7
    rate_min_volume: int = 500
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Secrets masked: a Settings may end up in a log line or a traceback."""
        from dataclasses import fields

        from tidings.masking import masked_value

        shown = ", ".join(f"{f.name}={masked_value(f.name, getattr(self, f.name))!r}" for f in fields(self))
        return f"Settings({shown})"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        base = cls(
            database_url=env.get("TIDINGS_DATABASE_URL") or default_sqlite_url(),
            secret_key=env.get("TIDINGS_SECRET_KEY") or None,
            public_url=env.get("TIDINGS_PUBLIC_URL", cls.public_url).rstrip("/"),
            smtp_url=env.get("TIDINGS_SMTP_URL") or None,
            email_from=env.get("TIDINGS_EMAIL_FROM", cls.email_from),
            dkim_domain=env.get("TIDINGS_DKIM_DOMAIN") or None,
            dkim_selector=env.get("TIDINGS_DKIM_SELECTOR", cls.dkim_selector),
            dkim_key_file=env.get("TIDINGS_DKIM_KEY_FILE") or None,
            # TIDINGS_CATCHER_PORT: the variable's earlier name, still read
            catcher_port=int(
                env.get("TIDINGS_CATCHER_SMTP_PORT") or env.get("TIDINGS_CATCHER_PORT") or cls.catcher_port
            ),
            test_clock=env.get("TIDINGS_TEST_CLOCK", "") in {"1", "true", "yes"},
            webhook_allow=tuple(x.strip() for x in env.get("TIDINGS_WEBHOOK_ALLOW", "").split(",") if x.strip()),
            audience_destinations=_destinations(env.get("TIDINGS_AUDIENCE_DESTINATIONS", "")),
            audience_token=env.get("TIDINGS_AUDIENCE_TOKEN") or None,
            meta_graph_url=env.get("TIDINGS_META_GRAPH_URL", cls.meta_graph_url).rstrip("/"),
            meta_access_token=env.get("TIDINGS_META_ACCESS_TOKEN") or None,
            hubspot_url=env.get("TIDINGS_HUBSPOT_URL", cls.hubspot_url).rstrip("/"),
            hubspot_token=env.get("TIDINGS_HUBSPOT_TOKEN") or None,
            salesforce_instance_url=(env.get("TIDINGS_SALESFORCE_INSTANCE_URL") or "").rstrip("/") or None,
            salesforce_token=env.get("TIDINGS_SALESFORCE_TOKEN") or None,
            salesforce_api_version=env.get("TIDINGS_SALESFORCE_API_VERSION", cls.salesforce_api_version),
            salesforce_lead_external_id=env.get(
                "TIDINGS_SALESFORCE_LEAD_EXTERNAL_ID", cls.salesforce_lead_external_id
            ),
            salesforce_default_company=env.get(
                "TIDINGS_SALESFORCE_DEFAULT_COMPANY", cls.salesforce_default_company
            ),
            crm_stage_map=_pairs(env.get("TIDINGS_CRM_STAGE_MAP", ""), "TIDINGS_CRM_STAGE_MAP", "system:value=stage"),
            webhook_secrets=_pairs(env.get("TIDINGS_WEBHOOK_SECRETS", ""), "TIDINGS_WEBHOOK_SECRETS", "host=secret"),
            log_level=env.get("TIDINGS_LOG_LEVEL", "INFO"),
            delivery_lease_s=_seconds(env, "TIDINGS_DELIVERY_LEASE", cls.delivery_lease_s, minimum=1.0),
            shutdown_grace_s=_seconds(env, "TIDINGS_SHUTDOWN_GRACE", cls.shutdown_grace_s, minimum=0.0),
            scoring_decay_seconds=_seconds(
                env, "TIDINGS_SCORING_DECAY_SECONDS", cls.scoring_decay_seconds, minimum=1.0
            ),
            task_escalation_seconds=_seconds(
                env, "TIDINGS_TASK_ESCALATION_SECONDS", cls.task_escalation_seconds, minimum=1.0
            ),
            retention_seconds=_seconds(env, "TIDINGS_RETENTION_SECONDS", cls.retention_seconds, minimum=1.0),
            receipt_days=_whole(env, "TIDINGS_RECEIPT_DAYS", cls.receipt_days, minimum=1),
            partition_months_ahead=_whole(env, "TIDINGS_PARTITION_MONTHS_AHEAD", cls.partition_months_ahead, minimum=0),
            segment_refresh_seconds=float(env["TIDINGS_SEGMENT_REFRESH_SECONDS"])
            if env.get("TIDINGS_SEGMENT_REFRESH_SECONDS")
            else None,
            default_timezone=_zone(env.get("TIDINGS_DEFAULT_TIMEZONE") or cls.default_timezone),
            twilio_base_url=env.get("TIDINGS_TWILIO_BASE_URL", cls.twilio_base_url).rstrip("/"),
            twilio_account_sid=env.get("TIDINGS_TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TIDINGS_TWILIO_AUTH_TOKEN") or None,
            twilio_from=env.get("TIDINGS_TWILIO_FROM") or None,
            lob_base_url=env.get("TIDINGS_LOB_BASE_URL", cls.lob_base_url).rstrip("/"),
            lob_api_key=env.get("TIDINGS_LOB_API_KEY") or None,
            direct_mail_dir=env.get("TIDINGS_DIRECT_MAIL_DIR", cls.direct_mail_dir),
            direct_mail_batch_at=env.get("TIDINGS_DIRECT_MAIL_BATCH_AT") or None,
            direct_mail_timezone=env.get("TIDINGS_DIRECT_MAIL_TIMEZONE", cls.direct_mail_timezone),
            webhook_secret=env.get("TIDINGS_WEBHOOK_SECRET") or None,
            webhook_max_attempts=int(env.get("TIDINGS_WEBHOOK_MAX_ATTEMPTS", cls.webhook_max_attempts)),
            bounce_webhook_secret=env.get("TIDINGS_BOUNCE_WEBHOOK_SECRET") or None,
            ses_topic_arns=tuple(x.strip() for x in env.get("TIDINGS_SES_TOPIC_ARNS", "").split(",") if x.strip()),
            insecure_unsigned_webhooks=env.get("TIDINGS_INSECURE_UNSIGNED_WEBHOOKS", "") in {"1", "true", "yes"},
            soft_bounce_threshold=int(env.get("TIDINGS_SOFT_BOUNCE_THRESHOLD", cls.soft_bounce_threshold)),
            soft_bounce_days=int(env.get("TIDINGS_SOFT_BOUNCE_DAYS", cls.soft_bounce_days)),
            bounce_rate_limit=float(env.get("TIDINGS_BOUNCE_RATE_LIMIT", cls.bounce_rate_limit)),
            complaint_rate_limit=float(env.get("TIDINGS_COMPLAINT_RATE_LIMIT", cls.complaint_rate_limit)),
            rate_window_days=int(env.get("TIDINGS_RATE_WINDOW_DAYS", cls.rate_window_days)),
            rate_min_volume=int(env.get("TIDINGS_RATE_MIN_VOLUME", cls.rate_min_volume)),
        )
        return replace(base, **overrides)  # type: ignore[arg-type]


def _whole(env: dict[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: a whole number, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name}: at least {minimum}, not {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: a number of seconds, not {raw!r}") from None
    if not minimum <= value <= 3600:
        raise ValueError(f"{name}: between {minimum:g} and 3600 seconds, not {raw}")
    return value


def default_sqlite_url() -> str:
    return f"sqlite:///{Path.cwd() / 'tidings.db'}"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def catcher_port_is_set(env: dict[str, str] | None = None) -> bool:
    """Whether the environment names the built-in catcher's SMTP port (either spelling)."""
    env = dict(os.environ if env is None else env)
    return bool(env.get("TIDINGS_CATCHER_SMTP_PORT") or env.get("TIDINGS_CATCHER_PORT"))


def _zone(name: str) -> str:
    """A time zone name that exists (fail loudly at start-up, not at the first campaign)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIDINGS_DEFAULT_TIMEZONE: unknown time zone {name!r} (e.g. Europe/Berlin)") from None
    return name


def _pairs(raw: str, name: str, shape: str) -> tuple[tuple[str, str], ...]:
    """``a=b,c=d`` -> (("a", "b"), ("c", "d")); fails loudly (naming the variable, never a value)."""
    out = []
    for i, part in enumerate(raw.split(",")):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"{name}: item {i + 1} is not {shape}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def _destinations(raw: str) -> tuple[tuple[str, str], ...]:
    """``meta=https://relay.example/meta,google=https://...`` -> ((name, url), ...); fails loudly."""
    out = []
    for part in raw.split(","):
        if not part.strip():
            continue
        name, eq, url = part.partition("=")
        if not eq or not name.strip() or "://" not in url:
            raise ValueError(f"TIDINGS_AUDIENCE_DESTINATIONS: {part.strip()!r} is not name=https://...")
        out.append((name.strip(), url.strip()))
    return tuple(out)
