"""What a real Twilio number does that an easy stand-in would not: the rules Twilio applies to
the TwiML we send (E.164 numbers in <Dial>, which caller IDs a <Dial> may use), checked through
whole calls with the simulated phone (ivr/phone_sim.py models those rules)."""

from __future__ import annotations

import pytest

from ivr.config import ConfigError, load_settings


def risk_yes_then_put_through(call):
    for keys in ("2", "4", "4", "1"):  # PHQ-2 items, then yes to the risk question
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
    assert "If you were not put through" in call.heard()


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
