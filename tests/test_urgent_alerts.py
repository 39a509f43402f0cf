"""Urgent alerts to the duty contacts: texts through the (fake) Twilio REST API and email through
a real SMTP server the tests start (aiosmtpd); planned and sent by the sweeper, never by the
webhook; out of hours one summary in the first working hour; a target about to be missed;
failures retried and shown to managers. No message carries a phone number or an answer."""

from __future__ import annotations

import email
import socket
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from conftest import SCREENED_URGENT_KEYS, phone_for
from prometheus_client import REGISTRY

from ivr import create_app
from ivr.cli import main
from ivr.intake import alerts, outbox
from ivr.intake.outcomes import target_time
from ivr.line.hours import Hours
from ivr.twilio_sim.rest_api import ACCOUNT_SID, FakeTwilio

DUTY_PHONES = "+447700900001,+447700900002"
DUTY_EMAIL = "duty@ipt.example.nhs.uk"
CALLER = "+447700900999"


class Mailbox:
    """An aiosmtpd handler: keeps what it is sent, or refuses every recipient."""

    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.messages: list[email.message.Message] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_server(refuse: bool = False):
    box = Mailbox(refuse)
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    return box, controller


@pytest.fixture
def mailbox():
    box, controller = smtp_server()
    box.url = f"smtp://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture
def refusing_mailbox():
    box, controller = smtp_server(refuse=True)
    box.url = f"smtp://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


def alerting(settings, fake, box, **changes):
    return replace(
        settings,
        opening_days="Mon-Sun",
        urgent_alert_sms=DUTY_PHONES,
        urgent_alert_email=DUTY_EMAIL,
        smtp_url=box.url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_api_base=fake.url,
        public_base_url="https://ipt.example.nhs.uk",
        **changes,
    )


@pytest.fixture
def line(open_hours, redis_client, fake_twilio, mailbox):
    """An app open every day, round the clock, with duty contacts; `line.call(urgent=True)`."""
    settings = alerting(open_hours, fake_twilio, mailbox)
    # The simulated Twilio calls http://localhost; the alerts' links use the public address.
    app = create_app(replace(settings, public_base_url=""))
    app.settings = settings

    def call(urgent: bool, number: str = CALLER) -> str:
        call = phone_for(app)(from_number=number)
        for pressed in SCREENED_URGENT_KEYS if urgent else ["3", "1", "1", "3"]:
            call.press(pressed)
        call.hang_up()
        return redis_client.get(f"ivr:callback:by_call:{call.call_sid}")

    app.call = call
    yield app
    app.extensions["ivr.deliverer"].stop()


def alerts_counted(channel: str, result: str) -> float:
    labels = {"channel": channel, "result": result}
    return REGISTRY.get_sample_value("ivr_alerts_total", labels) or 0.0


def no_personal_data(text: str) -> None:
    assert "900999" not in text and "7700" not in text.replace("+447700900001", "")
    for word in ("harm", "grief", "depress", "PHQ", "voicemail"):
        assert word.lower() not in text.lower()


