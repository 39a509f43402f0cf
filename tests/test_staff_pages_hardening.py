"""A review of the staff and manager web app as a worker, a manager and an attacker meet it:
caching of pages with personal data, sign-out that really ends a session, formulas in CSV
exports, and forms sent after a session went idle."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace

import pytest
from conftest import STAFF_PASSWORD, csrf_from
from playwright.sync_api import expect

from ivr import create_app
from ivr.staff.users import create_user
from ivr.store.keys import key


@pytest.fixture
def app(open_hours, redis_client):
    """The usual app, but an open queue page checks for new requests every second."""
    app = create_app(replace(open_hours, queue_poll_seconds=1))
    yield app
    close(app)


def close(app) -> None:
    """Stop the app's delivery thread and close its Redis sockets (warnings are errors here)."""
    app.extensions["ivr.deliverer"].stop()
    app.extensions["ivr.store"].redis.connection_pool.disconnect()


def sign_in_in_browser(page, live_server, app, role="intake", username="nia"):
    create_user(app.extensions["ivr.store"].redis, username, role, STAFF_PASSWORD)
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_pages_with_personal_data_are_never_cached(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client, "admin")
    for path in (
        "/intake/",
        "/intake/queue/rows",
        f"/intake/callbacks/{ref}",
        "/reports/",
        "/reports/calls",
        "/reports/calls.csv",
        "/reports/figures.csv?table=calls_per_day",
        "/admin/users",
    ):
        response = client.get(path)
        response.get_data()  # CSVs stream
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") == "no-store", path


def test_api_answers_are_never_cached(client, app, request_callback):
    from ivr.api.tokens import create_token

    ref = request_callback()
    token = create_token(app.extensions["ivr.store"].redis, "records")
    response = client.get(f"/api/v1/callbacks/{ref}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") == "no-store"


