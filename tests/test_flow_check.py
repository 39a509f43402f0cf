"""The flow file is checked at start-up and by `ivr flows check`: broken flows are refused with
messages a non-programmer can act on."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import main
from ivr.config import ROOT
from ivr.line.flow import FlowError, load_flow, parse_flow

FLOW_FILE = ROOT / "call_flows" / "ipt_line.yaml"


@pytest.fixture
def raw_flow() -> dict:
    return yaml.safe_load(FLOW_FILE.read_text())


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(FlowError) as caught:
        parse_flow(raw)
    return caught.value.problems


def test_the_shipped_flow_passes():
    flow = load_flow(FLOW_FILE)
    assert flow.start == "welcome" and "main_menu" in flow.nodes


def test_a_dead_end_is_rejected(raw_flow):
    del raw_flow["nodes"]["out_of_hours"]["next"]
    assert "node `out_of_hours`: is a dead end (add `next:`)" in problems_of(raw_flow)


def test_a_key_that_leads_nowhere_is_rejected(raw_flow):
    raw_flow["nodes"]["main_menu"]["options"]["2"]["next"] = "screening_intro_typo"
    assert (
        "node `main_menu`: key 2 leads to `screening_intro_typo`, which does not exist"
        in problems_of(raw_flow)
    )


def test_an_unreachable_node_is_rejected(raw_flow):
    raw_flow["nodes"]["orphan"] = {"type": "hangup", "label": "Orphan", "say": ["Bye."]}
    assert "node `orphan` can never be reached from `welcome`" in problems_of(raw_flow)


def test_a_silent_loop_is_rejected(raw_flow):
    # Silence on the last information chunk going back to the first would trap a silent caller.
    raw_flow["nodes"]["info_referral"]["on_silence"] = "info_what"
    problems = problems_of(raw_flow)
    assert any("stays silent at `info_what` never reaches an ending" in p for p in problems)


def test_too_many_options_and_reserved_keys_are_rejected(raw_flow):
    options = raw_flow["nodes"]["main_menu"]["options"]
    options["5"] = {"next": "urgent_numbers"}
    options["0"] = {"next": "urgent_numbers"}
    problems = problems_of(raw_flow)
    assert "node `main_menu`: has 6 options; callers can hold at most 4 in mind" in problems
    assert "node `main_menu`: key 0 is kept for every menu (main_menu)" in problems


def test_unknown_words_conditions_and_types_are_explained(raw_flow):
    nodes = raw_flow["nodes"]
    nodes["welcome"]["say"].append("Hello {caller_name}.")
    nodes["hours_check"]["if"] = "is_raining"
    nodes["goodbye"]["type"] = "hang_up"
    problems = problems_of(raw_flow)
    assert "node `welcome`: {caller_name} is not a word the line can fill in" in problems
    assert any(p.startswith("node `hours_check`: `if: is_raining` is not one of") for p in problems)
    assert any(p.startswith("node `goodbye`: type 'hang_up' is not one of") for p in problems)


def test_instant_loops_are_rejected(raw_flow):
    raw_flow["nodes"]["out_of_hours"]["next"] = "hours_check"
    raw_flow["nodes"]["hours_check"]["else"] = "out_of_hours"
    problems = problems_of(copy.deepcopy(raw_flow))
    assert "node `hours_check` leads back to itself without waiting for the caller" in problems


def test_the_app_refuses_to_start_with_a_broken_flow(settings, tmp_path, raw_flow):
    from dataclasses import replace

    from ivr import create_app

    del raw_flow["nodes"]["goodbye"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw_flow))
    with pytest.raises(FlowError, match="leads to `goodbye`, which does not exist"):
        create_app(replace(settings, flow_file=str(broken)))


def test_ivr_flows_check_explains_each_problem(tmp_path, raw_flow):
    del raw_flow["nodes"]["screen_intro"]["next"]
    broken: Path = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw_flow))
    result = CliRunner().invoke(main, ["flows", "check", str(broken)])
    assert result.exit_code == 1
    assert "node `screen_intro`: is a dead end (add `next:`)" in result.output
    good = CliRunner().invoke(main, ["flows", "check", str(FLOW_FILE)])
    assert good.exit_code == 0 and "OK" in good.output


def test_phone_numbers_must_be_written_digit_by_digit(raw_flow):
    raw_flow["nodes"]["urgent_numbers"]["say"].append("Or call 999.")
    assert (
        "node `urgent_numbers`: write 999 digit by digit (9 9 9): the voice would read it "
        "as an amount"
    ) in problems_of(raw_flow)
