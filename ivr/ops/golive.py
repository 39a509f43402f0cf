"""The go-live checklist `ivr number check` prints: each line ok, or what to do about it.

A line is a function decorated with `@check`, taking the `Facts` gathered once (settings, the
number's Twilio set-up, Redis) and returning a `Line` (or several). To add one, write:

    @check
    def flow_approved(facts: Facts) -> Line:
        ok = ...
        return Line(ok, "the flow file is approved", fix="ivr flows approve ...")

Lines print in the order they are defined here; a check that raises prints as a failed line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from ivr import phone
from ivr.config import _WEAK_SECRETS as WEAK_SECRETS
from ivr.config import Settings
from ivr.ops import number as twilio_number


@dataclass
class Line:
    ok: bool
    label: str
    fix: str = ""  # what to do when it is not ok

    def text(self) -> str:
        return f"ok    {self.label}" if self.ok else f"FAIL  {self.label}\n      fix: {self.fix}"


@dataclass
class Facts:
    settings: Settings
    number: dict[str, str] | None = None  # the number's voice set-up read from Twilio
    number_problem: str = ""  # why it could not be read
    redis: redis.Redis | None = None
    extra: dict = field(default_factory=dict)  # for checks that gather more


CHECKS: list[Callable[[Facts], Line | Iterable[Line]]] = []


def check(function: Callable[[Facts], Line | Iterable[Line]]):
    CHECKS.append(function)
    return function


def run(facts: Facts) -> list[Line]:
    lines: list[Line] = []
    for function in CHECKS:
        name = function.__name__.replace("_", " ")
        try:
            result = function(facts)
        except Exception as exc:  # one broken check must not hide the others
            lines.append(Line(False, name, fix=f"the check itself failed: {exc}"))
            continue
        lines.extend([result] if isinstance(result, Line) else result)
    return lines


def gather(settings: Settings, client: redis.Redis | None) -> Facts:
    facts = Facts(settings=settings, redis=client)
    try:
        facts.number = twilio_number.read(settings)
    except twilio_number.NumberError as exc:
        facts.number_problem = str(exc)
    return facts


# --- the lines ---------------------------------------------------------------------------------
CONFIGURE = "run `ivr number configure` (it sets the voice URL, fallback and status callback)"


def _number_lines(facts: Facts, names: tuple[str, ...], label: str, fix: str) -> Line:
    if facts.number is None:
        return Line(False, label, fix=facts.number_problem)
    want = twilio_number.wanted(facts.settings)
    wrong = [
        f"{n} is {facts.number.get(n) or '(empty)'!r}"
        for n in names
        if facts.number.get(n) != want[n]
    ]
    if wrong:
        return Line(False, label, fix="; ".join(wrong) + f": {fix}")
    return Line(True, label)


@check
def public_url(facts: Facts) -> Line:
    url = facts.settings.public_base_url
    return Line(
        url.startswith("https://") and bool(urlsplit(url).hostname),
        f"IVR_PUBLIC_BASE_URL is an https address ({url or 'unset'})",
        fix="set IVR_PUBLIC_BASE_URL to the https:// address Twilio calls (TLS at the proxy)",
    )


@check
def voice_url(facts: Facts) -> Iterable[Line]:
    want = twilio_number.wanted(facts.settings)
    yield _number_lines(
        facts, ("voice_url", "voice_method"), f"calls go to {want['voice_url']} (POST)", CONFIGURE
    )
    if facts.number is not None:
        overrides = [n for n in ("voice_application_sid", "trunk_sid") if facts.number.get(n)]
        yield Line(
            not overrides,
            "no TwiML app or SIP trunk on the number overrides the voice URL",
            fix=f"{', '.join(overrides)} set on the number: {CONFIGURE}; detach any trunk",
        )


@check
def status_callback(facts: Facts) -> Line:
    want = twilio_number.wanted(facts.settings)["status_callback"]
    return _number_lines(
        facts,
        ("status_callback", "status_callback_method"),
        f"call endings go to {want} (POST)",
        CONFIGURE,
    )


@check
def fallback(facts: Facts) -> Line:
    label = "the fallback URL is set, https, and not served by this app"
    if facts.number is None:
        return Line(False, label, fix=facts.number_problem)
    url = facts.number.get("voice_fallback_url", "")
    host = urlsplit(url).hostname
    ours = urlsplit(facts.settings.public_base_url).hostname
    make = "write it with `ivr flows fallback-twiml -o fallback.xml`, host it elsewhere (a TwiML"
    make += " Bin or a static host), set IVR_FALLBACK_URL and " + CONFIGURE.split(" (")[0]
    if not url:
        return Line(False, label, fix="the number has no fallback URL: " + make)
    if not url.startswith("https://") or not host:
        return Line(False, label, fix=f"the fallback URL {url!r} is not https: " + make)
    if host == ours:
        return Line(False, label, fix=f"{url} is served by this app, down with it: " + make)
    if url != facts.settings.fallback_url:
        return Line(False, label, fix=f"the number's fallback is {url}, not IVR_FALLBACK_URL")
    return Line(True, label)


@check
def crisis_number(facts: Facts) -> Line:
    crisis = facts.settings.crisis_dial_number
    service = facts.settings.service_number
    label = f"the crisis put-through number {crisis} is E.164 and not the service's own"
    if not phone.E164.fullmatch(crisis or ""):
        return Line(False, label, fix="set IVR_CRISIS_DIAL_NUMBER in E.164, e.g. +44116123")
    if crisis == service:
        return Line(
            False,
            label,
            fix="IVR_CRISIS_DIAL_NUMBER is the referral line itself: a"
            " caller at risk would be put through to this menu; set the crisis line",
        )
    return Line(True, label)


@check
def redis_persists(facts: Facts) -> Line:
    label = "Redis keeps what it acknowledged (appendonly yes)"
    try:
        aof = facts.redis.info("persistence").get("aof_enabled") if facts.redis else None
    except redis.RedisError as exc:
        return Line(False, label, fix=f"cannot ask Redis ({type(exc).__name__}): check REDIS_URL")
    return Line(
        aof == 1, label, fix="set `appendonly yes` and `appendfsync everysec` (docs/operations.md)"
    )


@check
def secrets_strong(facts: Facts) -> Line:
    s = facts.settings
    weak = []
    if s.secret_key.lower() in WEAK_SECRETS or len(s.secret_key) < 32:
        weak.append("SECRET_KEY (32+ random characters)")
    if len(s.twilio_auth_token) < 32:
        weak.append("TWILIO_AUTH_TOKEN (the account's 32-character auth token)")
    if s.env != "production":
        weak.append("IVR_ENV=production (refuses to start with weak settings)")
    return Line(not weak, "secrets are strong", fix="set " + "; ".join(weak))


@check
def data_keys(facts: Facts) -> Line:
    from ivr.store.crypto import DataKeys

    label = "data keys are set (IVR_DATA_KEYS)"
    if not facts.settings.data_keys:
        return Line(False, label, fix="`ivr keys generate`, then set IVR_DATA_KEYS to it")
    try:
        DataKeys.from_settings(facts.settings)
    except ValueError as exc:
        return Line(False, label, fix=f"IVR_DATA_KEYS is not a list of Fernet keys: {exc}")
    return Line(True, label)


@check
def journal_folder(facts: Facts) -> Line:
    directory = facts.settings.journal_dir
    label = f"the journal folder {directory} is writable and empty"
    try:
        os.makedirs(directory, exist_ok=True)
        waiting = [n for n in os.listdir(directory) if n.endswith(".jsonl")]
    except OSError as exc:
        return Line(False, label, fix=f"cannot use it ({exc.strerror}): set IVR_JOURNAL_DIR")
    if not os.access(directory, os.W_OK | os.X_OK):
        return Line(False, label, fix="make it writable by the web processes' user")
    if waiting:
        return Line(False, label, fix=f"{len(waiting)} file(s) wait: `ivr journal status`")
    return Line(True, label)


@check
def flow_file(facts: Facts) -> Line:
    from ivr.line.flow import FlowError, load_flow

    path = facts.settings.flow_file
    try:
        load_flow(path)
    except (FlowError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Line(False, "the flow file passes `ivr flows check`", fix=f"{path}: {first}")
    return Line(True, "the flow file passes `ivr flows check`")


@check
def flow_approved(facts: Facts) -> Line:
    """The wording callers will hear is the wording the clinical lead signed off (issue 13)."""
    from ivr.line.flow import load_flow
    from ivr.signoff.approval import approval_status

    label = "the flow file is the clinically approved one"
    if facts.redis is None:
        return Line(False, label, fix="Redis cannot be reached, so approvals cannot be read")
    ok, detail = approval_status(facts.redis, load_flow(facts.settings.flow_file))
    fix = f"{detail}; read `ivr flows script`, then `ivr flows approve --by NAME --role ROLE`"
    return Line(ok, label, fix=fix)
