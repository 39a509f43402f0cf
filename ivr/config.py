"""Service settings: every knob the line has, read from the environment, with safe defaults.

This is the one documented place for settings (the README's configuration table mirrors it).
Secrets come only from the environment. In production, missing or weak secrets stop start-up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

from ivr import phone

ROOT = Path(__file__).resolve().parent.parent

# Values a developer might leave in place by accident; production refuses them.
_WEAK_SECRETS = {"", "dev", "development", "secret", "changeme", "change-me", "test"}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    # Where things live.
    env: str = "development"  # development | test | production
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_socket_timeout: float = 0.5  # seconds; a caller must never wait on a hung Redis
    secret_key: str = ""
    twilio_auth_token: str = ""
    twilio_account_sid: str = ""
    # The public base URL Twilio uses (e.g. https://ipt.example.nhs.uk). Behind a proxy or TLS
    # terminator the app sees a different URL, and signatures are computed on Twilio's one.
    public_base_url: str = ""
    flow_file: str = str(ROOT / "call_flows" / "ipt_line.yaml")

    # The service, as the caller hears it.
    service_name: str = "Interpersonal Psychotherapy service"
    service_number: str = "+442032281350"  # the leaflet's referral number
    voice: str = "Polly.Amy"  # an en-GB voice
    language: str = "en-GB"
    timezone: str = "Europe/London"
    # Opening hours of the intake team on the opening days (below), local time; closed on UK bank
    # holidays.
    opening_time: str = "09:00"
    closing_time: str = "17:00"
    holiday_country: str = "GB"
    holiday_subdivision: str = "ENG"
    # Where a caller who says they are at risk can be put through to. Set this to the local
    # 24/7 crisis line; the default is Samaritans' free number, 116 123. Kept in E.164 (what
    # Twilio's <Dial> needs); a UK number as dialled in the UK is converted when settings load.
    crisis_dial_number: str = "+44116123"
    crisis_dial_name: str = "Samaritans"  # spoken: "To be put through to Samaritans now, ..."

    # Housekeeping.
    call_state_ttl: int = 4 * 3600  # seconds a call's working state lives in Redis
    retention_days: int = 90  # personal data and raw call events are purged after this
    api_page_size: int = 50
    # Reports (issue 4); they also use callback_target_working_days (below). A call with no
    # final status from Twilio after this many seconds is closed by the sweep (`ivr purge`),
    # its outcome taken from where it was.
    unclosed_call_timeout: int = 4 * 3600 + 600

    # Faults, privacy and security (issue 5; see docs/operations.md and docs/security.md).
    # Callback requests confirmed while Redis is down are appended (fsync'd) here, one file per
    # process, and delivered into Redis by a background thread once it is back.
    journal_dir: str = str(ROOT / "journal")
    journal_delivery_interval: float = 1.0  # seconds between delivery attempts while waiting
    # Fernet keys for personal data at rest (comma-separated; the first encrypts, all decrypt, so
    # a new key goes first and old ones stay until `ivr keys rotate` has run). Required in
    # production; in development and test a key is derived from SECRET_KEY.
    data_keys: str = ""
    # How many proxies we run in front (TLS terminator, load balancer): X-Forwarded-For/Proto/Host
    # are trusted that many hops back (werkzeug's ProxyFix), for the client's address (sign-in
    # throttling) and, without public_base_url, the URL. 0: trust no forwarded header.
    trust_proxy: int = 0
    # A robot dialler must not flood the queue: calls per minute and callback requests per day
    # from one caller ID (withheld numbers are not counted together).
    calls_per_minute: int = 5
    callbacks_per_day: int = 3
    # Words Twilio heard with a Confidence below this are not acted on: the caller is asked again.
    speech_min_confidence: float = 0.4

    # Staff sign-in (ivr/staff/auth.py).
    session_idle_minutes: int = 30  # a signed-in session ends after this long without a request
    login_max_failures: int = 5  # failed sign-ins for one username before a pause
    # ... and from one address. Higher, because a whole team behind one NHS proxy shares it.
    login_max_failures_per_address: int = 20
    login_lock_seconds: int = 30  # the first pause; it doubles with every further failure
    login_lock_max_seconds: int = 900  # ... up to this

    # The intake team's callback work (intake/queue.py, intake/outcomes.py, intake/call_connect.py).
    callback_target_working_days: int = 2  # a request not closed by then shows as overdue
    claim_lease_minutes: int = 20  # a claim nobody finishes returns to the queue after this
    max_callback_attempts: int = 3  # unanswered attempts before a request closes "unreachable"
    queue_poll_seconds: int = 15  # how often the open queue page checks for new requests
    # Twilio's REST API, for "call me and connect", texts and `ivr number` (tests point it at
    # ivr/twilio_sim/rest_api.py, a local fake).
    twilio_api_base: str = "https://api.twilio.com"
    # Where the number's fallback TwiML is hosted, outside this app (`ivr flows fallback-twiml`
    # writes it; `ivr number configure` sets it as the number's fallback URL).
    fallback_url: str = ""

    # Urgent requests (a caller who disclosed risk): their own, shorter track. The line's spoken
    # promise and intake's target both come from urgent_target_hours (working hours).
    urgent_target_hours: int = 4
    urgent_retry_minutes: int = 60  # working minutes before an unanswered urgent one is retried
    # Days the intake team works (callbacks, targets, "when we open"): e.g. Mon-Fri, Mon-Sat.
    opening_days: str = "Mon-Fri"
    # Duty contacts told of urgent requests: E.164 numbers (texts) and addresses (email),
    # comma-separated; email goes through IVR_SMTP_URL (smtp://user:pass@host:port).
    urgent_alert_sms: str = ""
    urgent_alert_email: str = ""
    smtp_url: str = ""
    urgent_alert_from: str = "ipt-referral-line@localhost"  # the alert emails' From address

    # Twilio's HMAC-SHA256 webhook signing: comma-separated <key id>=<secret> pairs.
    twilio_webhook_shared_keys: str = ""
    # Redis Sentinel (host:port,host:port) and the monitored service's name; when set they are
    # used instead of REDIS_URL's host for every Redis client.
    redis_sentinels: str = ""
    redis_sentinel_service: str = "mymaster"
    # A step that books a callback waits (Redis WAIT) until this many replicas have it, at most
    # redis_wait_ms; if they do not, the request is journalled too (ivr/outage/). -1: one
    # replica when Sentinel is configured, none otherwise.
    redis_wait_replicas: int = -1
    redis_wait_ms: int = 200

    @property
    def wait_replicas(self) -> int:
        if self.redis_wait_replicas >= 0:
            return self.redis_wait_replicas
        return 1 if self.redis_sentinels.strip() else 0

    # The browser softphone at /try (ivr/softphone): test calls at once, and idle minutes
    # before one is dropped (each holds a little state in Redis).
    try_max_calls: int = 5
    try_idle_minutes: int = 10

    @property
    def is_production(self) -> bool:
        return self.env == "production"


_PLAIN_ENV = {
    "redis_url": "REDIS_URL",
    "secret_key": "SECRET_KEY",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_webhook_shared_keys": "TWILIO_WEBHOOK_SHARED_KEYS",
}


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def opening_weekdays(text: str) -> frozenset[int]:
    """IVR_OPENING_DAYS as weekday numbers (Monday 0): "Mon-Fri", "Mon-Sat", "Mon,Tue,Thu",
    "Sat-Sun" or a mix ("Mon-Wed,Fri"). Raises ConfigError with what was wrong."""
    days: set[int] = set()
    for part in (text or "").split(","):
        ends = [d.strip().lower()[:3] for d in part.split("-")]
        if len(ends) > 2 or not all(d in _DAY_NAMES for d in ends) or not all(ends):
            raise ConfigError(
                f"IVR_OPENING_DAYS={text!r} is not a list of days: write e.g. Mon-Fri, Mon-Sat"
                " or Mon,Tue,Thu (day names Mon Tue Wed Thu Fri Sat Sun)"
            )
        first, last = _DAY_NAMES.index(ends[0]), _DAY_NAMES.index(ends[-1])
        if last < first:
            raise ConfigError(
                f"IVR_OPENING_DAYS={text!r}: a range runs forwards from Monday, e.g. Mon-Fri"
            )
        days.update(range(first, last + 1))
    return frozenset(days)


def env_name(name: str) -> str:
    """The environment variable that sets a given setting."""
    return _PLAIN_ENV.get(name, "IVR_" + name.upper())


def load_settings(environ: dict | None = None, **overrides) -> Settings:
    """Build settings from the environment (or a given mapping) plus explicit overrides."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None:
            continue
        kind = type(f.default)
        try:
            values[f.name] = kind(raw) if kind in (int, float) else raw
        except ValueError as exc:
            raise ConfigError(f"{env_name(f.name)}={raw!r} is not a valid {kind.__name__}") from exc
    values.update(overrides)
    if "crisis_dial_number" in values:
        try:
            values["crisis_dial_number"] = phone.dial_number(values["crisis_dial_number"])
        except ValueError as exc:
            raise ConfigError(
                f"IVR_CRISIS_DIAL_NUMBER={values['crisis_dial_number']!r} is not a number Twilio"
                " can dial: give it in E.164, e.g. +44116123"
            ) from exc
    settings = Settings(**values)
    check_settings(settings)
    return settings


