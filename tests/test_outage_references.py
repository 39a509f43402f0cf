"""References read to callers while Redis is down (ivr/outage/recovery.py): from the process's
pool of reserved references when it has one, else from the journal's own range (a leading 0),
different for every call and the same on every retry of a call's step."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from ivr.store.crypto import DataKeys
from tests.conftest import AUTH_TOKEN, FlaskTransport
from tests.test_redis_outage import _ref, dial, fast_delivery, make_app  # noqa: F401


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
    range, so two calls rarely meet (about 1 in 100,000 a pair)."""
    from ivr.outage.recovery import ReferencePool

    pool = ReferencePool(DataKeys.from_settings(settings))
    refs = [pool.fallback(f"CA{n:032d}") for n in range(300)]
    assert refs == [
        ReferencePool(DataKeys.from_settings(settings)).fallback(s)
        for s in (f"CA{n:032d}" for n in range(300))
    ]
    assert all(len(r) == 6 and r.isdigit() and r.startswith("0") for r in refs)
    assert len(set(refs)) >= 298
    assert {r[1] for r in refs} == set("0123456789")


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
