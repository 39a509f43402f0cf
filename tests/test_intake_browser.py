"""End to end in headless Chromium: a worker signs in, sees a request a simulated call has just
queued appear without reloading, claims it by keyboard, records "no answer", sees it
rescheduled, records "reached" and sees it leave the queue; an urgent call arriving while the
queue is open changes the tab title and the live strip and is announced. Saves the README's
screenshots."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from conftest import SCREENED_URGENT_KEYS, STAFF_PASSWORD
from playwright.sync_api import expect

from ivr import create_app
from ivr.staff.users import create_user
from ivr.store.callbacks import queue_score

# Hears what IPT is and the four difficulties, back to the menu (0), then the screening.
LISTENED_THEN_SCREENED = ["1", "1", "0", *SCREENED_URGENT_KEYS]


@pytest.fixture
def app(open_hours, redis_client):
    """The usual app, but the queue page checks for new requests every second."""
    return create_app(replace(open_hours, queue_poll_seconds=1))


def fits_without_sideways_scrolling(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_worker_works_a_callback_to_a_close_in_the_browser(
    page, live_server, app, request_callback, screenshot_dir
):
    create_user(app.extensions["ivr.store"].redis, "nia", "intake", STAFF_PASSWORD)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{live_server}/intake/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("nia")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Callback queue")).to_be_visible()
    expect(page.locator("#queue tbody")).to_contain_text("No callback requests here.")

    # Callers ask for callbacks while the page is open; it updates without a reload.
    earlier = request_callback(from_number="+447700900456")
    ref = request_callback(from_number="+447700900123", keys=LISTENED_THEN_SCREENED)
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(ref)  # urgent first
    expect(rows.first).to_contain_text("Urgent")
    # Both may come in one update or in two ("1 new request arrived"), depending on timing.
    expect(page.locator("#queue-news")).to_contain_text(re.compile(r"new requests? arrived"))
    expect(page.locator("#queue")).not_to_contain_text("900123")  # masked in the queue

    page.get_by_role("link", name=ref, exact=True).click()
    expect(page.get_by_role("heading", name=f"Callback request {ref}")).to_be_visible()
    expect(page.locator("#phone")).to_have_text("07700 900123")
    expect(page.locator("#phq2")).to_contain_text("suggests likely depression")
    expect(page.locator("#heard li")).to_have_text(["What IPT is", "The four kinds of difficulty"])

    # Claim by keyboard alone.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Claim this request":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#status-line")).to_contain_text("You are working on this request")
    expect(page.get_by_role("link", name="Call 07700 900123")).to_have_attribute(
        "href", "tel:+447700900123"
    )
    page.get_by_label("No answer").check()
    page.get_by_label("Note (optional)").fill("Rang at 10:05, no answer, no voicemail left.")
    page.screenshot(path=str(screenshot_dir / "intake-request.png"), full_page=True)
    page.get_by_role("button", name="Record this attempt").click()
    expect(page.get_by_role("status").first).to_contain_text("Attempt recorded. Next attempt:")
    expect(page.locator("#status-line")).to_contain_text("Next attempt from")
    expect(page.locator("#attempts")).to_contain_text("Rang at 10:05")

    page.get_by_role("button", name="Claim this request").click()
    page.get_by_label("Reached: assessment booked").check()
    page.get_by_role("button", name="Record this attempt").click()
    expect(page).to_have_url(f"{live_server}/intake/")
    expect(page.get_by_role("status").first).to_contain_text(f"Request {ref} closed")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    expect(page.locator("#queue tbody")).to_contain_text(earlier)
    expect(page.locator("#queue tbody")).not_to_contain_text(ref)

    # At 200% zoom (half the width) nothing needs sideways scrolling.
    page.set_viewport_size({"width": 600, "height": 900})
    assert fits_without_sideways_scrolling(page)
    page.goto(f"{live_server}/intake/callbacks/{ref}")
    assert fits_without_sideways_scrolling(page)


def test_an_urgent_call_while_the_queue_is_open_changes_the_title_and_the_live_strip(
    page, live_server, app, request_callback, redis_client, screenshot_dir
):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    routine = request_callback(from_number="+447700900456")
    # A request from ten days ago, long past its target (its queue score says when, too).
    late = request_callback(from_number="+447700900789")
    created = time.time() - 10 * 86400
    redis_client.hset(f"ivr:callback:{late}", "created_at", repr(created))
    redis_client.zadd("ivr:callbacks:queue", {late: queue_score(created, urgent=False)})
    page.goto(f"{live_server}/login?next=/intake/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile(r"^Callback queue"))
    strip = page.locator("#live-strip")
    expect(strip.locator("#strip-waiting")).to_have_text("2")
    expect(strip.locator("#strip-urgent")).to_have_text("0")
    expect(strip.locator("#strip-overdue")).to_have_text("1")
    expect(strip.locator("#strip-oldest")).to_have_text(re.compile(r"10 days"))
    expect(page.get_by_label("Sound for urgent requests")).not_to_be_checked()  # off by default

    ref = request_callback(from_number="+447700900123", keys=SCREENED_URGENT_KEYS)
    expect(page).to_have_title(re.compile(r"^\(1 urgent\) Callback queue"))
    expect(strip.locator("#strip-urgent")).to_have_text("1")
    expect(strip.locator("#strip-waiting")).to_have_text("3")
    alarm = page.locator("#queue-alert")
    expect(alarm).to_have_text(f"Urgent request {ref} has arrived: the caller reported risk.")
    assert alarm.get_attribute("aria-live") == "assertive"
    expect(page.locator("#queue tbody tr").first).to_contain_text(ref)

    # Urgent and Overdue differ by word, icon and shape, not colour alone.
    urgent_tag = page.locator(f'tr[data-ref="{ref}"] .tag-urgent')
    overdue_tag = page.locator(f'tr[data-ref="{late}"] .tag-overdue')
    expect(urgent_tag).to_have_text("▲ Urgent")
    expect(overdue_tag).to_have_text("⚑ Overdue")

    def look(tag):
        return tag.evaluate(
            "e => { const s = getComputedStyle(e); return [s.borderTopStyle, s.borderRadius]; }"
        )

    assert look(urgent_tag) != look(overdue_tag)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.screenshot(path=str(screenshot_dir / "intake-queue.png"), full_page=True)

    # A worker takes the routine one: the strip says who is working what.
    page.get_by_role("link", name=routine, exact=True).click()
    page.get_by_role("button", name="Claim this request").click()
    page.get_by_role("link", name="Back to the queue").click()
    expect(strip.locator("#strip-working")).to_contain_text(f"sam ({routine})")
    expect(strip.locator("#strip-waiting")).to_have_text("2")
