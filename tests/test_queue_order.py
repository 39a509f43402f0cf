"""The open queue read a page at a time (issue 14): the queue's score is its display order, so
each page and the live strip must be exactly what reading and sorting every request gave
(issue 10's order: the urgent band first, in each band those ready to call before those
scheduled, then oldest; test calls' requests apart). Wrong score encoding fails here."""

from __future__ import annotations

import time

import pytest

from ivr.intake import board
from ivr.intake.finding import find, first_waiting
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from ivr.store.keys import key
from tests.conftest import write_request

# (urgent, what the team did with it, test call); created oldest first, half a day apart
MIX = [
    (False, "scheduled", False),
    (True, "", False),
    (False, "", False),
    (True, "scheduled", False),
    (False, "claimed", False),
    (True, "escalated", False),
    (False, "", True),
    (False, "due", False),
    (True, "", False),
    (False, "scheduled", False),
    (True, "claimed", False),
    (False, "", False),
    (True, "scheduled", False),
    (False, "escalated", False),
]


@pytest.fixture
def service(app, store):
    settings = app.config["SETTINGS"]
    return Intake(store, settings, Hours.from_settings(settings))


def mixed_queue(store, service) -> None:
    now = time.time()
    start = now - 6 * 86400  # half a day apart: the oldest overdue, the newest not
    for n, (urgent, done, test) in enumerate(MIX):
        ref = str(200000 + n)
        extra = {"test": True} if test else {}
        write_request(store, ref, start + n * 43200 + 0.25, n, urgent=urgent, **extra)
        if not done:
            continue
        assert service.transitions.run("claim", ref, now, f"w{n}", repr(now + 600)) == ["ok"]
        if done == "claimed":
            continue
        later = {"scheduled": repr(now + 3600 + n), "due": repr(now - 1), "escalated": ""}[done]
        new = "escalated" if done == "escalated" else "scheduled"
        outcome = ("no_answer", new, later, "", "{}", "0", "attempt 1")
        assert service.transitions.run("outcome", ref, now, f"w{n}", 0, *outcome) == ["ok"]


def sorted_the_old_way(service, now: float, test: bool = False) -> list[dict]:
    """Issue 10's read: every open request, sorted in Python (the order this must keep)."""
    refs = service.redis.zrange(key("callback_queue"), 0, -1)
    rows = [service.describe(cb, now) for cb in service._load(refs)]
    rows = [r for r in rows if bool(r.get("test")) == test]
    rows.sort(key=lambda r: float(r["created_at"]) - (1e11 if r.get("urgent") else 0))
    rows.sort(
        key=lambda r: (
            not r.get("urgent"),
            r["status"] == "scheduled" and r["next_attempt_at"] > now,
        )
    )
    return rows


def old_strip(rows: list[dict]) -> dict:
    """Issue 10's live strip, counted from every open request."""
    urgent = [r for r in rows if r.get("urgent") and r["status"] != "claimed"]
    working: dict[str, list[str]] = {}
    for r in rows:
        if r["status"] == "claimed":
            working.setdefault(r["claimed_by"], []).append(r["reference"])
    return {
        "waiting": sum(r["status"] == "queued" for r in rows),
        "urgent": len(urgent),
        "urgent_refs": sorted(r["reference"] for r in urgent),
        "overdue": sum(bool(r["overdue"]) for r in rows),
        "escalated": sum(r["status"] == "escalated" for r in rows),
        "oldest_seconds": max(r["age_seconds"] for r in rows),
        "working": sorted(working.items()),
    }


