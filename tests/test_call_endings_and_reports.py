"""Issue 10, problem 6: every way a call ends has its own words in the call logs; steps carry
their flow-file labels on every page; the drop-off is drawn per step; a long call-log export
streams; a bad range gives the form back; per-worker figures."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import phone_for

from ivr import create_app
from ivr.line.calls import close_call
from ivr.reports.demo import fill
from ivr.reports.recount import rebuild
from ivr.store.keys import key

FLOW = Path(__file__).resolve().parent.parent / "call_flows" / "ipt_line.yaml"


def _closed_outcome(store, call) -> str:
    return store.call_log(call.call_sid).get("outcome", "")


def test_every_ending_has_its_own_label_in_the_call_logs(app, open_hours, redis_client, signed_in):
    """Line-ended calls (the per-number limit, a refused number) used to read "hung up"."""
    phone, store = phone_for(app), app.extensions["ivr.store"]
    calls = {}
    calls["hung_up"] = phone(from_number="+447700900101").hang_up()
    booked = phone(from_number="+447700900102")
    for keys in ("3", "1", "1", "3"):
        booked.press(keys)
    calls["callback_requested"] = booked.hang_up()
    refused = phone(from_number="anonymous")
    refused.press("3")
    for _ in range(3):
        refused.press("123#")  # too short, three times: the line ends the call
    assert "could not take a number" in refused.heard()
    calls["number_refused"] = refused.hang_up()
    quiet = phone(from_number="+447700900104")
    for _ in range(4):  # asked again, offered a callback, asked again, then the goodbye
        quiet.silence()
    calls["silence_timeout"] = quiet.hang_up()
    keys = phone(from_number="+447700900105")
    for _ in range(4):  # two wrong at the menu, two at the callback offer
        keys.press("7")
    calls["invalid_keys"] = keys.hang_up()
    crisis = phone(from_number="+447700900106")
    for key_pressed in ("2", "4", "4", "1", "1", "1"):  # risk: yes; go on; "put me through"
        crisis.press(key_pressed)
    assert crisis.dialled
    calls["crisis_put_through"] = crisis.hang_up()
    limited_app = create_app(replace(open_hours, calls_per_minute=1))
    try:
        limited = phone_for(limited_app)
        limited(from_number="+447700900107").hang_up()
        calls["rate_limited"] = limited(from_number="+447700900107").hang_up()
    finally:
        limited_app.extensions["ivr.deliverer"].stop()
    for outcome, call in calls.items():
        assert _closed_outcome(store, call) == outcome, outcome

    client = app.test_client()
    signed_in(client, "manager")
    listing = html.unescape(client.get("/reports/calls").get_data(as_text=True))
    for words in (
        "Caller hung up",
        "Callback booked",
        "Line ended it: phone number refused three times",
        "Line ended it: too many calls or requests from this number",
        "Line ended it: no response",
        "Line ended it: wrong keys",
        "Put through to the crisis line",
    ):
        assert words in listing, words
    one = client.get(f"/reports/calls/{calls['number_refused'].call_sid}").get_data(as_text=True)
    assert "Line ended it: phone number refused three times" in html.unescape(one)
    filtered = client.get("/reports/calls?outcome=rate_limited").get_data(as_text=True)
    assert calls["rate_limited"].call_sid in filtered
    assert calls["hung_up"].call_sid not in filtered


@pytest.fixture
def labelled_app(open_hours, redis_client, tmp_path):
    """The line with two steps given labels (as the flow file's `label:` does)."""
    text = FLOW.read_text()
    text = text.replace("    label: Main menu\n", "    label: Main menu (four choices)\n", 1)
    text = text.replace(
        '    label: "About IPT: the difficulties"\n', "    label: IPT's four difficulties\n", 1
    )
    path = tmp_path / "labelled.yaml"
    path.write_text(text)
    app = create_app(replace(open_hours, flow_file=str(path)))
    yield app
    app.extensions["ivr.deliverer"].stop()


def test_steps_show_their_labels_and_the_dropoff_is_drawn_per_step(labelled_app, signed_in):
    phone = phone_for(labelled_app)
    listener = phone(from_number="+447700900201")
    listener.press("1")
    listener.press("1")  # on to the four difficulties, then hangs up there
    listener.hang_up()
    phone(from_number="+447700900202").hang_up()  # at the main menu
    client = labelled_app.test_client()
    signed_in(client, "manager")
    figures = html.unescape(client.get("/reports/").get_data(as_text=True))
    # The drop-off chart draws who hung up at each step, not only who reached it.
    assert 'class="bar dropoff"' in figures
    assert "Main menu (four choices): 1 of 2 hung up, 50.0%" in figures
    assert "IPT's four difficulties: 1 of 1 hung up, 100.0%" in figures
    calls = html.unescape(client.get("/reports/calls").get_data(as_text=True))
    assert "Heard about IPT only, then hung up at IPT's four difficulties" in calls
    assert "main_menu" not in calls and "info_difficulties" not in calls
    assert "About IPT: what it is" in calls  # every step has a label now (the flow check)
    page = client.get(f"/reports/calls/{listener.call_sid}").get_data(as_text=True)
    assert "IPT&#39;s four difficulties" in page and "info_difficulties" not in page
    exported = client.get("/reports/calls.csv").get_data(as_text=True)
    assert "Main menu (four choices)" in exported and "main_menu" not in exported


def test_a_long_range_of_call_logs_streams_as_csv(app, signed_in):
    store = app.extensions["ivr.store"]
    made = fill(app.extensions["ivr.engine"], store, 40, weeks=9, seed=5)
    client = app.test_client()
    signed_in(client, "manager")
    today = datetime.now(UTC).date()
    start = today - timedelta(days=70)
    response = client.get(f"/reports/calls.csv?start={start}&end={today}")
    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][4:6] == ["outcome", "how_it_ended"]
    assert len(rows) - 1 == made
    days = {date.fromisoformat(r[1][:10]) for r in rows[1:]}
    assert max(days) - min(days) > timedelta(days=31)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/reports/?start=2025-02-01&end=2025-01-01", "on or before the end date"),
        ("/reports/?start=yesterday&end=2025-01-01", "Dates must look like"),
        ("/reports/calls?start=2025-02-01&end=2025-01-01", "on or before the end date"),
        ("/reports/calls.csv?start=2020-01-01&end=2025-01-01", "at most 800 days"),
        ("/reports/figures.csv?table=outcomes&start=2025-13-01", "Dates must look like"),
    ],
)
def test_a_bad_range_gives_the_form_back_with_the_error(client, signed_in, path, message):
    signed_in(client, "manager")
    response = client.get(path)
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    assert message in page and 'role="alert"' in page
    assert '<form method="get"' in page and 'aria-invalid="true"' in page
    start = path.split("start=")[1].split("&")[0]
    assert f'value="{start}"' in page  # as typed, to correct


