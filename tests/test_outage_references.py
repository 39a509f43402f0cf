"""References read to callers while Redis is down (ivr/outage/recovery.py): from the process's
pool of reserved references when it has one, else from the journal's own range (a leading 0),
different for every call and the same on every retry of a call's step."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from ivr.store.crypto import DataKeys
from ivr.store.keys import key
from tests.conftest import AUTH_TOKEN, FlaskTransport
from tests.test_redis_outage import _ref, dial, fast_delivery, make_app, wait_for  # noqa: F401


def book_during_outage(app, number: str) -> str:
    call = dial(app, from_number=number)
    call.press("3").press("1").press("1").press("3")
    heard = call.heard()
    assert "Your callback request is booked" in heard
    return _ref(heard)


def test_calls_that_start_during_an_outage_hear_different_references(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    app = make_app(fast_delivery)  # no healthy step yet: no reserved references
    outage.stop()
    refs = [book_during_outage(app, f"+44770090071{n}") for n in range(2)]
    assert all(ref.startswith("0") and len(ref) == 6 for ref in refs)
    assert refs[0] != refs[1]


def test_the_journal_range_is_every_six_digit_reference_starting_with_0(settings):
    """Every process computes a call's fallback alike (from the data key), spread over the whole
    range."""
    from ivr.outage.recovery import ReferencePool

    def derived(sid: str) -> str:  # in a process that has given no fallback yet
        return ReferencePool(DataKeys.from_settings(settings)).fallback(sid)

    refs = [derived(f"CA{n:032d}") for n in range(300)]
    assert refs == [derived(f"CA{n:032d}") for n in range(300)]
    assert all(len(r) == 6 and r.isdigit() and r.startswith("0") for r in refs)
    assert len(set(refs)) >= 298
    assert {r[1] for r in refs} == set("0123456789")


def test_a_process_never_gives_two_calls_the_same_fallback_reference(settings):
    """Hazard F15-1: 100,000 fallback references, and a busy outage hands out hundreds (a failover
    test gave 112 in two seconds), so plain hashing told two callers one reference about one run
    in sixteen. 2,000 calls would meet about twenty times; in one process they never do, and a
    call whose derivation was free is still given what every other process derives for it."""
    from ivr.outage.recovery import ReferencePool

    pool = ReferencePool(DataKeys.from_settings(settings))
    sids = [f"CA{n:032x}" for n in range(2000)]
    refs = [pool.take(sid) for sid in sids]
    assert len(set(refs)) == len(refs)
    assert all(len(r) == 6 and r.startswith("0") for r in refs)
    elsewhere = [ReferencePool(DataKeys.from_settings(settings)).take(sid) for sid in sids]
    same = [a == b for a, b in zip(refs, elsewhere, strict=True)]
    assert 1900 < sum(same) < 2000  # only the ones that met an earlier call's differ
    assert [pool.take(sid) for sid in sids] == refs  # a retry here gets what it was given


def test_a_process_that_saw_redis_gives_a_reserved_reference_in_an_outage(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    app = make_app(fast_delivery)
    dial(app, from_number="+447700900720").press("1")  # a healthy step fills the pool
    outage.stop()
    ref = book_during_outage(app, "+447700900721")
    assert len(ref) == 6 and not ref.startswith("0")
    outage.start()
    assert redis_client.sismember("ivr:callbacks:refs", ref)  # reserved before the outage


def test_a_retried_booking_step_in_an_outage_reads_the_same_reference(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    """Twilio retries a slow step: the caller hears the reference the first answer had."""
    app = make_app(fast_delivery)
    outage.stop()
    call = dial(app, from_number="+447700900722")
    call.press("3").press("1").press("1")
    url = urljoin(call.requests[-1][0], call.waiting.action)
    params = call.params({"Digits": "3", "msg": "Gather End"})
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    twilio = FlaskTransport(app.test_client())
    said = [
        re.sub(r"<[^>]+>", " ", body)  # what is spoken: the text between the tags
        for body in (twilio.post(url, params, {"X-Twilio-Signature": signature})[1] for _ in "12")
    ]
    assert "Your callback request is booked" in said[0]
    assert _ref(said[0]).startswith("0") and _ref(said[0]) == _ref(said[1])


def test_the_pool_never_reserves_a_reference_already_given_out(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    """A candidate someone already has (SADD says so) is not put in the pool, so a caller booked
    during an outage never shares a reference with another request."""
    app = make_app(fast_delivery)
    redis_client.sadd("ivr:callbacks:refs", "111111")
    fresh = iter(range(200000, 300000))
    candidates = iter(["111111"])
    app.extensions["ivr.store"].new_reference_candidate = lambda: (
        next(candidates, None) or str(next(fresh))
    )
    dial(app, from_number="+447700900730").press("1")  # a healthy step fills the pool
    outage.stop()
    assert book_during_outage(app, "+447700900731") == "200000"


def test_a_full_pool_reserves_nothing_more(make_app, fast_delivery, redis_client):  # noqa: F811
    app = make_app(fast_delivery)
    call = dial(app, from_number="+447700900732")
    reserved = redis_client.scard("ivr:callbacks:refs")
    assert reserved > 0
    call.press("1")  # the pool is full: this step's read reserves no more
    assert redis_client.scard("ivr:callbacks:refs") == reserved


def test_the_pool_remembers_the_latest_2000_calls_references(settings):
    """What a retried step of a recent call reads in an outage (the reference it was given); the
    oldest calls are forgotten first, so the memory stays bounded."""
    from ivr.outage.recovery import ReferencePool

    pool = ReferencePool(DataKeys.from_settings(settings))
    for n in range(2001):
        pool.remember(f"CA{n:032d}", f"{100000 + n}")
    assert pool.take(f"CA{2000:032d}") == "102000"
    assert pool.take(f"CA{1:032d}") == "100001"
    assert pool.take(f"CA{0:032d}") == ReferencePool(DataKeys.from_settings(settings)).fallback(
        f"CA{0:032d}"
    )


def test_another_workers_journal_is_delivered_after_this_ones_next_healthy_step(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    """A worker journals a request in an outage and stops before delivering it; a worker that
    was running all along delivers it once one of its own steps finds Redis again."""
    running = make_app(fast_delivery)
    stopping = make_app(replace(fast_delivery, journal_delivery_interval=3600))
    outage.stop()
    ref = book_during_outage(stopping, "+447700900733")
    outage.start()
    stopping.extensions["ivr.deliverer"].stop()  # seals its file, delivers nothing
    dial(running, from_number="+447700900734").press("1")
    delivered = wait_for(lambda: running.extensions["ivr.store"].callback(ref))
    assert delivered["phone"] == "+447700900733"


def test_a_booking_retried_on_another_worker_in_an_outage_reads_the_reference_reserved_before(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
    outage,
):
    """The caller starts booking while Redis answers (the reference is fixed on entering the
    callback questions); Redis goes; the step that makes the request (the number confirmed) is
    answered by this worker and, as Twilio's retry, by another one with its own pool. Both
    journal it under the same reference, the one reserved in Redis before the outage."""
    here, there = make_app(fast_delivery), make_app(fast_delivery)
    dial(there, from_number="+447700900740").press("1")  # the other worker has a pool too
    call = dial(here, from_number="+447700900741")
    call.press("3")
    outage.stop()
    url = urljoin(call.requests[-1][0], call.waiting.action)
    params = call.params({"Digits": "1", "msg": "Gather End"})  # yes, call me on this number
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    for app in (here, there):
        status, _ = FlaskTransport(app.test_client()).post(
            url, params, {"X-Twilio-Signature": signature}
        )
        assert status == 200
    journal = here.extensions["ivr.journal"]  # one directory for both
    refs = {entry["ref"] for path in journal.files() for entry in journal.entries(path)}
    assert len(journal.files()) == 2 and len(refs) == 1
    [ref] = refs
    assert len(ref) == 6 and not ref.startswith("0")
    outage.start()
    assert redis_client.sismember("ivr:callbacks:refs", ref)


def test_a_call_that_never_reaches_the_booking_questions_uses_up_no_reference(
    make_app,  # noqa: F811
    fast_delivery,  # noqa: F811
    redis_client,
):
    """References are never reissued: one is fixed for a call only when it enters the callback,
    screening or crisis questions, not for a caller who only listens to the information."""
    app = make_app(fast_delivery)
    dial(app, from_number="+447700900750").press("1")  # the pool is full after this
    reserved = redis_client.scard("ivr:callbacks:refs")
    listener = dial(app, from_number="+447700900751")
    listener.press("1")
    listener.hang_up()
    dial(app, from_number="+447700900752").press("1")  # would top the pool up again
    assert redis_client.scard("ivr:callbacks:refs") == reserved


def test_a_process_whose_spare_references_run_out_asks_redis_one_for_each_call(app, store):
    """Bookings faster than the steps that top the pool up (a busy minute): once the spares are
    gone, each call gets its own reference from Redis, kept as that call's."""
    pool = app.extensions["ivr.references"]
    allocate = pool.allocator(store)
    sids = [f"CA{n:032x}" for n in range(pool.size + 3)]
    refs = [allocate(sid) for sid in sids]
    assert len(set(refs)) == len(refs)
    assert all(len(r) == 6 and not r.startswith("0") for r in refs)
    for sid, ref in zip(sids[-3:], refs[-3:], strict=True):  # from Redis, named for the call
        assert store.redis.get(key("callback_for_call", sid=sid)) == ref


