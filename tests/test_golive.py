"""A number set up from the command line (issue 12, problem 2): `ivr number configure` points the
Twilio number at this deployment through Twilio's REST API (here the local FakeTwilio), and
`ivr number check` reads it back as a go-live checklist. Also `ivr flows fallback-twiml`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.ops import golive
from ivr.twilio_sim.phone import SimulatedCall
from ivr.twilio_sim.rest_api import ACCOUNT_SID, FakeTwilio
from tests.conftest import AUTH_TOKEN, FlaskTransport

NUMBER = "+442032281350"
BASE = "https://ipt.example.nhs.uk"
FALLBACK = "https://static.example.org/ipt/fallback.xml"
TWILIO_TOKEN = "f" * 32


@pytest.fixture
def fake():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def live_env(fake, redis_server, redis_client, tmp_path):
    """A deployment that is ready for callers, but for its Twilio number."""
    return {
        "IVR_ENV": "production",
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "k" * 40,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "IVR_TWILIO_API_BASE": fake.url,
        "IVR_PUBLIC_BASE_URL": BASE,
        "IVR_FALLBACK_URL": FALLBACK,
        "IVR_SERVICE_NUMBER": NUMBER,
        "IVR_DATA_KEYS": "PJTozUW_bppIsaDZ3D9Czuye0FGsfNl1L7egy73xjWE=",
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"),
    }


def ivr(env: dict, *args: str):
    return CliRunner().invoke(main, list(args), env=env)


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


def test_configure_points_the_number_here_and_check_passes(fake, live_env):
    fake.add_number(NUMBER, voice_url="https://old-host.example/voice", voice_method="GET")
    dry = ivr(live_env, "number", "configure", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would change voice_url: https://old-host.example/voice -> {BASE}/voice/incoming" in (
        dry.output
    )
    assert fake.numbers[NUMBER]["voice_url"] == "https://old-host.example/voice"  # untouched
    assert not [r for r in fake.requests if r["method"] == "POST"]

    done = ivr(live_env, "number", "configure")
    assert done.exit_code == 0, done.output
    record = fake.numbers[NUMBER]
    assert record["voice_url"] == f"{BASE}/voice/incoming" and record["voice_method"] == "POST"
    assert record["voice_fallback_url"] == FALLBACK
    assert record["status_callback"] == f"{BASE}/voice/status"
    assert record["status_callback_method"] == "POST"
    [update] = [r for r in fake.requests if r["method"] == "POST"]
    assert update["auth"].startswith("Basic ")  # the account's own credentials

    check = ivr(live_env, "number", "check")  # the flow's wording is not signed off yet
    assert check.exit_code == 1
    assert failed_lines(check.output) == ["FAIL  the flow file is the clinically approved one"]
    approved = ivr(live_env, "flows", "approve", "--by", "Dr Rao", "--role", "clinical lead")
    assert approved.exit_code == 0, approved.output
    check = ivr(live_env, "number", "check")
    assert check.exit_code == 0, check.output
    assert not failed_lines(check.output)
    assert "ok    the flow file is the clinically approved one" in check.output
    assert "ok    the fallback URL is set, https, and not served by this app" in check.output
    assert ivr(live_env, "number", "configure").output.strip().endswith("this deployment.")


def test_check_names_a_wrong_url_and_a_missing_fallback(fake, live_env):
    fake.add_number(
        NUMBER,
        voice_url="https://ipt.example.nhs.uk/incoming",  # a typo by hand in the console
        voice_method="POST",
        status_callback=f"{BASE}/voice/status",
        status_callback_method="POST",
    )
    ivr(live_env, "flows", "approve", "--by", "Dr Rao", "--role", "clinical lead")
    result = ivr(live_env, "number", "check")
    assert result.exit_code == 1
    failed = failed_lines(result.output)
    assert len(failed) == 2, result.output
    assert "calls go to https://ipt.example.nhs.uk/voice/incoming" in failed[0]
    assert "voice_url is 'https://ipt.example.nhs.uk/incoming'" in result.output
    assert "fallback URL" in failed[1]
    assert "the number has no fallback URL" in result.output
    assert "ivr flows fallback-twiml" in result.output


def test_a_fallback_served_by_this_app_is_refused(fake, live_env):
    fake.add_number(NUMBER)
    ivr(live_env, "number", "configure")
    fake.numbers[NUMBER]["voice_fallback_url"] = f"{BASE}/voice/fallback"
    result = ivr(live_env, "number", "check")
    assert result.exit_code == 1
    assert "is served by this app" in result.output


def test_check_lists_every_unsafe_setting(fake, live_env, redis_client, tmp_path):
    fake.add_number(NUMBER, voice_application_sid="AP" + "2" * 32)
    ivr(live_env, "number", "configure")  # clears the TwiML app, sets the URLs
    assert not fake.numbers[NUMBER]["voice_application_sid"]
    redis_client.config_set("appendonly", "no")
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / "host-1-abc.jsonl").write_text("{}\n")
    env = {
        **live_env,
        "IVR_ENV": "development",  # so that the weak values below load at all
        "SECRET_KEY": "secret",
        "IVR_DATA_KEYS": "",
        "IVR_CRISIS_DIAL_NUMBER": NUMBER,  # the referral line itself
        "IVR_FLOW_FILE": str(tmp_path / "missing.yaml"),
    }
    try:
        result = ivr(env, "number", "check")
    finally:
        redis_client.config_set("appendonly", "yes")
    assert result.exit_code == 1
    text = result.output
    for label in (
        "crisis put-through number",
        "Redis keeps what it acknowledged",
        "secrets are strong",
        "data keys are set",
        "journal folder",
        "flow file passes",
    ):
        assert any(label in line for line in failed_lines(text)), (label, text)
    assert "1 file(s) wait" in text
    assert "ok    calls go to" in text  # the number itself is right


def test_a_new_line_is_one_decorated_function(fake, live_env, monkeypatch):
    monkeypatch.setattr(golive, "CHECKS", list(golive.CHECKS))

    @golive.check
    def flow_approved(facts):
        return golive.Line(False, "the flow is approved", fix="ivr flows approve")

    fake.add_number(NUMBER)
    ivr(live_env, "number", "configure")
    result = ivr(live_env, "number", "check")
    assert result.exit_code == 1
    assert "FAIL  the flow is approved\n      fix: ivr flows approve" in result.output


def test_configure_explains_what_is_missing(fake, live_env):
    fake.add_number(NUMBER)
    no_account = {**live_env, "TWILIO_ACCOUNT_SID": ""}
    result = ivr(no_account, "number", "configure")
    assert result.exit_code == 1 and "TWILIO_ACCOUNT_SID" in result.output
    no_fallback = {**live_env, "IVR_FALLBACK_URL": ""}
    result = ivr(no_fallback, "number", "configure")
    assert result.exit_code == 1 and "ivr flows fallback-twiml" in result.output
    other = {**live_env, "IVR_SERVICE_NUMBER": "+442071234567"}
    result = ivr(other, "number", "configure")
    assert result.exit_code == 1 and "is not a number on account" in result.output
    fake.status = 401
    result = ivr(live_env, "number", "configure")
    assert result.exit_code == 1 and "Twilio refused" in result.output
    assert "Traceback" not in result.output
    nowhere = {**live_env, "IVR_TWILIO_API_BASE": "http://127.0.0.1:9"}
    result = ivr(nowhere, "number", "check")
    assert result.exit_code == 1 and "cannot reach Twilio" in result.output


def test_fallback_twiml_file_is_what_the_fallback_url_serves(client, tmp_path):
    out = tmp_path / "fallback.xml"
    result = CliRunner().invoke(main, ["flows", "fallback-twiml", "-o", str(out)])
    assert result.exit_code == 0, result.output
    call = SimulatedCall(FlaskTransport(client), "http://localhost", AUTH_TOKEN)
    status, served = call.signed_post("http://localhost/voice/fallback", call.params())
    assert status == 200
    written = out.read_text()
    document = ET.fromstring(written)  # noqa: S314 (our own TwiML)
    assert ET.tostring(document) == ET.tostring(ET.fromstring(served))  # noqa: S314
    spoken = " ".join(say.text for say in document.iter("Say"))
    assert "9 9 9" in spoken and "1 1 6, 1 2 3" in spoken and spoken.endswith("Goodbye.")
    assert document[-1].tag == "Hangup"  # crisis numbers, then goodbye
    printed = CliRunner().invoke(main, ["flows", "fallback-twiml"])
    assert printed.output == written
    refused = CliRunner().invoke(main, ["flows", "fallback-twiml", "-o", str(tmp_path / "no/x")])
    assert refused.exit_code == 1 and "cannot write" in refused.output