def test_a_session_cookie_copied_before_sign_out_no_longer_works(client, signed_in):
    signed_in(client, "intake")
    copied = client.get_cookie("ivr_session").value
    token = csrf_from(client.get("/intake/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    client.set_cookie("ivr_session", copied)  # someone replays the cookie from before
    response = client.get("/intake/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_csv_exports_neutralise_cells_that_a_spreadsheet_would_run(client, signed_in, phone, store):
    # A caller ID is whatever the network passes on; make the call log hold a formula.
    call = phone(from_number="+447700900123")
    call.hang_up()
    store.redis.hset(key("call_log", sid=call.call_sid), "last_node", '=HYPERLINK("x")')
    signed_in(client, "manager")
    text = client.get("/reports/calls.csv").get_data(as_text=True)
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert '\'=HYPERLINK("x")' in cells
    assert not any(cell[:1] in ("=", "+", "-", "@") for cell in cells)


def test_a_form_sent_after_the_session_went_idle_returns_to_its_page_after_sign_in(
    open_hours, redis_client, request_callback
):
    app = create_app(replace(open_hours, session_idle_minutes=1))
    client = app.test_client()
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"username": "sam", "password": STAFF_PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302
    ref = request_callback()
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    with client.session_transaction() as session:
        session["seen"] -= 3600  # the worker went to lunch with the page open
    response = client.post(f"/intake/callbacks/{ref}/claim", data={"csrf_token": csrf_from(page)})
    assert response.headers["Location"].startswith("/login")
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    data["csrf_token"] = csrf_from(login_page)
    data["next"] = re.search(r'name="next" value="([^"]*)"', login_page).group(1)
    after = client.post("/login", data=data, follow_redirects=True)
    assert after.status_code == 200  # not "405 Method Not Allowed" on the claim URL
    assert f"Callback request {ref}" in after.get_data(as_text=True)
    close(app)


def test_the_queue_updating_itself_keeps_a_keyboard_users_place(
    page, live_server, app, request_callback
):
    first = request_callback(from_number="+447700900111")
    sign_in_in_browser(page, live_server, app)
    page.goto(f"{live_server}/intake/")
    link = page.get_by_role("link", name=first, exact=True)
    link.focus()
    request_callback(from_number="+447700900222")  # a new request arrives while they read
    expect(page.locator("#queue-news")).to_contain_text("1 new request arrived")
    expect(page.locator("#queue tbody tr")).to_have_count(2)
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == first  # not thrown back to the top of the page


def test_an_outcome_sent_after_the_claim_lapsed_keeps_the_note_for_a_second_try(
    page, live_server, app, request_callback, redis_client
):
    ref = request_callback()
    sign_in_in_browser(page, live_server, app)
    page.goto(f"{live_server}/intake/callbacks/{ref}")
    page.get_by_role("button", name="Claim this request").click()
    page.get_by_label("No answer").check()
    page.get_by_label("Note (optional)").fill("Rang twice; line busy. Try after 2pm.")
    redis_client.zadd(key("callback_leases"), {ref: 1})  # a long call: the claim lapsed
    page.get_by_role("button", name="Record this attempt").click()
    expect(page.get_by_role("alert")).to_contain_text("Claim this request")
    expect(page.locator("main")).to_contain_text("Rang twice; line busy. Try after 2pm.")

    page.get_by_role("button", name="Claim this request").click()  # claim again: nothing retyped
    expect(page.get_by_label("Note (optional)")).to_have_value(
        "Rang twice; line busy. Try after 2pm."
    )
    expect(page.get_by_label("No answer")).to_be_checked()
    page.get_by_role("button", name="Record this attempt").click()
    expect(page.locator("#attempts")).to_contain_text("Rang twice; line busy. Try after 2pm.")


@pytest.mark.parametrize("cursor", ["nan:CA1", "1_000:CA1"])
def test_a_doctored_page_cursor_is_a_400_not_a_database_outage(
    client, app, signed_in, request_callback, cursor
):
    from ivr.api.tokens import create_token

    request_callback()
    auth = {"Authorization": f"Bearer {create_token(app.extensions['ivr.store'].redis, 'x')}"}
    for path in ("/api/v1/callbacks", "/api/v1/calls"):
        response = client.get(path, query_string={"cursor": cursor}, headers=auth)
        assert response.status_code == 400, (path, response.get_json())
        assert "cursor" in response.get_json()["message"]
    signed_in(client, "manager")
    response = client.get("/reports/calls", query_string={"cursor": cursor})
    assert response.status_code == 400
    assert "start again from the first page" in response.get_data(as_text=True)


def test_dates_at_the_end_of_the_calendar_are_a_400_not_a_crash(client, app, signed_in):
    from ivr.api.tokens import create_token

    auth = {"Authorization": f"Bearer {create_token(app.extensions['ivr.store'].redis, 'x')}"}
    response = client.get("/api/v1/calls?end=9999-12-31", headers=auth)
    assert response.status_code == 400
    assert "dates" in response.get_json()["message"]
    signed_in(client, "manager")
    for path in ("/reports/", "/reports/calls", "/reports/calls.csv"):
        response = client.get(f"{path}?start=9999-12-30&end=9999-12-31")
        assert response.status_code == 400, path
        assert "Dates must" in response.get_data(as_text=True)


def test_the_bearer_scheme_is_case_insensitive(client, app):
    from ivr.api.tokens import create_token

    token = create_token(app.extensions["ivr.store"].redis, "records")
    response = client.get("/api/v1/calls", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200  # RFC 9110: the scheme name is case-insensitive


def test_an_attempt_sent_twice_by_a_double_click_is_recorded_once_and_not_refused(
    client, signed_in, request_callback, redis_client
):
    ref = request_callback()
    signed_in(client, "intake")
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    client.post(f"/intake/callbacks/{ref}/claim", data={"csrf_token": csrf_from(page)})
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    fields.update(outcome="no_answer", note="No answer at 10:05.")
    first = client.post(f"/intake/callbacks/{ref}/outcome", data=fields)
    second = client.post(f"/intake/callbacks/{ref}/outcome", data=fields)
    assert first.status_code == second.status_code == 303
    shown = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "Attempt recorded" in shown and "not saved" not in shown
    assert redis_client.llen(key("callback_attempts", id=ref)) == 1


def test_an_api_outcome_with_a_misspelt_field_is_refused_not_saved_without_its_note(
    client, app, request_callback, redis_client
):
    from ivr.api.tokens import create_token

    ref = request_callback()
    auth = {"Authorization": f"Bearer {create_token(app.extensions['ivr.store'].redis, 'epr')}"}
    assert client.post(f"/api/v1/callbacks/{ref}/claim", headers=auth).status_code == 200
    response = client.post(
        f"/api/v1/callbacks/{ref}/outcome",
        json={"outcome": "no_answer", "notes": "Left no message."},
        headers=auth,
    )
    assert response.status_code == 400
    assert "notes" in response.get_json()["message"]
    assert redis_client.llen(key("callback_attempts", id=ref)) == 0


def test_signing_out_after_the_session_cookie_expired_just_signs_out(client):
    # The page was left open past the cookie's lifetime; the browser no longer sends a session.
    response = client.post("/logout", data={"csrf_token": "from-the-old-page"})
    assert response.status_code == 302
    assert "You are signed out" in client.get("/login").get_data(as_text=True)


def test_signing_out_a_live_session_still_needs_the_token(client, signed_in):
    signed_in(client, "intake")
    assert client.post("/logout", data={}).status_code == 400
    assert client.get("/intake/").status_code == 200  # still signed in


def test_a_search_without_digits_says_how_to_search_instead_of_listing_everyone(
    client, signed_in, request_callback
):
    ref = request_callback()
    signed_in(client, "intake")
    html = client.get("/intake/?q=Smith").get_data(as_text=True)
    assert ref not in html  # "Smith" matches nobody; it must not look as if everyone matched
    assert "Search by the reference or the last digits of the phone number" in html
    assert ref in client.get("/intake/?q=" + ref[:3]).get_data(as_text=True)
