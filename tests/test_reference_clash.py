"""Hazard F15-1: two callers told one reference during an outage.

A process with no spare references left derives a call's reference from its CallSid (a leading
0, 100,000 of them). Two processes can derive the same one for different calls; each caller
hears it. Delivery then gives the later request a new reference, and intake must still be able
to find both requests by the reference the callers quote, and be told to check who is calling."""

from __future__ import annotations

import re
import time

from ivr.outage.recovery import deliver_record
from ivr.store.keys import key
from tests.conftest import new_request

TOLD = "012345"


def journalled(n: int, **fields) -> dict:
    """A journal record as ivr/line/degraded.py writes it, for the call made from `n`."""
    callback = new_request(TOLD, time.time() - 60 + n, n, **fields)
    return {"callback": callback, "events": [], "log": {}}


def deliver_the_clash(store) -> str:
    """Two processes' journals with one derived reference: delivered; returns the new one."""
    assert deliver_record(store, journalled(1)) == "delivered"
    assert deliver_record(store, journalled(2, urgent=True)) == "delivered"
    refs = store.redis.zrange(key("callback_queue"), 0, -1)
    assert len(refs) == 2 and TOLD in refs
    return next(ref for ref in refs if ref != TOLD)


def test_both_requests_are_kept_and_each_knows_the_reference_was_told_twice(app, store):
    new = deliver_the_clash(store)
    first, second = store.callback(TOLD), store.callback(new)
    assert first["call_sid"] == f"CA{1:032d}" and first["phone"] == "+447700900001"
    assert second["call_sid"] == f"CA{2:032d}" and second["phone"] == "+447700900002"
    assert second["told_reference"] == TOLD
    assert first["also_told_to"] == new
    assert "told_reference" not in first


def test_a_search_for_the_told_reference_finds_both_requests(app, store, client, signed_in):
    new = deliver_the_clash(store)
    signed_in(client)
    page = client.get(f"/intake/?q={TOLD}").get_data(as_text=True)
    rows = re.findall(r'<tr data-ref="(\d+)"', page)
    assert sorted(rows) == sorted([TOLD, new])
    assert f"(caller was told {TOLD})" in page
    assert page.count("Reference told twice") == 2


def test_each_request_page_says_to_check_the_callers_number(app, store, client, signed_in):
    new = deliver_the_clash(store)
    signed_in(client)
    second = client.get(f"/intake/callbacks/{new}").get_data(as_text=True)
    assert f"this caller was told reference <strong>{TOLD}</strong>" in second
    assert "check their phone number before you discuss anything" in second
    assert f'href="/intake/callbacks/{TOLD}"' in second
    first = client.get(f"/intake/callbacks/{TOLD}").get_data(as_text=True)
    assert f"reference {TOLD} was also told to another caller" in first
    assert f'href="/intake/callbacks/{new}"' in first


def test_a_later_answer_journalled_under_the_told_reference_reaches_the_renumbered_request(
    app, store
):
    """The caller answered another question after booking (an update), journalled under the
    reference they heard: it belongs to their own request, not lost and not the other caller's."""
    new = deliver_the_clash(store)
    update = journalled(2, urgent=True, is_update=True, preferred_time="morning")
    assert deliver_record(store, update) == "updated"
    assert store.callback(new)["preferred_time"] == "morning"
    assert store.callback(TOLD)["preferred_time"] == "any"
    assert len(store.redis.zrange(key("callback_queue"), 0, -1)) == 2


def test_a_third_caller_told_the_same_reference_is_listed_too(app, store):
    new = deliver_the_clash(store)
    assert deliver_record(store, journalled(3)) == "delivered"
    third = next(
        ref for ref in store.redis.zrange(key("callback_queue"), 0, -1) if ref not in (TOLD, new)
    )
    assert store.callback(TOLD)["also_told_to"] == " ".join(sorted([new, third]))