def test_pages_of_a_mixed_queue_come_in_the_order_reading_everything_gave(store, service):
    mixed_queue(store, service)
    now = time.time()
    service.transitions.sweep(now)  # the "due" one goes back to queued, as find() would do
    expected = sorted_the_old_way(service, now)
    pages = [find(service, None, "", p, 4, now=now) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [13] * 4 and pages[0].pages == 4
    got = [r["reference"] for p in pages for r in p.rows]
    assert got == [r["reference"] for r in expected]
    # the order that is: urgent ready (two claimed/escalated among them), urgent scheduled, ...
    assert [(r["urgent"], r["status"]) for r in expected][:6] == [
        (True, "queued"), (True, "escalated"), (True, "queued"), (True, "claimed"),
        (True, "scheduled"), (True, "scheduled"),
    ]  # fmt: skip
    assert got[-2:] == ["200000", "200009"]  # routine scheduled last, oldest first

    tests = find(service, None, "", 1, 4, now=now, test=True)
    assert [r["reference"] for r in tests.rows] == ["200006"] and tests.total == 1

    for status in ("queued", "claimed", "scheduled", "escalated"):
        view = find(service, status, "", 1, 50, now=now)
        assert [r["reference"] for r in view.rows] == [
            r["reference"] for r in expected if r["status"] == status
        ], status

    strip = board.live(service, now)
    old = old_strip(expected)  # the oldest wait from the score: to some microseconds
    assert strip["oldest_seconds"] == pytest.approx(old.pop("oldest_seconds"), abs=0.001)
    assert {k: v for k, v in strip.items() if k != "oldest_seconds"} == old
    assert 0 < strip["overdue"] < 13 and strip["escalated"] == 2 and strip["waiting"] == 5

    assert first_waiting(service, now) == "200001"  # the oldest urgent one nobody holds


def test_the_score_follows_a_status_change_and_a_merge(store, service):
    mixed_queue(store, service)
    now = time.time()
    # the scheduled urgent request is claimed again: back among the urgent ready ones, in age
    assert service.transitions.run("claim", "200003", now, "nia", repr(now + 600)) == ["ok"]
    expected = sorted_the_old_way(service, now)
    got = [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows]
    assert got == [r["reference"] for r in expected]
    assert got.index("200003") < got.index("200005")
    # a routine scheduled request takes in an urgent repeat: it moves to the urgent band's
    # scheduled part (not its ready part)
    merged = service.transitions.run("merge", "200008", now, "nia", "200009", other="200009")
    assert merged == ["ok"]
    expected = sorted_the_old_way(service, now)
    got = [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows]
    assert got == [r["reference"] for r in expected]
    assert got[:5] == ["200001", "200003", "200005", "200010", "200009"]


def test_a_repeat_call_joining_a_scheduled_urgent_request_leaves_it_where_it_was(store, service):
    mixed_queue(store, service)
    now = time.time()
    before = [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows]
    repeat = {"id": "200012", "reference": "200012", "call_sid": "CA" + "9" * 32,
              "phone": "+447700900012", "urgent": True, "created_at": now, "status": "queued",
              "is_update": True, "merged": True}  # fmt: skip
    with store.redis.pipeline(transaction=True) as pipe:
        store.write_callback(pipe, repeat)
        pipe.execute()
    expected = [r["reference"] for r in sorted_the_old_way(service, now)]
    assert [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows] == expected
    assert expected == before  # still scheduled, still after the urgent ones ready to call


def test_ivr_callbacks_rescore_puts_requests_scored_the_old_way_back_in_place(
    store, service, redis_server
):
    """After upgrading from a release whose queue scores were creation times only, one
    `ivr callbacks rescore` gives every open request its place; a second run moves nothing."""
    from click.testing import CliRunner

    from ivr.cli import main

    mixed_queue(store, service)
    now = time.time()
    service.transitions.sweep(now)
    expected = [r["reference"] for r in sorted_the_old_way(service, now)]
    queue = key("callback_queue")
    for ref, _ in store.redis.zrange(queue, 0, -1, withscores=True):  # the old release's scores
        store.redis.zadd(
            queue, {ref: float(store.redis.hget(key("callback", id=ref), "created_at"))}
        )
    assert [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows] != expected

    env = {"REDIS_URL": redis_server.url}
    first = CliRunner().invoke(main, ["callbacks", "rescore"], env=env)
    assert first.exit_code == 0, first.output
    assert "14 open request(s) checked; 9 moved" in first.output
    assert [r["reference"] for r in find(service, None, "", 1, 50, now=now).rows] == expected
    again = CliRunner().invoke(main, ["callbacks", "rescore"], env=env)
    assert "14 open request(s) checked; 0 moved" in again.output


def test_rescore_carries_on_past_a_request_erased_meanwhile(store, service):
    """A queue entry whose request was erased (its hash gone) is left for the queue's own sweep;
    the requests after it are still put in their place."""
    from ivr.store.callbacks import rescore_queue

    mixed_queue(store, service)
    queue = key("callback_queue")
    first, *_ = store.redis.zrange(queue, 0, -1)
    store.redis.zadd(queue, {"999999": store.redis.zscore(queue, first) - 1})  # no hash
    for ref, _ in store.redis.zrange(queue, 0, -1, withscores=True)[1:]:  # the old scores
        store.redis.zadd(
            queue, {ref: float(store.redis.hget(key("callback", id=ref), "created_at"))}
        )
    checked, moved = rescore_queue(store.redis)
    assert checked == 15 and moved >= 9
    assert rescore_queue(store.redis) == (15, 0)  # every request with a hash is in place


def test_rescore_never_brings_back_a_request_that_left_the_queue_meanwhile(store, service):
    """A worker closes a request between the rescore's read and its write (the rescore runs on a
    live queue): the closed request stays out of the queue, and the others are put in place."""
    from ivr.store.callbacks import rescore_queue

    mixed_queue(store, service)
    queue = key("callback_queue")
    for ref, _ in store.redis.zrange(queue, 0, -1, withscores=True):  # the old release's scores
        store.redis.zadd(
            queue, {ref: float(store.redis.hget(key("callback", id=ref), "created_at"))}
        )
    urgent = [
        r for r in store.redis.zrange(queue, 0, -1) if service.get(r, "t", action=None)["urgent"]
    ]
    leaving = urgent[0]  # an urgent one: the rescore will move it up to its band

    class ClosedBetweenReadAndWrite:
        """The store's client, with the request leaving the queue just before the write."""

        def __init__(self, client):
            self.client, self.pipelines = client, 0

        def __getattr__(self, name):
            return getattr(self.client, name)

        def pipeline(self, *args, **kwargs):
            self.pipelines += 1
            if self.pipelines == 2:  # the write's pipeline: the read is done
                self.client.zrem(queue, leaving)
            return self.client.pipeline(*args, **kwargs)

    checked, moved = rescore_queue(ClosedBetweenReadAndWrite(store.redis))
    assert checked == 14 and moved >= 9
    assert store.redis.zscore(queue, leaving) is None
    assert rescore_queue(store.redis) == (13, 0)


def test_a_request_made_urgent_by_a_later_answer_goes_to_the_top_of_the_queue(
    phone, service, redis_client
):
    """A caller books an ordinary callback, then goes back to the questions and says yes to the
    risk question: their request, now urgent, is the next one intake takes, ahead of an
    ordinary one booked before it."""
    earlier = phone(from_number="+447700900611")
    for keys in ("3", "1", "1", "3"):
        earlier.press(keys)
    later = phone(from_number="+447700900612")
    for keys in ("3", "1", "1", "3"):
        later.press(keys)
    [before, at_risk] = redis_client.zrange(key("callback_queue"), 0, -1)
    assert first_waiting(service) == before  # oldest first while both are ordinary
    for keys in ("0", "2", "1", "1", "1"):  # screening: PHQ-2 0 and 0, then yes to risk
        later.press(keys)
    assert "Thank you for telling us" in later.heard()
    assert redis_client.zrange(key("callback_queue"), 0, -1) == [at_risk, before]
    assert first_waiting(service) == at_risk


def test_a_request_closed_during_its_call_is_not_brought_back_by_the_callers_later_answers(
    phone, service, store, redis_client
):
    """A worker reaches a caller at risk on another line while this call is still going, and
    closes the request. The caller then answers more questions: the request takes the answers
    but stays closed and out of the open queue."""
    call = phone(from_number="+447700900613")
    for keys in ("2", "4", "4", "1"):  # questions, PHQ-2 items, yes to thoughts of self-harm
        call.press(keys)
    [ref] = redis_client.zrange(key("callback_queue"), 0, -1)
    service.claim(ref, "nia")
    service.record_outcome(ref, "nia", "reached_booked", "Spoke on her mobile.")
    assert redis_client.zscore(key("callback_queue"), ref) is None
    for keys in ("1", "3", "3", "1", "1", "1", "1", "2", "1"):  # the rest, as far as the time
        call.press(keys)
    assert store.callback(ref)["caller_finished"] is True  # the answers reached it
    assert redis_client.hget(key("callback", id=ref), "status") == "closed"
    assert redis_client.zscore(key("callback_queue"), ref) is None
    assert first_waiting(service) is None