def sweep(settings, redis_server) -> str:
    env = {
        "IVR_ENV": "test",
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "x" * 40,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "IVR_TWILIO_API_BASE": settings.twilio_api_base,
        "IVR_OPENING_DAYS": "Mon-Sun",
        "IVR_OPENING_TIME": "00:00",
        "IVR_CLOSING_TIME": "23:59",
        "IVR_URGENT_ALERT_SMS": DUTY_PHONES,
        "IVR_URGENT_ALERT_EMAIL": DUTY_EMAIL,
        "IVR_SMTP_URL": settings.smtp_url,
        "IVR_PUBLIC_BASE_URL": settings.public_base_url,
    }
    result = CliRunner().invoke(main, ["callbacks", "sweep"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_urgent_arrival_in_hours_is_texted_and_emailed_by_the_sweeper(
    line, fake_twilio, mailbox, redis_server, redis_client
):
    routine = line.call(urgent=False, number="+447700900555")
    ref = line.call(urgent=True)
    # The webhook sent nothing itself.
    assert fake_twilio.messages() == [] and mailbox.messages == []

    output = sweep(line.settings, redis_server)
    assert "Urgent alerts: 1 planned, 3 sent, 0 failed." in output
    texts = fake_twilio.messages()
    assert sorted(t["To"] for t in texts) == DUTY_PHONES.split(",")
    for text in texts:
        assert text["From"] == "+442032281350"
        assert ref in text["Body"] and routine not in text["Body"]
        assert f"https://ipt.example.nhs.uk/intake/callbacks/{ref}" in text["Body"]
        no_personal_data(text["Body"])
    (mail,) = mailbox.messages
    assert mail["To"] == DUTY_EMAIL and ref in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert f"https://ipt.example.nhs.uk/intake/callbacks/{ref}" in body
    no_personal_data(body + mail["Subject"])
    # Once only.
    assert "Urgent alerts" not in sweep(line.settings, redis_server)
    assert len(fake_twilio.messages()) == 2 and len(mailbox.messages) == 1


def test_out_of_hours_urgent_requests_get_one_summary_in_the_first_working_hour(
    line, fake_twilio, mailbox, redis_client
):
    first, second = line.call(urgent=True), line.call(urgent=True, number="+447700900998")
    today = datetime.now(Hours.from_settings(line.settings).tz)
    # The team works every day but today: both came in while it was closed.
    other_days = ",".join(
        d
        for n, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
        if n != today.weekday()
    )
    settings = replace(
        line.settings, opening_days=other_days, opening_time="09:00", closing_time="17:00"
    )
    hours = Hours.from_settings(settings)
    assert alerts.run(redis_client, settings, today.timestamp()) == (0, 0, 0)
    opening = hours.next_opening(today)
    planned, sent, failed = alerts.run(redis_client, settings, opening.timestamp() + 600)
    assert (planned, sent, failed) == (1, 3, 0)
    bodies = [t["Body"] for t in fake_twilio.messages()] + [
        mailbox.messages[0].get_payload(decode=True).decode()
    ]
    for body in bodies:
        assert "2 urgent callback requests came in while the team was closed" in body
        assert first in body and second in body
        no_personal_data(body)
    assert alerts.run(redis_client, settings, opening.timestamp() + 700)[0] == 0


def test_a_target_30_minutes_from_being_missed_tells_the_duty_contacts(
    line, fake_twilio, mailbox, redis_client
):
    ref = line.call(urgent=True)
    reached = line.call(urgent=True, number="+447700900998")
    alerts.run(redis_client, line.settings, datetime.now().timestamp())
    before = len(fake_twilio.messages())
    redis_client.hset(f"ivr:callback:{reached}", "contacted_at", "1")  # a worker spoke to them
    hours = Hours.from_settings(line.settings)
    created = float(redis_client.hget(f"ivr:callback:{ref}", "created_at"))
    target = target_time(created, hours, 2, line.settings.urgent_target_hours)
    assert (
        alerts.run(redis_client, line.settings, (target - timedelta(minutes=31)).timestamp())[0]
        == 0
    )
    assert (
        alerts.run(redis_client, line.settings, (target - timedelta(minutes=29)).timestamp())[0]
        == 1
    )
    new = fake_twilio.messages()[before:]
    assert len(new) == 2 and all(f"{ref} has not been reached" in t["Body"] for t in new)
    assert not any(reached in t["Body"] for t in new)


def test_failed_alerts_are_retried_and_shown_to_managers(
    line, fake_twilio, refusing_mailbox, mailbox, redis_client, signed_in
):
    settings = replace(line.settings, smtp_url=refusing_mailbox.url)
    fake_twilio.fail_paths = {"Messages.json"}
    ref = line.call(urgent=True)
    now = datetime.now().timestamp()
    before = {(c, r): alerts_counted(c, r) for c in ("sms", "email") for r in ("sent", "failed")}
    assert alerts.run(redis_client, settings, now) == (1, 0, 3)
    # /metrics counts each message by channel and result (what the alert rules watch).
    assert alerts_counted("sms", "failed") - before["sms", "failed"] == 2
    assert alerts_counted("email", "failed") - before["email", "failed"] == 1
    failures = outbox.recent_failures(redis_client, now - 1)
    assert {f["channel"] for f in failures} == {"sms", "email"}
    assert all(not f["gave_up"] and f["retry_at"] == now + 60 for f in failures)
    assert any("Relaying denied" in f["error"] for f in failures)
    # A manager sees them on the queue page; the numbers are masked there.
    client = line.test_client()
    signed_in(client, role="manager")
    page = client.get("/intake/").get_data(as_text=True)
    assert "Urgent alerts that failed to send" in page and "Relaying denied" in page
    assert "*********001" in page and "+447700900001" not in page
    # Nothing is tried again before its time; after it, with Twilio and email back, all go.
    assert alerts.run(redis_client, settings, now + 30) == (0, 0, 0)
    fake_twilio.fail_paths = set()
    working = replace(settings, smtp_url=mailbox.url)
    assert alerts.run(redis_client, working, now + 61) == (0, 3, 0)
    assert alerts_counted("sms", "sent") - before["sms", "sent"] == 2
    assert alerts_counted("email", "sent") - before["email", "sent"] == 1
    assert len(mailbox.messages) == 1 and ref in mailbox.messages[0]["Subject"]
    assert outbox.waiting(redis_client) == 0


def test_an_alert_that_keeps_failing_is_given_up_and_says_so(line, fake_twilio, redis_client):
    settings = replace(line.settings, urgent_alert_email="")
    fake_twilio.fail_paths = {"Messages.json"}
    line.call(urgent=True)
    now = datetime.now().timestamp()
    for n in range(outbox.MAX_TRIES):
        alerts.run(redis_client, settings, now + 1000 * n)  # past each pause
    assert outbox.waiting(redis_client) == 0
    assert all(f["gave_up"] for f in outbox.recent_failures(redis_client, now)[:2])


def test_a_test_call_from_try_alerts_nobody(line, fake_twilio, mailbox, redis_client):
    ref = line.call(urgent=True)
    redis_client.hset(f"ivr:callback:{ref}", "test", "1")  # as a /try test call marks it
    assert alerts.run(redis_client, line.settings, datetime.now().timestamp()) == (0, 0, 0)
    assert fake_twilio.messages() == [] and mailbox.messages == []