def check_urgent_settings(settings: Settings) -> None:
    """The urgent track's settings: a mistake here would silently leave risk unflagged."""
    if settings.urgent_target_hours < 1 or settings.urgent_retry_minutes < 1:
        raise ConfigError("IVR_URGENT_TARGET_HOURS and IVR_URGENT_RETRY_MINUTES must be 1 or more")
    for number in filter(None, (n.strip() for n in settings.urgent_alert_sms.split(","))):
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
            raise ConfigError(
                f"IVR_URGENT_ALERT_SMS: {phone.mask(number)!r} is not an E.164 number"
                " (like +447700900123); separate numbers with commas"
            )
    for address in filter(None, (a.strip() for a in settings.urgent_alert_email.split(","))):
        if not re.fullmatch(r"[^@\s,]+@[^@\s,]+", address):
            raise ConfigError(
                f"IVR_URGENT_ALERT_EMAIL: {address!r} is not an email address;"
                " separate addresses with commas"
            )
    if settings.smtp_url and not re.match(r"smtps?://[^/]", settings.smtp_url):
        raise ConfigError("IVR_SMTP_URL must look like smtp://user:password@host:587")
    if settings.urgent_alert_email.strip() and not settings.smtp_url:
        raise ConfigError(
            "IVR_URGENT_ALERT_EMAIL needs IVR_SMTP_URL (the mail server to send through)"
        )
    if settings.urgent_alert_sms.strip() and not (
        settings.twilio_account_sid and settings.twilio_auth_token
    ):
        raise ConfigError(
            "IVR_URGENT_ALERT_SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (texts go"
            " through Twilio)"
        )


