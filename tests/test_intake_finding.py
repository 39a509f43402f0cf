"""Finding any request (problem 4): every status view pages instead of stopping at 200, a search
finds a reference in any status, and repeat requests from one number are linked on the request
page and can be merged (audited)."""

from __future__ import annotations

import re
import time

import pytest
from conftest import SCREENED_URGENT_KEYS, csrf_from

from ivr.intake.service import Intake
from ivr.line.hours import Hours
from tests.conftest import write_request


def closed_requests(store, service, count: int) -> list[str]:
    """`count` requests written as the line writes them, then closed by a worker; oldest first."""
    refs = []
    start = time.time() - count * 60
    for n in range(count):
        ref = f"{200000 + n}"  # distinct by construction (random ones collided 1 run in 40)
        write_request(store, ref, start + n * 60, n)
        # Closed by the queue's own scripts (as record_outcome does, without its page reads).
        now = time.time()
        assert service.transitions.run("claim", ref, now, "nia", repr(now + 60)) == ["ok"]
        closing = ("reached_booked", "closed", "", "reached_booked", "{}", "1", "attempt 1")
        assert service.transitions.run("outcome", ref, now, "nia", 0, *closing) == ["ok"]
        refs.append(ref)
    return refs


@pytest.fixture
def service(app, store):
    settings = app.config["SETTINGS"]
    return Intake(store, settings, Hours.from_settings(settings))


def test_the_closed_view_pages_and_a_search_finds_the_oldest(client, signed_in, store, service):
    refs = closed_requests(store, service, 205)
    signed_in(client)
    oldest = refs[0]
    page = client.get(f"/intake/?status=closed&q={oldest}").get_data(as_text=True)
    assert f'data-ref="{oldest}"' in page
    first = client.get("/intake/?status=closed").get_data(as_text=True)
    assert "Page 1 of 5 (205 requests)" in first
    assert f'data-ref="{refs[-1]}"' in first  # newest first
    last = client.get("/intake/?status=closed&page=5").get_data(as_text=True)
    assert re.findall(r'data-ref="(\d+)"', last) == list(reversed(refs[:5]))
    assert "Previous page" in last and "Next page" not in last
    past = client.get("/intake/?status=closed&page=9").get_data(as_text=True)
    assert "Page 5 of 5" in past and f'data-ref="{refs[0]}"' in past


def test_a_reference_searched_in_the_wrong_view_says_where_it_is(
    client, signed_in, request_callback, service
):
    ref = request_callback()
    service.claim(ref, "nia")
    service.record_outcome(ref, "nia", "reached_declined", "")
    signed_in(client)
    page = client.get(f"/intake/?q={ref}").get_data(as_text=True)
    assert f'Request <a href="/intake/callbacks/{ref}">{ref}</a> is closed' in page
    assert f"/intake/?status=closed&amp;q={ref}" in page


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1e9", "99999999"])
def test_a_bad_page_number_is_a_clear_400(client, signed_in, page):
    signed_in(client)
    response = client.get(f"/intake/?status=closed&page={page}")
    assert response.status_code == 400
    assert "The page must be a whole number" in response.get_data(as_text=True)


def test_a_page_past_the_end_shows_the_last_page(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client)
    page = client.get("/intake/?page=7").get_data(as_text=True)
    assert f'data-ref="{ref}"' in page


def test_repeat_requests_from_one_number_are_linked_and_can_be_merged(
    client, signed_in, request_callback, redis_client
):
    first = request_callback(from_number="+447700900123")
    again = request_callback(from_number="+447700900123", keys=SCREENED_URGENT_KEYS)
    other = request_callback(from_number="+447700900456")
    worker = signed_in(client)
    page = client.get(f"/intake/callbacks/{first}").get_data(as_text=True)
    assert "Other requests from this number" in page
    assert f'href="/intake/callbacks/{again}"' in page
    assert f"/intake/callbacks/{other}" not in page

    token = csrf_from(page)
    # Only a request from the same number can be merged in.
    refused = client.post(
        f"/intake/callbacks/{first}/merge", data={"into": other, "csrf_token": token}
    )
    assert refused.status_code == 400
    assert "is not from the same number" in refused.get_data(as_text=True)
    for junk in ("", "12", "abcdef", first):
        bad = client.post(
            f"/intake/callbacks/{first}/merge", data={"into": junk, "csrf_token": token}
        )
        assert bad.status_code == 400, junk

    merged = client.post(
        f"/intake/callbacks/{again}/merge",
        data={"into": first, "csrf_token": token},
        follow_redirects=True,
    )
    text = merged.get_data(as_text=True)
    assert f"Request {again} merged into this one." in text
    assert redis_client.hget(f"ivr:callback:{again}", "status") == "closed"
    assert redis_client.hget(f"ivr:callback:{again}", "merged_into") == first
    # The urgent flag goes with it: the kept request is now urgent, at the top of the queue.
    assert redis_client.hget(f"ivr:callback:{first}", "urgent") == "1"
    queue = client.get("/intake/").get_data(as_text=True)
    assert re.findall(r'data-ref="(\d+)"', queue)[0] == first
    assert f"{worker}" in text and "A repeat request was merged in" in text
    audit = client.get(f"/intake/callbacks/{again}").get_data(as_text=True)
    assert f"Merged as a repeat request: into {first}" in audit
