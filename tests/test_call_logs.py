"""What the line records about a call as it happens: the call log managers and API clients see
(when it started, the masked number, whether caller ID was usable, how it ended) and the
step-by-step events behind it (their times, the call's start, a put-through's result)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ivr.api.tokens import create_token

MOMENT = datetime(2026, 3, 4, 11, 0, 0, 123456, tzinfo=UTC)  # a Wednesday, in opening hours
RISK_YES_THEN_PUT_THROUGH = ("2", "4", "4", "1", "1", "1")


def api_calls(client, store) -> list[dict]:
    token = create_token(store.redis, "records")
    response = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.get_json()["calls"]


@pytest.fixture
def clock(app):
    """The line's clock, at MOMENT until a test moves it (append a later moment)."""
    moments = [MOMENT]
    app.extensions["ivr.clock"] = lambda: moments[-1]
    return moments


def test_a_call_in_progress_is_listed_with_its_start_and_masked_number(clock, phone, client, store):
    call = phone(from_number="+447700900789")
    (logged,) = api_calls(client, store)
    assert logged["call_sid"] == call.call_sid
    assert logged["started_at"] == "2026-03-04T11:00:00+00:00"
    assert logged["from"] == "*********789"
    assert logged["caller_id_withheld"] == "0"


def test_a_withheld_call_is_logged_as_withheld(clock, phone, client, store, signed_in):
    call = phone(from_number="anonymous")
    (logged,) = api_calls(client, store)
    assert logged["caller_id_withheld"] == "1" and logged["from"] == ""
    signed_in(client, role="manager")
    page = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    assert "<dt>From</dt><dd>withheld</dd>" in page
    assert "Call on 2026-03-04 11:00:00" in page


def test_a_caller_id_the_line_cannot_call_back_is_logged_masked(clock, phone, client, store):
    phone(from_number="+12025550123")  # a US number: no callbacks to it, but still who rang
    (logged,) = api_calls(client, store)
    assert logged["from"] == "********123"
    assert logged["caller_id_withheld"] == "1"


@pytest.mark.parametrize(
    ("from_number", "caller_id"),
    [("+447700900789", "usable"), ("anonymous", "withheld_or_unusable")],
)
def test_the_first_event_records_the_call_starting(clock, phone, store, from_number, caller_id):
    call = phone(from_number=from_number)
    first = store.call_events(call.call_sid)[0]
    assert first == {
        "t": round(MOMENT.timestamp(), 3),
        "step": 1,
        "type": "call_started",
        "caller_id": caller_id,
        "out_of_hours": False,
    }


def test_the_events_of_a_call_start_name_each_prompt_and_decision_with_its_section(
    clock, phone, store
):
    call = phone()
    t = round(MOMENT.timestamp(), 3)
    assert store.call_events(call.call_sid)[1:] == [
        {"t": t, "step": 1, "type": "prompt", "node": "welcome", "section": "safety"},
        {"t": t, "step": 1, "type": "prompt", "node": "callback_hint", "section": "menu"},
        # A node the flow puts in no section is recorded with an empty one (a string, as ever).
        {"t": t, "step": 1, "type": "passed", "node": "hours_check", "section": ""},
        {"t": t, "step": 1, "type": "prompt", "node": "main_menu", "section": "menu"},
    ]


def test_each_event_carries_its_step_and_time_to_the_millisecond(
    clock, phone, store, client, signed_in
):
    call = phone()
    clock.append(MOMENT + timedelta(seconds=75, microseconds=400000))
    call.press("1")
    events = store.call_events(call.call_sid)
    started, pressed = events[0], next(e for e in events if e["type"] == "key")
    assert (started["step"], started["t"]) == (1, 1772622000.123)
    assert (pressed["step"], pressed["t"]) == (2, 1772622075.523)
    signed_in(client, role="manager")
    page = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    assert "<td>+1:15</td>\n    <td>key</td>" in page


def test_a_caller_put_through_to_the_crisis_line_is_logged_as_put_through(phone, store, client):
    call = phone()
    for keys in RISK_YES_THEN_PUT_THROUGH:
        call.press(keys)
    assert "You are back with the" in call.heard()
    call.hang_up()
    (logged,) = api_calls(client, store)
    assert logged["outcome"] == "crisis_put_through"
    (ended,) = [e for e in store.call_events(call.call_sid) if e["type"] == "dial_ended"]
    assert ended["node"] == "crisis_dial" and ended["status"] == "completed"


@pytest.mark.parametrize("status", ["canceled", "queue-overflow-and-something-else"])
def test_a_put_through_ending_in_a_status_the_flow_does_not_name_counts_as_failed(
    phone, store, status
):
    call = phone(dial_outcome=status)
    for keys in RISK_YES_THEN_PUT_THROUGH:
        call.press(keys)
    assert "Sorry, we could not put you through." in call.heard()
    (ended,) = [e for e in store.call_events(call.call_sid) if e["type"] == "dial_ended"]
    assert ended["status"] == status[:20]  # junk from the request is kept short


def test_the_call_logs_show_the_path_a_call_took(clock, phone, client, signed_in):
    call = phone()
    call.press("1")
    signed_in(client, role="manager")
    listed = client.get("/reports/calls?start=2026-03-04&end=2026-03-04").get_data(as_text=True)
    path = "Welcome and urgent help numbers Callback offered at once Main menu [1] About IPT: what"
    assert f'<td class="path">{path} it is</td>' in listed
    timeline = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    rows = re.findall(r"<td>(prompt|passed)</td>\s*<td>([^<]*)</td>", timeline)
    assert rows == [
        ("prompt", "Welcome and urgent help numbers"),
        ("prompt", "Callback offered at once"),
        ("passed", "Is the team working now?"),
        ("prompt", "Main menu"),
        ("prompt", "About IPT: what it is"),
    ]


def test_the_call_logs_show_screening_as_one_step_without_its_prompts(
    clock, phone, client, signed_in
):
    call = phone()
    for keys in ("2", "1", "1", "2"):  # questions: not at all, not at all, no risk
        call.press(keys)
    assert "Which of these fits you best" in call.heard()
    signed_in(client, role="manager")
    listed = client.get("/reports/calls?start=2026-03-04&end=2026-03-04").get_data(as_text=True)
    assert "Main menu [2] [screening questions]</td>" in listed
    timeline = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    assert "PHQ" not in listed + timeline and "self-harm" not in listed + timeline


def test_demo_calls_walk_the_flow_as_callers_do_and_are_logged(app, store, client):
    from ivr.reports.demo import fill

    fill(app.extensions["ivr.engine"], store, 30, weeks=1, seed=5)
    calls = api_calls(client, store)
    assert len(calls) == 30
    assert len({c.get("last_node") for c in calls}) > 3  # not all left at the main menu
    assert any(c.get("callback_id") for c in calls)
    for logged in calls:  # once the line has hung up, only the closing status follows
        types = [e["type"] for e in store.call_events(logged["call_sid"])]
        assert "ended" not in types or types.index("ended") >= len(types) - 2, types


def test_a_call_the_line_ends_after_three_refused_numbers_is_logged_so(
    clock, phone, client, store, signed_in
):
    call = phone(from_number="anonymous")
    call.press("3")
    for _ in range(3):
        call.press("0161#")  # too short, each time
    assert call.ended
    (logged,) = api_calls(client, store)
    assert logged["outcome"] == "number_refused"
    assert logged["last_node"] == "number_not_taken"
    signed_in(client, role="manager")
    timeline = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    assert "<td>ended</td>\n    <td>Callback: no number we can call</td>" in timeline
