"""Callers who answer more questions after booking a callback send updates to their request; the
figures count each request once. Two callers, counted by hand:

- one answers the screening with a risk disclosure, books an urgent callback, then goes back to
  the main menu and answers another screening question;
- one books an ordinary callback, then goes back and says yes to the risk question, which makes
  the request urgent.

So: 2 callback requests, both urgent, 2 requested at intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import SCREENED_URGENT_KEYS

from ivr.reports import tables as report
from ivr.store.keys import key


def test_answers_after_booking_do_not_double_the_callback_figures(app, phone, redis_client):
    urgent_first = phone(from_number="+447700900111")
    for keys in SCREENED_URGENT_KEYS:
        urgent_first.press(keys)
    assert "marked as urgent" in urgent_first.heard()
    for keys in ("0", "2", "3"):  # main menu, screening, an answer to the first question
        urgent_first.press(keys)
    urgent_first.hang_up()

    urgent_later = phone(from_number="+447700900222")
    for keys in ("3", "1", "1", "3"):  # a callback, on caller ID, voicemail OK, any time
        urgent_later.press(keys)
    assert "marked as urgent" not in urgent_later.heard()
    for keys in ("0", "2", "1", "1", "1"):  # screening: PHQ-2 0 and 0, then yes to risk
        urgent_later.press(keys)
    assert "Thank you for telling us" in urgent_later.heard()
    urgent_later.hang_up()

    # What landed: two requests, both urgent now, each queued once.
    assert redis_client.zcard(key("callback_queue")) == 2
    requests = app.extensions["ivr.store"].list_callbacks(None, None, 10)[0]
    assert [cb["urgent"] for cb in requests] == [True, True]

    today = datetime.now(UTC).date()
    totals = report.load(redis_client, today - timedelta(days=1), today + timedelta(days=1))
    assert totals.calls["callbacks"] == 2
    assert totals.calls["callbacks_urgent"] == 2
    assert totals.intake["requested"] == 2
