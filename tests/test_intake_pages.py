"""The intake pages as a worker uses them (Flask test client): who sees what, claiming,
recording outcomes, the export, CSRF. The browser story is in test_intake_browser.py."""

from __future__ import annotations

import re
import time

import pytest
from conftest import SCREENED_URGENT_KEYS, csrf_from

from tests.conftest import write_request


def post_form(client, path: str, page_path: str, **fields):
    token = csrf_from(client.get(page_path).get_data(as_text=True))
    return client.post(path, data={**fields, "csrf_token": token})


def test_signed_out_visitors_reach_no_intake_page(client, request_callback):
    ref = request_callback()
    for path in (
        "/intake/",
        "/intake/queue/rows",
        f"/intake/callbacks/{ref}",
        f"/intake/callbacks/{ref}/summary.txt",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"/intake/callbacks/{ref}/claim").status_code in (302, 400)
    assert client.get(f"/api/v1/callbacks/{ref}").status_code == 401


def test_queue_shows_masked_numbers_and_the_request_page_the_full_one(
    client, signed_in, request_callback
):
    ref = request_callback(from_number="+447700900123")
    signed_in(client, "intake")
    queue = client.get("/intake/").get_data(as_text=True)
    assert ref in queue and "********123" in queue
    assert "900123" not in queue
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    assert "07700 900123" in page and 'href="tel:+447700900123"' not in page  # not claimed yet
    assert "OK to leave a voicemail" in page and "Any time" in page


def test_managers_may_use_the_intake_pages(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client, "manager")
    assert ref in client.get("/intake/").get_data(as_text=True)


def test_screening_answers_and_phq2_meaning_are_shown(client, signed_in, request_callback):
    ref = request_callback(keys=SCREENED_URGENT_KEYS)
    signed_in(client)
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    assert "Urgent: risk" in page
    assert "5 of 6: suggests likely depression; screening only" in page
    assert "Grief or loss" in page and "Yes: thoughts of self-harm" in page
    assert "Morning (9am to 12 noon)" in page


def test_claim_call_record_and_close(client, signed_in, request_callback, redis_client):
    ref = request_callback()
    name = signed_in(client)
    page = f"/intake/callbacks/{ref}"
    assert post_form(client, f"{page}/claim", page).status_code == 303
    claimed = client.get(page).get_data(as_text=True)
    assert "You are working on this request" in claimed
    assert 'href="tel:+447700900123"' in claimed and "Voicemail left" in claimed
    response = post_form(client, f"{page}/outcome", page, outcome="no_answer", note="no reply")
    assert response.status_code == 303
    after = client.get(page).get_data(as_text=True)
    assert "Next attempt from" in after and "no reply" in after
    post_form(client, f"{page}/claim", page)
    done = post_form(client, f"{page}/outcome", page, outcome="reached_booked", note="booked")
    assert done.headers["Location"].endswith("/intake/")
    assert f"Request {ref} closed: Assessment booked" in client.get("/intake/").get_data(
        as_text=True
    )
    assert redis_client.hget(f"ivr:callback:{ref}", "status") == "closed"
    assert name in client.get(page).get_data(as_text=True)  # in the attempts and audit tables


def test_second_worker_is_told_who_has_it(app, signed_in, request_callback):
    ref = request_callback()
    nia, sam = app.test_client(), app.test_client()
    signed_in(nia, username="nia")
    signed_in(sam, username="sam")
    page = f"/intake/callbacks/{ref}"
    post_form(nia, f"{page}/claim", page)
    seen = sam.get(page).get_data(as_text=True)
    assert "nia is working on this request" in seen
    refused = post_form(sam, f"{page}/claim", page)
    assert refused.status_code == 409
    assert "nia is already working on this request" in refused.get_data(as_text=True)


def test_voicemail_is_not_offered_without_consent(client, signed_in, request_callback):
    ref = request_callback(keys=["3", "1", "2", "3"])
    signed_in(client)
    page = f"/intake/callbacks/{ref}"
    post_form(client, f"{page}/claim", page)
    html = client.get(page).get_data(as_text=True)
    assert "Do NOT leave a voicemail" in html and 'value="voicemail_left"' not in html
    forced = post_form(client, f"{page}/outcome", page, outcome="voicemail_left")
    assert forced.status_code == 400


def test_forms_without_the_csrf_token_change_nothing(client, signed_in, request_callback, store):
    ref = request_callback()
    signed_in(client)
    response = client.post(f"/intake/callbacks/{ref}/claim")
    assert response.status_code == 400
    assert store.callback(ref)["status"] == "queued"