def check_settings(settings: Settings) -> None:
    """Refuse to start with settings that would be unsafe for real callers."""
    if settings.env not in ("development", "test", "production"):
        raise ConfigError(f"IVR_ENV must be development, test or production, not {settings.env!r}")
    opening_weekdays(settings.opening_days)  # raises with a clear message
    check_urgent_settings(settings)
    if settings.redis_sentinels.strip():
        try:
            sentinel_addresses(settings.redis_sentinels)
        except ValueError as exc:
            raise ConfigError(
                f"IVR_REDIS_SENTINELS: {exc}; give host:port,host:port (e.g. 10.0.0.1:26379)"
            ) from exc
        if not settings.redis_sentinel_service.strip():
            raise ConfigError("IVR_REDIS_SENTINEL_SERVICE must name the monitored primary")
    for pair in filter(None, (p.strip() for p in settings.twilio_webhook_shared_keys.split(","))):
        name, equals, secret = pair.partition("=")
        if not (equals and name.strip() and secret.strip()):
            raise ConfigError(
                "TWILIO_WEBHOOK_SHARED_KEYS must be comma-separated <key id>=<secret> pairs"
            )
    if settings.trust_proxy < 0:
        raise ConfigError("IVR_TRUST_PROXY is a number of proxy hops: 0 or more")
    if not settings.is_production:
        return
    problems = []
    if settings.secret_key.lower() in _WEAK_SECRETS or len(settings.secret_key) < 32:
        problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
    if not settings.twilio_auth_token:
        problems.append("TWILIO_AUTH_TOKEN must be set (every /voice/* request is checked with it)")
    if not settings.data_keys:
        problems.append("IVR_DATA_KEYS must be set (Fernet keys for personal data at rest)")
    if not settings.public_base_url.startswith("https://"):
        problems.append("IVR_PUBLIC_BASE_URL must be the https:// address Twilio calls")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")


def sentinel_addresses(sentinels: str) -> list[tuple[str, int]]:
    """ "host:port,host:port" as [(host, port)]; ValueError names an entry that is not one."""
    out = []
    for item in (part.strip() for part in sentinels.split(",")):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    return out


def check_serving(settings: Settings) -> None:
    """Refuse to serve Twilio's webhooks outside development without IVR_PUBLIC_BASE_URL:
    without it the Host header of each request would pick the URL its signature is checked
    against. (Commands and tests that only build the app do not need it.)"""
    if settings.env != "development" and not settings.public_base_url:
        raise ConfigError(
            f"Refusing to serve with IVR_ENV={settings.env}: set IVR_PUBLIC_BASE_URL to the"
            " address Twilio calls (signatures are checked against it, never the Host header)."
        )
