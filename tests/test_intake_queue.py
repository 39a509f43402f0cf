"""The intake service against real Redis: ordering, leases, concurrent claims, outcomes and
their scheduling, and the audit trail."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from conftest import SCREENED_URGENT_KEYS

from ivr.intake.outcomes import OUTCOMES, next_attempt_time, plan
from ivr.intake.queue import STATUSES
from ivr.intake.service import Intake, IntakeError
from ivr.line.hours import Hours


@pytest.fixture
def service(app, store):
    settings = app.config["SETTINGS"]
    return Intake(store, settings, Hours.from_settings(settings))


def in_status_indexes(redis, ref: str) -> list[str]:
    return [s for s in STATUSES if redis.zscore(f"ivr:callbacks:status:{s}", ref) is not None]


def assert_consistent(redis, ref: str, status: str) -> None:
    """The hash and the status indexes agree, whatever happened."""
    assert redis.hget(f"ivr:callback:{ref}", "status") == status
    assert in_status_indexes(redis, ref) == [status]


def test_urgent_requests_first_then_oldest(service, request_callback):
    older = request_callback(from_number="+447700900111")
    urgent = request_callback(from_number="+447700900222", keys=SCREENED_URGENT_KEYS)
    newest = request_callback(from_number="+447700900333")
    assert [row["reference"] for row in service.queue()] == [urgent, older, newest]


def test_search_by_reference_or_last_digits(service, request_callback):
    first = request_callback(from_number="+447700900111")
    request_callback(from_number="+447700900222")
    assert [r["reference"] for r in service.queue(search="0111")] == [first]
    assert [r["reference"] for r in service.queue(search=first)] == [first]
    assert service.queue(search="999999") == []


def test_claim_marks_who_has_it_and_filters_by_status(service, request_callback, redis_client):
    ref = request_callback()
    service.claim(ref, "nia")
    assert_consistent(redis_client, ref, "claimed")
    assert [r["reference"] for r in service.queue("claimed")] == [ref]
    assert service.queue("queued") == []
    assert service.queue()[0]["claimed_by"] == "nia"


def test_many_workers_claim_at_once_and_exactly_one_wins(service, request_callback, redis_client):
    ref = request_callback()
    workers = [f"worker{n}" for n in range(24)]
    barrier = threading.Barrier(len(workers))
    won, refused = [], []

    def try_claim(name: str) -> None:
        barrier.wait()
        try:
            service.claim(ref, name)
            won.append(name)
        except IntakeError as exc:
            refused.append((name, exc.status, exc.details.get("claimed_by")))

    threads = [threading.Thread(target=try_claim, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(won) == 1
    assert len(refused) == len(workers) - 1
    assert {(status, holder) for _, status, holder in refused} == {(409, won[0])}
    assert redis_client.hget(f"ivr:callback:{ref}", "claimed_by") == won[0]
    assert_consistent(redis_client, ref, "claimed")


def test_a_lapsed_claim_returns_to_the_queue_by_itself(service, request_callback, redis_client):
    ref = request_callback()
    service.claim(ref, "nia")
    lease = redis_client.zscore("ivr:callbacks:leases", ref)
    assert lease > time.time()
    rows = service.queue(now=lease + 1)  # anyone reading the queue after the lease sweeps it
    assert rows[0]["status"] == "queued" and not rows[0].get("claimed_by")
    assert_consistent(redis_client, ref, "queued")
    assert redis_client.zscore("ivr:callbacks:leases", ref) is None
    trail = [(e["who"], e["action"]) for e in service.get(ref, "sam")["audit"]]
    assert ("system", "lease_expired") in trail


def test_another_worker_may_take_over_a_lapsed_claim(service, request_callback, redis_client):
    ref = request_callback()
    now = time.time()
    claims = service.transitions
    assert claims.run("claim", ref, now, "nia", repr(now + 60)) == ["ok"]
    assert claims.run("claim", ref, now + 30, "sam", repr(now + 90))[:2] == ["taken", "nia"]
    # Past the lease, even before any sweep has run, the claim is free to take over.
    assert claims.run("claim", ref, now + 61, "sam", repr(now + 121)) == ["ok"]
    assert redis_client.hget(f"ivr:callback:{ref}", "claimed_by") == "sam"
    trail = service.get(ref, "sam", action=None)["audit"]
    assert trail[-1]["detail"] == "after the claim by nia lapsed"


def test_the_holder_can_release_but_nobody_else(service, request_callback, redis_client):
    ref = request_callback()
    service.claim(ref, "nia")
    with pytest.raises(IntakeError, match="nia has this request"):
        service.release(ref, "sam")
    service.release(ref, "nia")
    assert_consistent(redis_client, ref, "queued")


def test_next_attempt_skips_a_bank_holiday_weekend(settings):
    hours = Hours.from_settings(replace(settings, holiday_subdivision="ENG"))
    assert not hours.is_working_day(date(2026, 8, 31))  # the summer bank holiday, a Monday
    friday = datetime(2026, 8, 28, 15, 0, tzinfo=hours.tz)
    morning = next_attempt_time(friday, "morning", hours)
    assert morning == datetime(2026, 9, 1, 9, 0, tzinfo=hours.tz)
    assert next_attempt_time(friday, "afternoon", hours).hour == 12
    assert next_attempt_time(friday, "any", hours).date() == date(2026, 9, 1)


def test_next_attempt_is_the_next_working_day_in_the_services_own_time(settings):
    hours = Hours.from_settings(settings)
    tuesday = datetime(2026, 11, 24, 15, 0, tzinfo=hours.tz)
    assert next_attempt_time(tuesday, "morning", hours) == datetime(
        2026, 11, 25, 9, 0, tzinfo=hours.tz
    )
    # 23:30 UTC on a summer Tuesday is already Wednesday in London: the next attempt is Thursday.
    late = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    assert next_attempt_time(late, "afternoon", hours) == datetime(
        2026, 7, 16, 12, 0, tzinfo=hours.tz
    )


def test_an_unanswered_routine_call_is_tried_again_in_the_callers_window(settings):
    hours = Hours.from_settings(settings)
    tuesday = datetime(2026, 11, 24, 10, 0, tzinfo=hours.tz)
    again = plan(OUTCOMES["no_answer"], 0, "afternoon", tuesday, hours, limit=3)
    assert datetime.fromtimestamp(again.next_attempt_at, hours.tz) == datetime(
        2026, 11, 25, 12, 0, tzinfo=hours.tz
    )


def test_attempts_close_as_unreachable_after_the_limit(settings):
    hours = Hours.from_settings(settings)
    now = datetime(2026, 11, 25, 10, 0, tzinfo=hours.tz)
    assert plan(OUTCOMES["no_answer"], 0, "any", now, hours, limit=3).status == "scheduled"
    assert plan(OUTCOMES["voicemail_left"], 1, "any", now, hours, limit=3).status == "scheduled"
    last = plan(OUTCOMES["no_answer"], 2, "any", now, hours, limit=3)
    assert (last.status, last.close_reason) == ("closed", "unreachable")
    wrong = plan(OUTCOMES["wrong_number"], 0, "any", now, hours, limit=3)
    assert (wrong.status, wrong.close_reason) == ("closed", "wrong_number")


def test_no_answer_schedules_then_third_try_closes(service, request_callback, redis_client):
    ref = request_callback()
    service.claim(ref, "nia")
    cb = service.record_outcome(ref, "nia", "no_answer", "rang 10 times")
    assert cb["status"] == "scheduled" and cb["attempts"] == 1
    assert cb["next_attempt_at"] > time.time()
    assert cb.get("first_attempt_at") and not cb.get("contacted_at")
    assert redis_client.zscore("ivr:callbacks:scheduled", ref) == cb["next_attempt_at"]
    assert_consistent(redis_client, ref, "scheduled")
    # Not due yet, so it waits in the queue behind requests ready to call.
    fresh = request_callback(from_number="+447700900777")
    assert [r["reference"] for r in service.queue()] == [fresh, ref]
    # When the time comes it is queued again by itself.
    service.queue(now=cb["next_attempt_at"] + 1)
    assert_consistent(redis_client, ref, "queued")
    for n in (2, 3):
        service.claim(ref, "sam")
        cb = service.record_outcome(ref, "sam", "no_answer", "")
        assert cb["attempts"] == n
    assert (cb["status"], cb["close_reason"]) == ("closed", "unreachable")
    assert cb.get("closed_at")
    assert_consistent(redis_client, ref, "closed")
    assert redis_client.zscore("ivr:callbacks:queue", ref) is None
    assert redis_client.zscore("ivr:callbacks:scheduled", ref) is None
    assert [a["outcome"] for a in cb["attempt_list"]] == ["no_answer"] * 3
    assert cb["attempt_list"][0]["note"] == "rang 10 times"


def test_reaching_the_caller_closes_the_request(service, request_callback, redis_client):
    ref = request_callback()
    service.claim(ref, "nia")
    cb = service.record_outcome(ref, "nia", "reached_booked", "assessment Tue 10am")
    assert (cb["status"], cb["close_reason"], cb["attempts"]) == ("closed", "reached_booked", 1)
    assert cb["contacted_at"] == cb["first_attempt_at"] == cb["closed_at"]
    assert service.queue() == []
    assert [r["reference"] for r in service.queue("closed")] == [ref]


def test_outcome_needs_a_claim_and_a_known_outcome(service, request_callback):
    ref = request_callback()
    with pytest.raises(IntakeError, match="Claim this request"):
        service.record_outcome(ref, "nia", "no_answer", "")
    service.claim(ref, "sam")
    with pytest.raises(IntakeError, match="sam has it now"):
        service.record_outcome(ref, "nia", "no_answer", "")
    with pytest.raises(IntakeError, match="Choose an outcome"):
        service.record_outcome(ref, "sam", "maybe", "")
    with pytest.raises(IntakeError) as missing:
        service.claim("123", "sam")
    assert missing.value.status == 404


def test_no_voicemail_without_consent(service, request_callback, redis_client):
    ref = request_callback(keys=["3", "1", "2", "3"])  # voicemail: no
    service.claim(ref, "nia")
    with pytest.raises(IntakeError, match="did not agree to a voicemail"):
        service.record_outcome(ref, "nia", "voicemail_left", "")
    assert redis_client.hget(f"ivr:callback:{ref}", "attempts") is None


def test_every_view_and_change_is_audited(service, request_callback, redis_client):
    ref = request_callback()
    service.get(ref, "nia")
    service.claim(ref, "nia")
    service.record_outcome(ref, "nia", "wrong_number", "a shop")
    trail = service.get(ref, "sam")["audit"]
    assert [(e["who"], e["action"]) for e in trail] == [
        ("nia", "viewed"),
        ("nia", "claimed"),
        ("nia", "outcome"),
        ("sam", "viewed"),
    ]
    assert "Wrong number" in trail[2]["detail"] and "closed" in trail[2]["detail"]
    assert all(e["t"] > 0 for e in trail)
    everything = redis_client.xrange("ivr:audit")
    assert [f["callback"] for _, f in everything] == [ref] * 4


def test_overdue_after_the_target_in_working_days(service, request_callback):
    ref = request_callback()
    cb = service.get(ref, "nia", action=None)
    assert not cb["overdue"]
    later = service.describe(cb, now=cb["created_at"] + 10 * 86400)
    assert later["overdue"]
    assert cb["created_at"] < cb["target_at"] <= cb["created_at"] + 6 * 86400


def test_a_closed_request_is_never_overdue(service, request_callback):
    ref = request_callback()
    service.claim(ref, "nia")
    closed = service.record_outcome(ref, "nia", "reached_booked", "")
    assert closed["status"] == "closed"
    assert not service.describe(closed, now=closed["created_at"] + 10 * 86400)["overdue"]


def test_sweep_command_returns_lapsed_claims(service, request_callback, redis_server, redis_client):
    from click.testing import CliRunner

    from ivr.cli import main as cli

    ref = request_callback()
    service.claim(ref, "nia")
    redis_client.zadd("ivr:callbacks:leases", {ref: time.time() - 1})  # as if the lease ran out
    result = CliRunner().invoke(
        cli, ["callbacks", "sweep"], env={"REDIS_URL": redis_server.url, "IVR_ENV": "test"}
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 callback request(s) returned")
    assert_consistent(redis_client, ref, "queued")


def test_the_sweep_counts_lapsed_claims_and_attempts_come_due_alike(
    service, request_callback, redis_client
):
    """What `ivr callbacks sweep` prints: a lapsed claim and a next attempt whose time has come
    are both back in the queue, two requests; a request not yet due is not counted."""
    lapsed, due, later = (request_callback(from_number=f"+44770090066{n}") for n in range(3))
    service.claim(lapsed, "nia")
    for ref in (due, later):
        service.claim(ref, "nia")
        service.record_outcome(ref, "nia", "no_answer", "")
    now = time.time()
    redis_client.zadd("ivr:callbacks:leases", {lapsed: now - 1})
    redis_client.zadd("ivr:callbacks:scheduled", {due: now - 1})
    assert service.transitions.sweep(now) == 2
    assert_consistent(redis_client, lapsed, "queued")
    assert_consistent(redis_client, due, "queued")
    assert_consistent(redis_client, later, "scheduled")
    assert service.transitions.sweep(now) == 0