def test_export_is_plain_text_and_audited(client, signed_in, request_callback, redis_client):
    ref = request_callback(keys=SCREENED_URGENT_KEYS)
    name = signed_in(client)
    response = client.get(f"/intake/callbacks/{ref}/summary.txt")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert text.startswith(f"IPT referral line: callback request {ref}\n")
    assert "Phone: 07700900123" in text and "Urgent (risk): YES" in text
    assert "PHQ-2 total: 5 of 6: suggests likely depression" in text
    actions = [f["action"] for _, f in redis_client.xrange(f"ivr:callback:{ref}:audit")]
    assert actions == ["exported"]
    assert redis_client.xrange(f"ivr:callback:{ref}:audit")[0][1]["who"] == name


def test_filter_and_search(client, signed_in, request_callback):
    first = request_callback(from_number="+447700900111")
    second = request_callback(from_number="+447700900222")
    signed_in(client)
    found = client.get("/intake/?q=0222").get_data(as_text=True)
    assert second in found and first not in found
    rows = client.get("/intake/queue/rows?status=closed").get_data(as_text=True)
    assert "No callback requests here." in rows
    assert client.get("/intake/?status=bogus").status_code == 400


def test_unknown_or_malformed_references_are_404(client, signed_in):
    signed_in(client)
    assert client.get("/intake/callbacks/999999").status_code == 404
    assert client.get("/intake/callbacks/abc").status_code == 404


def test_an_open_request_page_renews_its_claim_in_the_background(
    app, signed_in, request_callback, redis_client
):
    ref = request_callback()
    nia, sam = app.test_client(), app.test_client()
    signed_in(nia, username="nia")
    signed_in(sam, username="sam")
    page = f"/intake/callbacks/{ref}"
    post_form(nia, f"{page}/claim", page)
    html = nia.get(page).get_data(as_text=True)
    assert "claim.js" in html
    token = csrf_from(html)
    before = redis_client.zscore("ivr:callbacks:leases", ref)
    headers = {"X-CSRF-Token": token, "X-IVR-Background": "1"}
    assert nia.post(f"{page}/claim", headers=headers).status_code == 204
    assert redis_client.zscore("ivr:callbacks:leases", ref) > before
    actions = [f["action"] for _, f in redis_client.xrange(f"ivr:callback:{ref}:audit")]
    assert actions[-1] == "claim_renewed"
    sam_headers = {
        "X-CSRF-Token": csrf_from(sam.get(page).get_data(as_text=True)),
        "X-IVR-Background": "1",
    }
    lost = sam.post(f"{page}/claim", headers=sam_headers)
    assert lost.status_code == 409
    assert nia.post(f"{page}/claim", headers={"X-IVR-Background": "1"}).status_code == 400


SCREENINGS = [
    (
        {"phq2_interest": 1, "phq2_down": 2, "risk": "no", "difficulty": "grief"}
        | {"mood_pattern": "constant", "sessions_possible": "not_sure"},
        3,
        ["Several days (1)", "More than half the days (2)"]
        + ["3 of 6: suggests likely depression; screening only, not a diagnosis", "No"]
        + ["Grief or loss", "Low most of the time", "Not sure"],
    ),
    (
        {"phq2_interest": "skipped", "risk": "prefer_not_to_say"},
        None,
        ["Skipped", "Not asked", "Not scored (screening skipped or incomplete)"]
        + ["Preferred not to say", "Not asked", "Not asked", "Not asked"],
    ),
    (  # an answer a later flow file may add: shown as recorded rather than hidden
        {"phq2_interest": 0, "phq2_down": 5, "risk": "no", "difficulty": "new_kind"},
        2,
        ["Not at all (0)", "5 (5)", "2 of 6: below the usual threshold of 3; screening only"]
        + ["No", "new_kind", "Not asked", "Not asked"],
    ),
]


@pytest.mark.parametrize(("answers", "total", "shown"), SCREENINGS)
def test_each_screening_answer_reads_to_the_worker_in_words(
    client, signed_in, store, answers, total, shown
):
    """The request page's screening list, answer by answer, in the order the caller heard them."""
    ref = "300001"
    write_request(store, ref, time.time(), call_sid="CA" + "3" * 32, phone="+447700900301",
                  answers=answers, phq2_total=total)  # fmt: skip
    signed_in(client)
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    screening = page.split('id="screen-h"')[1].split("</dl>")[0]
    assert re.findall(r"<dd[^>]*>([^<]*)</dd>", screening) == shown