def test_per_worker_figures_are_shown_with_their_definition(
    app, client, signed_in, request_callback
):
    with app.app_context():
        from ivr.intake.service import intake as service

        intake = service()
        first, second = request_callback(), request_callback(from_number="+447700900333")
        intake.claim(first, "nia")
        intake.record_outcome(first, "nia", "no_answer", "")
        intake.claim(first, "sam")
        intake.record_outcome(first, "sam", "reached_booked", "")
        intake.claim(second, "nia")
        intake.record_outcome(second, "nia", "reached_declined", "")
    signed_in(client, "manager")
    page = client.get("/reports/")
    text = html.unescape(page.get_data(as_text=True))
    assert "Intake workers" in text and "Median time to first attempt: from the request" in text
    rows = list(csv.reader(io.StringIO(client.get("/reports/figures.csv?table=workers").text)))
    assert rows[0] == [
        "Worker", "Attempts", "Reached", "Reached share", "First attempts", "Median to first"
    ]  # fmt: skip
    assert rows[1][:5] == ["nia", "2", "1", "50.0%", "2"] and rows[1][5].endswith("min")
    assert rows[2][:5] == ["sam", "1", "1", "100.0%", "0"]
    store = app.extensions["ivr.store"]
    assert rebuild(store, store.figures, apply=False)["differences"] == []


def test_a_call_logged_without_its_start_time_still_closes_and_is_not_indexed(store, redis_client):
    """A journalled call's log carries its start as the outage path knew it (empty when it did
    not): its final status still closes it, and no outcome index gets a call it cannot place."""
    sid = "CA" + "7" * 32
    store.log_call(sid, [], {"started_at": None, "last_node": "main_menu"})
    assert store.call_log(sid)["started_at"] == ""
    assert close_call(store, sid, "completed", "", datetime.now(UTC))
    assert store.call_log(sid)["outcome"] == "hung_up"
    assert redis_client.keys(key("calls_by_outcome", outcome="*")) == []
