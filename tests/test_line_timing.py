"""Time to a person, prompt lengths, labels and what Twilio itself refuses, worked out from the
flow file and checked through the stand-in."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import main
from ivr.config import ROOT
from ivr.line import timing
from ivr.line.flow import FlowError, load_flow, parse_flow
from ivr.twilio_sim.phone import WORDS_PER_SECOND, SimulatedCall, Transport, TwimlError

FLOW_FILE = ROOT / "call_flows" / "ipt_line.yaml"
FAST_CALLBACK = ["9", "1", "1", "1"]  # call me back, this number, voicemail OK, mornings


@pytest.mark.parametrize("out_of_hours", [False, True])
def test_a_person_is_offered_within_30_s_and_a_fast_caller_books_within_60_s(out_of_hours):
    flow = load_flow(FLOW_FILE)
    route = timing.route_seconds(flow, FAST_CALLBACK, out_of_hours=out_of_hours)
    assert route["offered"] < 30, route
    assert route["booked"] < 60, route
    assert "make_callback" in route["path"]


def test_the_callback_offer_is_heard_within_30_s_through_the_stand_in(settings, redis_client):
    # Out of hours, the longer opening: the offer comes before the closed message.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conftest import phone_for

    from ivr import create_app

    app = create_app(settings)
    app.extensions["ivr.clock"] = lambda: datetime(
        2026, 12, 25, 10, tzinfo=ZoneInfo("Europe/London")
    )
    call = phone_for(app)()
    words = 0
    for line in call.transcript:
        words += len(line.split())
        if "call me back" in line:
            break
    assert words / WORDS_PER_SECOND < 30
    assert "not working right now" in call.heard()
    app.extensions["ivr.deliverer"].stop()


def test_every_prompt_fits_in_20_seconds():
    flow = load_flow(FLOW_FILE)
    for node_id, node in flow.nodes.items():
        assert timing.prompt_seconds(node, 150) <= 20, node_id


def test_flows_check_prints_seconds_and_refuses_a_long_prompt(tmp_path):
    good = CliRunner().invoke(main, ["flows", "check", str(FLOW_FILE)])
    assert good.exit_code == 0, good.output
    assert "welcome" in good.output and " s  main_menu" in good.output
    assert "callback offered at" in good.output and "booked at" in good.output
    assert "13214" in good.output and "IVR_SERVICE_NUMBER" in good.output
    strict = CliRunner().invoke(main, ["flows", "check", "--max-seconds", "12", str(FLOW_FILE)])
    assert strict.exit_code == 1
    assert "node `welcome`: takes 19.2 s to say at 150 words a minute" in strict.output
    raw = yaml.safe_load(FLOW_FILE.read_text())
    raw["nodes"]["urgent_numbers"]["say"].append("Please listen carefully. " * 8)
    long_file = tmp_path / "long.yaml"
    long_file.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["flows", "check", str(long_file)])
    assert result.exit_code == 1 and "node `urgent_numbers`: takes" in result.output
    junk = CliRunner().invoke(main, ["flows", "check", "--max-seconds", "0", str(FLOW_FILE)])
    assert junk.exit_code == 2 and "Traceback" not in junk.output


def test_every_node_needs_a_label():
    raw = yaml.safe_load(FLOW_FILE.read_text())
    assert all(str(node.get("label", "")).strip() for node in raw["nodes"].values())
    del raw["nodes"]["main_menu"]["label"]
    with pytest.raises(FlowError) as caught:
        parse_flow(raw)
    assert "node `main_menu`: needs a `label:` (a few words for people reading pages)" in (
        caught.value.problems
    )


def test_a_put_through_needs_known_outcomes():
    raw = yaml.safe_load(FLOW_FILE.read_text())
    raw["nodes"]["crisis_dial"]["outcomes"]["engaged"] = "after_crisis_failed"
    with pytest.raises(FlowError) as caught:
        parse_flow(raw)
    assert any("outcome 'engaged' is not one of" in p for p in caught.value.problems)


def test_the_reference_pause_is_an_ssml_break_inside_the_say(phone):
    call = phone()
    for keys in ("3", "1", "1"):
        call.press(keys)
    call.press("3")
    url, params, _ = call.requests[-1]
    _, body = call.signed_post(url, params)  # Twilio's retry: the same answer
    gather = ET.fromstring(body).find("Gather")  # noqa: S314 (our own answer)
    assert [child.tag for child in gather] == ["Say"] * len(gather)
    assert gather.find("Say/break").get("time") == "1s"
    assert "<Pause" not in body


class Canned(Transport):
    def __init__(self, body: str):
        self.body = body

    def post(self, url, params, headers):
        return 200, self.body


def test_the_stand_in_refuses_a_pause_nested_in_a_gather_as_twilio_does():
    bad = (
        '<?xml version="1.0"?><Response><Gather action="/voice/step"><Say>Hi</Say>'
        '<Pause length="1"/></Gather></Response>'
    )
    with pytest.raises(TwimlError, match="13320"):
        SimulatedCall(Canned(bad), "http://localhost", "token").dial()


def test_start_up_says_which_caller_id_put_throughs_use(open_hours, redis_client, caplog):
    from ivr import create_app

    with caplog.at_level(logging.INFO, logger="ivr.line"):
        app = create_app(open_hours)
    assert any("13214" in r.getMessage() for r in caplog.records)
    app.extensions["ivr.deliverer"].stop()
