"""Issue 10, problem 7: every timestamp the API gives is ISO 8601 with an offset. It used to mix
numbers (`created_at` 1795677140.30) and strings of numbers (`first_attempt_at` "1795677187.06")."""

from __future__ import annotations

from datetime import datetime

from ivr.api.tokens import create_token


def _walk(value, path=""):
    """Every (path, leaf) in a JSON answer."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, f"{path}.{name}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _walk(item, f"{path}[{n}]")
    else:
        yield path, value


def _assert_iso_with_offset(text, where):
    assert isinstance(text, str), f"{where} is {text!r}"
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None, f"{where} has no offset: {text}"


def _assert_no_epoch_numbers(answer):
    """A timestamp missed by name would still show as a number of seconds since 1970."""
    for where, value in _walk(answer):
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert value < 10**8, f"{where} looks like a raw timestamp: {value}"
        if isinstance(value, str) and value.replace(".", "", 1).isdigit() and len(value) >= 10:
            assert not value.startswith("1"), f"{where} looks like a raw timestamp: {value}"


def test_callbacks_and_calls_give_iso_8601_times_with_an_offset(client, store, request_callback):
    headers = {"Authorization": f"Bearer {create_token(store.redis, 'records')}"}
    ref = request_callback()
    client.post(f"/api/v1/callbacks/{ref}/claim", headers=headers)
    client.post(f"/api/v1/callbacks/{ref}/outcome", headers=headers, json={"outcome": "no_answer"})
    client.post(f"/api/v1/callbacks/{ref}/claim", headers=headers)

    one = client.get(f"/api/v1/callbacks/{ref}", headers=headers).get_json()["callback"]
    for name in ("created_at", "first_attempt_at", "next_attempt_at", "target_at", "lease_until"):
        _assert_iso_with_offset(one[name], name)
    attempt = one["attempts_list"][0]
    _assert_iso_with_offset(attempt["at"], "attempts_list[0].at")
    _assert_iso_with_offset(attempt["next_attempt_at"], "attempts_list[0].next_attempt_at")
    for entry in one["audit"]:
        _assert_iso_with_offset(entry["t"], "audit[].t")
    _assert_no_epoch_numbers(one)

    listed = client.get("/api/v1/callbacks", headers=headers).get_json()["callbacks"]
    assert listed[0]["reference"] == ref
    for name in ("created_at", "first_attempt_at"):
        _assert_iso_with_offset(listed[0][name], f"list {name}")
    _assert_no_epoch_numbers(listed)

    calls = client.get("/api/v1/calls", headers=headers).get_json()["calls"]
    for name in ("started_at", "ended_at"):
        _assert_iso_with_offset(calls[0][name], f"calls {name}")
    _assert_no_epoch_numbers(calls)
    # The same instant, whichever the field: the API's time for the request is the store's.
    stored = float(store.redis.hget(f"ivr:callback:{ref}", "created_at"))
    assert datetime.fromisoformat(one["created_at"]).timestamp() == int(stored)


def test_the_shared_helper_writes_summer_and_winter_offsets_and_null_for_no_time():
    from zoneinfo import ZoneInfo

    from ivr.api.timefmt import iso  # the one helper every API answer goes through

    london = ZoneInfo("Europe/London")
    assert iso(1782900000, london) == "2026-07-01T11:00:00+01:00"
    assert iso("1795677140.30", london) == "2026-11-26T07:12:20+00:00"
    assert iso(0, london) is None and iso("", london) is None and iso(None, london) is None
