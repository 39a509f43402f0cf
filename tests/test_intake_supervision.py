"""Scheduling and supervision: "caller asked for a time" schedules the next attempt when the
worker says (validated); managers reassign or release another worker's claim (audited; workers
cannot); the API carries target_at and next_attempt_at as ISO 8601 with an offset and takes
the asked-for time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from conftest import SCREENED_URGENT_KEYS, csrf_from

from ivr.api.tokens import create_token

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def post(client, ref: str, action: str, **fields):
    token = csrf_from(client.get(f"/intake/callbacks/{ref}").get_data(as_text=True))
    return client.post(f"/intake/callbacks/{ref}/{action}", data={**fields, "csrf_token": token})


def local(app, **delta) -> datetime:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(app.config["SETTINGS"].timezone)
    return (datetime.now(tz) + timedelta(**delta)).replace(second=0, microsecond=0)


def test_the_caller_asks_for_a_time_and_the_next_attempt_is_then(
    app, client, signed_in, request_callback, redis_client
):
    ref = request_callback()
    signed_in(client)
    post(client, ref, "claim")
    when = local(app, days=2, hours=3)
    done = post(
        client,
        ref,
        "outcome",
        outcome="asked_for_time",
        next_at=when.strftime("%Y-%m-%dT%H:%M"),
        attempt="1",
        note="Asked for Saturday afternoon",
    )
    assert done.status_code == 303
    assert redis_client.hget(f"ivr:callback:{ref}", "status") == "scheduled"
    assert float(redis_client.hget(f"ivr:callback:{ref}", "next_attempt_at")) == when.timestamp()
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    assert "Caller asked for a time: call back then" in page
    assert "Next attempt from" in page


@pytest.mark.parametrize(
    ("next_at", "message"),
    [
        ("", "Give the date and time the caller asked to be called back."),
        ("tomorrow at 3", "The date and time was not understood"),
        ("2026-02-30T10:00", "The date and time was not understood"),
        ("2001-01-01T10:00", "The time the caller asked for has already passed."),
        ("2199-01-01T10:00", "Choose a time within 60 days."),
    ],
)
def test_a_bad_asked_for_time_is_refused_clearly_and_the_note_kept(
    client, signed_in, request_callback, redis_client, next_at, message
):
    ref = request_callback()
    signed_in(client)
    post(client, ref, "claim")
    response = post(
        client, ref, "outcome", outcome="asked_for_time", next_at=next_at, note="keep me"
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert message in text and "keep me" in text
    assert redis_client.hget(f"ivr:callback:{ref}", "attempts") in (None, "0")


def test_a_time_given_with_another_outcome_is_refused(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client)
    post(client, ref, "claim")
    response = post(client, ref, "outcome", outcome="no_answer", next_at="2099-01-01T10:00")
    assert response.status_code == 400
    assert "goes with the outcome" in response.get_data(as_text=True)


def test_a_manager_reassigns_and_releases_another_workers_claim(
    app, client, signed_in, request_callback, redis_client
):
    ref = request_callback()
    worker = app.test_client()
    nia = signed_in(worker, "intake", "nia")
    signed_in(app.test_client(), "intake", "sam")
    post(worker, ref, "claim")
    manager = signed_in(client, "manager", "maria")
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    assert f"Release {nia}'s claim" in page
    moved = post(client, ref, "reassign", to="sam")
    assert moved.status_code == 303
    assert redis_client.hget(f"ivr:callback:{ref}", "claimed_by") == "sam"
    bad = post(client, ref, "reassign", to="nobody-here")
    assert bad.status_code == 400 and "no active staff account" in bad.get_data(as_text=True)
    released = post(client, ref, "reassign", to="")
    assert released.status_code == 303
    assert redis_client.hget(f"ivr:callback:{ref}", "status") == "queued"
    again = post(client, ref, "reassign", to="")
    assert again.status_code == 409 and "Nobody has claimed" in again.get_data(as_text=True)
    trail = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    assert (
        f'{manager}</td><td data-label="What">A manager reassigned the claim: from nia to sam'
        in trail
    )
    assert "A manager released the claim: released the claim by sam" in trail


def test_an_intake_worker_cannot_reassign(app, client, signed_in, request_callback, redis_client):
    ref = request_callback()
    signed_in(client, "intake", "nia")
    post(client, ref, "claim")
    response = post(client, ref, "reassign", to="")
    assert response.status_code == 403
    assert redis_client.hget(f"ivr:callback:{ref}", "claimed_by") == "nia"


def test_the_api_gives_target_and_next_attempt_as_iso_and_takes_an_asked_for_time(
    app, client, store, request_callback
):
    urgent = request_callback(keys=SCREENED_URGENT_KEYS)
    headers = {"Authorization": f"Bearer {create_token(store.redis, 'records')}"}
    listed = client.get("/api/v1/callbacks", headers=headers).get_json()["callbacks"][0]
    assert ISO.match(listed["target_at"]) and listed["next_attempt_at"] is None
    client.post(f"/api/v1/callbacks/{urgent}/claim", headers=headers)
    when = local(app, days=1)
    done = client.post(
        f"/api/v1/callbacks/{urgent}/outcome",
        headers=headers,
        json={"outcome": "asked_for_time", "next_attempt_at": when.isoformat()},
    ).get_json()["callback"]
    assert done["status"] == "scheduled"
    assert datetime.fromisoformat(done["next_attempt_at"]) == when
    assert ISO.match(done["target_at"])
    bad = client.post(
        f"/api/v1/callbacks/{urgent}/outcome",
        headers=headers,
        json={"outcome": "asked_for_time", "next_attempt_at": 5},
    )
    assert bad.status_code == 400


def test_bad_input_at_the_new_entry_points_gets_a_clear_4xx(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client, "manager")
    token = csrf_from(client.get(f"/intake/callbacks/{ref}").get_data(as_text=True))
    assert client.get("/intake/queue/live?status=nope").status_code == 400
    assert client.get("/intake/queue/live?page=x").status_code == 400
    for path, data, status in [
        ("/intake/callbacks/999999/reassign", {"to": ""}, 404),
        ("/intake/callbacks/abc/reassign", {"to": "x"}, 404),
        (f"/intake/callbacks/{ref}/reassign", {"to": "x" * 5000}, 400),
        (f"/intake/callbacks/{ref}/reassign", {"to": ""}, 409),  # nobody has it
        ("/intake/callbacks/abc/merge", {"into": ref}, 404),
        (f"/intake/callbacks/{ref}/merge", {"into": "9" * 60}, 400),
    ]:
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == status, (path, data, response.status_code)
    live = client.get("/intake/queue/live").get_json()
    assert live["title"].startswith("Callback queue") and live["urgent_refs"] == []


def test_an_asked_for_time_is_read_in_the_services_zone_within_its_bounds():
    """What a worker types in the picker ("2026-07-02T14:30") is London time, summer or not; the
    time must be after now and no more than 60 days ahead, to the second."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from ivr.intake.outcomes import asked_time

    london = ZoneInfo("Europe/London")
    now = datetime(2026, 7, 1, 10, 0, tzinfo=london).timestamp()
    when = asked_time("2026-07-02T14:30", now, london, 60)
    assert (when.hour, when.utcoffset()) == (14, timedelta(hours=1))
    assert when == datetime(2026, 7, 2, 14, 30, tzinfo=london)
    latest = datetime.fromtimestamp(now + 60 * 86400, london)
    assert asked_time(latest.isoformat(), now, london, 60) == latest
    for text, message in (
        ("", "Give the date and time the caller asked to be called back."),
        ("soon", "The date and time was not understood: use the picker, e.g. 27/11/2026 14:30."),
        (
            datetime.fromtimestamp(now, london).isoformat(),
            "The time the caller asked for has already passed.",
        ),
        ((latest + timedelta(seconds=30)).isoformat(), "Choose a time within 60 days."),
    ):
        with pytest.raises(ValueError) as refused:
            asked_time(text, now, london, 60)
        assert str(refused.value) == message