def test_callers_who_book_while_the_process_has_no_spare_reference_hear_their_own(
    app, phone, store
):
    """A busy process whose spares are gone (other calls' steps took them) asks Redis for each
    call's reference when it enters the booking questions: one per call, never one shared (the
    second booking would overwrite the first, and two callers would be told one reference)."""
    pool = app.extensions["ivr.references"]
    pool.size = 0  # every step finds the pool empty, as in the busiest minute
    pool._spare.clear()
    heard, sids = [], []
    for number in ("+447700900761", "+447700900762"):
        call = phone(from_number=number)
        call.press("3").press("1").press("1").press("3")
        said = call.heard()
        assert "Your callback request is booked" in said
        heard.append(_ref(said))
        sids.append(call.call_sid)
    assert heard[0] != heard[1]
    for sid, ref in zip(sids, heard, strict=True):
        assert store.redis.get(key("callback_for_call", sid=sid)) == ref
        assert store.redis.hget(key("callback", id=ref), "call_sid") == sid
    assert store.redis.zscore(key("callback_queue"), heard[0]) is not None


def test_a_reference_given_just_before_redis_failed_is_the_one_a_retry_hears(app, store):
    """The booking step's save timed out after the reference was given; Twilio's retry runs
    without Redis and must read the same reference, not a new one."""
    pool = app.extensions["ivr.references"]
    given = pool.allocator(store)("CA" + "7" * 32)
    assert pool.take("CA" + "7" * 32) == given


def test_a_caller_who_carries_on_after_booking_uses_up_no_more_references(phone, store):
    """After booking, a caller may answer more questions or go back to the menu: the call
    keeps its one reference, and no other is reserved for it."""
    call = phone(from_number="+447700900515")
    call.press("3").press("1").press("1").press("3")
    assert "Your callback request is booked" in call.all_heard()
    used = store.redis.scard(key("callback_refs"))
    for key_pressed in ("0", "2", "1", "1"):  # the main menu, then the screening questions
        call.press(key_pressed)
    assert not call.ended and "ending your life" in call.heard()  # the risk question
    assert store.redis.scard(key("callback_refs")) == used
