"""What a real Twilio number does that an easy stand-in would not: the rules Twilio applies to
the TwiML we send (E.164 numbers in <Dial>, which caller IDs a <Dial> may use), checked through
whole calls with the simulated phone (ivr/twilio_sim/phone.py models those rules)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import AUTH_TOKEN, BASE_URL
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.config import ConfigError, load_settings
from ivr.twilio_sim.phone import SimulatedCall, Transport


def risk_yes_then_put_through(call):
    for keys in ("2", "4", "4", "1", "1"):  # PHQ-2 items, yes to the risk question, go on
        call.press(keys)
    call.heard()
    call.press("1")  # put me through
    return call


def test_the_default_crisis_number_is_dialled_in_e164(phone):
    # Twilio refuses a <Number> that is not E.164 (warning 13223) and the caller is not put
    # through; the default was Samaritans' number as dialled in the UK, "116123".
    call = risk_yes_then_put_through(phone())
    assert call.dial_errors == []
    assert call.dialled == ["+44116123"]


def test_put_through_works_when_the_line_number_is_not_the_service_number(phone):
    # A <Dial> callerId must be the calling number, the called number or a verified one
    # (Twilio 13214). The number the caller rang is a Twilio number of ours, whatever
    # IVR_SERVICE_NUMBER (the leaflet's number) says.
    call = risk_yes_then_put_through(phone(to_number="+441134960123"))
    assert call.dial_errors == []
    assert call.dialled == ["+44116123"]
    assert "You are back with the" in call.heard()


@pytest.mark.parametrize(
    ("configured", "dialled"),
    [
        ("116123", "+44116123"),
        ("116 123", "+44116123"),
        ("0800 123 4567", "+448001234567"),
        ("+44 20 3228 1350", "+442032281350"),
        ("+15005550006", "+15005550006"),
    ],
)
def test_a_configured_crisis_number_is_kept_in_e164(configured, dialled):
    settings = load_settings(environ={"IVR_CRISIS_DIAL_NUMBER": configured}, env="test")
    assert settings.crisis_dial_number == dialled


@pytest.mark.parametrize("configured", ["", "samaritans", "+", "12", "0044"])
def test_an_undiallable_crisis_number_stops_start_up(configured):
    with pytest.raises(ConfigError, match="IVR_CRISIS_DIAL_NUMBER"):
        load_settings(environ={"IVR_CRISIS_DIAL_NUMBER": configured}, env="test")


class PrefixProxy(Transport):
    """A reverse proxy that serves the app under /ipt on a shared host: anything else is 404."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        path = url[len(BASE_URL) :]
        if not path.startswith(self.prefix + "/"):
            return 404, "Not Found"
        response = self.client.post(path[len(self.prefix) :], data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)


def test_a_line_served_under_a_path_prefix_keeps_its_steps_under_it(open_hours, redis_client):
    # Twilio resolves a relative action or Redirect URL against the document it came from
    # (https://host/ipt/voice/incoming); "/voice/step" would leave the prefix behind.
    app = create_app(replace(open_hours, public_base_url=BASE_URL + "/ipt"))
    call = SimulatedCall(
        PrefixProxy(app.test_client(), "/ipt"), BASE_URL + "/ipt", AUTH_TOKEN
    ).dial()
    call.heard()
    call.press("3")
    call.silence()
    assert "Sorry, we did not hear a key" in call.heard()
    for keys in ("1", "1", "3"):
        call.press(keys)
    assert "Your reference number is" in call.heard()
    assert all(url.startswith(BASE_URL + "/ipt/voice/") for url, _, _ in call.requests)
    app.extensions["ivr.deliverer"].stop()


@pytest.mark.parametrize(
    ("path", "sid"),
    [
        ("/voice/incoming", "CA" + "f" * 32),
        ("/voice/step?s=1&n=main_menu", "CA" + "f" * 32),
        ("/voice/status", "CA" + "f" * 32),
        ("/voice/fallback", "CA" + "f" * 32),
        ("/voice/incoming", "CA123"),  # a junk CallSid: the safe message
    ],
)
def test_every_webhook_answers_as_xml(client, redis_client, path, sid):
    """Twilio takes an answer only with an XML Content-Type (else error 12300, and the caller
    hears an application error), whichever webhook answers and whatever it says."""
    params = {"CallSid": sid, "From": "+447700900123", "Digits": "1", "CallStatus": "completed"}
    url = BASE_URL + path
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    response = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    # (A media type is case-insensitive: any case of text/xml would do.)
    assert response.status_code == 200 and response.mimetype.lower() == "text/xml"
    assert response.get_data(as_text=True).startswith("<?xml")
