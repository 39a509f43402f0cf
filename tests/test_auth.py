"""Staff sign-in: who reaches which page, CSRF, throttled guessing, hashed passwords, the CLI."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from click.testing import CliRunner
from conftest import STAFF_PASSWORD, csrf_from

from ivr import create_app
from ivr.cli import main as cli
from ivr.staff.auth import role_required
from ivr.staff.users import create_user, set_disabled, set_password


@pytest.fixture
def manager_page(app):
    """A stand-in manager page (the real ones live on the reports branch)."""
    app.add_url_rule(
        "/test-manager-page", "test_manager", role_required("manager")(lambda: "manager figures")
    )
    return "/test-manager-page"


def login_post(client, username, password, token=None):
    token = token or csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def test_a_signed_out_visitor_reaches_nothing(client, manager_page):
    for path in ("/", "/admin/users", manager_page):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    scripted = client.get("/admin/users", headers={"Accept": "application/json"})
    assert scripted.status_code == 401
    assert scripted.get_json()["message"] == "Sign in first."


def test_intake_worker_cannot_reach_manager_or_admin_pages(client, signed_in, manager_page):
    signed_in(client, "intake")
    assert client.get(manager_page).status_code == 403
    refused = client.get("/admin/users")
    assert refused.status_code == 403
    assert "does not have access" in refused.get_data(as_text=True)


def test_manager_sees_manager_pages_but_not_admin(client, signed_in, manager_page):
    signed_in(client, "manager")
    assert client.get(manager_page).get_data(as_text=True) == "manager figures"
    assert client.get("/admin/users").status_code == 403


def test_admin_may_do_everything(client, signed_in, manager_page):
    signed_in(client, "admin", username="ada")
    assert client.get(manager_page).status_code == 200
    page = client.get("/admin/users").get_data(as_text=True)
    assert "ada" in page and "Create an account" in page


def test_admin_creates_an_account_in_the_app(client, signed_in, redis_client):
    signed_in(client, "admin")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    form = {"username": "Nia", "role": "intake", "password": "a long password", "csrf_token": token}
    assert client.post("/admin/users", data=form).status_code == 302
    assert "nia" in client.get("/admin/users").get_data(as_text=True)
    other = create_app(client.application.config["SETTINGS"]).test_client()
    assert login_post(other, "nia", "a long password").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(client, app):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    response = login_post(client, "sam", "not the password")
    assert response.status_code == 401
    assert "do not match an active account" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_passwords_are_stored_only_as_scrypt_hashes(app, redis_client):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    for name in redis_client.keys("*"):
        kind = redis_client.type(name)
        values = redis_client.hvals(name) if kind == "hash" else redis_client.smembers(name)
        assert not any(STAFF_PASSWORD in v for v in values)
    assert redis_client.hget("ivr:user:sam", "password_hash").startswith("scrypt:")


def test_form_without_csrf_token_is_rejected(client, signed_in, redis_client):
    signed_in(client, "admin")
    form = {"username": "mallory", "role": "admin", "password": "a long password"}
    response = client.post("/admin/users", data=form)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    response = client.post("/admin/users", data={**form, "csrf_token": "forged"})
    assert response.status_code == 400
    assert not redis_client.exists("ivr:user:mallory")


def test_login_form_needs_its_csrf_token_too(client, app):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    client.get("/login")
    response = client.post("/login", data={"username": "sam", "password": STAFF_PASSWORD})
    assert response.status_code == 400


def test_repeated_failures_pause_sign_in_even_with_the_right_password(client, app, redis_client):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    codes = [login_post(client, "sam", f"guess {n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    refused = login_post(client, "sam", STAFF_PASSWORD)
    assert refused.status_code == 429
    assert "Please wait 30 seconds" in refused.get_data(as_text=True)
    # Once the pause is over (expired here by hand), the next failure pauses twice as long.
    locks = ("ivr:login:lock:user:sam@127.0.0.1", "ivr:login:lock:ip:127.0.0.1")
    redis_client.delete(*locks)
    assert "wait 60 seconds" in login_post(client, "sam", "guess 6").get_data(as_text=True)
    assert 30 < redis_client.ttl(locks[0]) <= 60
    assert redis_client.ttl("ivr:login:failures:user:sam@127.0.0.1") > 0  # counters expire
    # A pause of two minutes or more is said in whole minutes, rounded up (121 s: 3 minutes).
    redis_client.expire(locks[0], 121)
    assert "Please wait 3 minutes before" in login_post(client, "sam", "x").get_data(as_text=True)
    redis_client.expire(locks[0], 120)
    assert "Please wait 2 minutes before" in login_post(client, "sam", "x").get_data(as_text=True)
    redis_client.delete(*locks)
    assert login_post(client, "sam", STAFF_PASSWORD).status_code == 302


def test_guessing_across_usernames_from_one_address_is_paused(client, app):
    codes = [login_post(client, f"user{n}", "guess").status_code for n in range(20)]
    assert codes[:19] == [401] * 19 and codes[-1] == 429
    assert "Please wait" in login_post(client, "someone-else", "guess").get_data(as_text=True)


def test_disabled_account_or_new_password_ends_the_session(client, signed_in, app):
    redis = app.extensions["ivr.store"].redis
    name = signed_in(client, "intake")
    assert client.get("/").status_code in (200, 302)
    set_disabled(redis, name, True)
    assert client.get("/").headers["Location"].startswith("/login")
    assert login_post(client, name, STAFF_PASSWORD).status_code == 401
    set_disabled(redis, name, False)
    assert login_post(client, name, STAFF_PASSWORD).status_code == 302
    set_password(redis, name, "a brand new password")
    assert client.get("/").headers["Location"].startswith("/login")


def test_idle_session_ends(open_hours, redis_client):
    app = create_app(replace(open_hours, session_idle_minutes=0))
    client = app.test_client()
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    assert login_post(client, "sam", STAFF_PASSWORD).status_code == 302
    response = client.get("/", follow_redirects=True)
    assert "signed out after a period of inactivity" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, app):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    cookie = login_post(client, "sam", STAFF_PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_never_redirects_off_site(client, app):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": "sam",
            "password": STAFF_PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("//evil.example/", "/"),
        ("///evil.example/", "/"),  # browsers read three slashes as two
        ("/\\evil.example/", "/"),  # and a backslash as a slash
        ("https://evil.example/intake/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("", "/"),
        ("/intake/?q=1234", "/intake/?q=1234"),  # a page of this site, as asked
    ],
)
def test_sign_in_goes_only_to_a_page_of_this_site(client, app, asked, lands):
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    form = {"username": "sam", "password": STAFF_PASSWORD, "csrf_token": token, "next": asked}
    assert client.post("/login", data=form).headers["Location"] == lands
    # Signed in already, the sign-in page sends them on by the same rule.
    assert client.get("/login", query_string={"next": asked}).headers["Location"] == lands


def test_a_sign_in_lasts_the_idle_time_and_five_minutes_more_without_use(client, app):
    from ivr.store.keys import key

    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    login_post(client, "sam", STAFF_PASSWORD)
    redis_client = app.extensions["ivr.store"].redis
    [session_key] = redis_client.keys(key("staff_session", sid="*"))
    expected = app.config["SETTINGS"].session_idle_minutes * 60 + 300
    assert expected - 5 <= redis_client.ttl(session_key) <= expected


def test_sign_out(client, signed_in):
    signed_in(client, "intake")
    token = csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_cli_creates_accounts_and_resets_passwords(redis_server, redis_client):
    runner = CliRunner()
    env = {"REDIS_URL": redis_server.url, "IVR_ENV": "test"}
    result = runner.invoke(
        cli,
        ["users", "create", "Lee", "--role", "intake", "--password-stdin"],
        input="a long password\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert redis_client.hget("ivr:user:lee", "role") == "intake"
    again = runner.invoke(
        cli,
        ["users", "create", "lee", "--role", "admin", "--password-stdin"],
        input="a long password\n",
        env=env,
    )
    assert again.exit_code == 1 and "already an account" in again.output
    short = runner.invoke(
        cli, ["users", "reset-password", "lee", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 1 and "at least 12" in short.output
    before = redis_client.hget("ivr:user:lee", "password_hash")
    prompted = runner.invoke(
        cli,
        ["users", "reset-password", "lee"],
        input="another password\nanother password\n",
        env=env,
    )
    assert prompted.exit_code == 0, prompted.output
    assert redis_client.hget("ivr:user:lee", "password_hash") != before


def test_background_polling_does_not_keep_an_idle_session_alive(client, signed_in):
    signed_in(client, "intake")
    with client.session_transaction() as session:
        session["seen"] = time.time() - 29 * 60  # a minute before the 30-minute idle limit
        left_at = session["seen"]
    polled = client.get("/intake/queue/rows", headers={"X-IVR-Background": "1"})
    assert polled.status_code == 200
    with client.session_transaction() as session:
        assert session["seen"] == left_at
    assert client.get("/intake/").status_code == 200  # a person's request counts
    with client.session_transaction() as session:
        assert session["seen"] > left_at


def test_redis_outage_gives_a_clear_503_not_a_traceback(open_hours, redis_client):
    app = create_app(replace(open_hours, redis_url="unix:///nonexistent/redis.sock"))
    client = app.test_client()
    response = login_post(client, "sam", STAFF_PASSWORD)
    assert response.status_code == 503
    assert "cannot be reached just now" in response.get_data(as_text=True)
    api = client.get("/api/v1/callbacks", headers={"Authorization": "Bearer ivr_x"})
    assert api.status_code == 503 and api.is_json


def test_admin_changes_roles_disables_and_resets_in_the_app(app, signed_in, redis_client):
    admin, nia = app.test_client(), app.test_client()
    signed_in(admin, "admin", username="ada")
    signed_in(nia, "intake", username="nia")
    token = csrf_from(admin.get("/admin/users").get_data(as_text=True))

    def change(**form):
        return admin.post(
            "/admin/users/nia", data={**form, "csrf_token": token}, follow_redirects=True
        )

    change(action="role", role="manager")
    assert redis_client.hget("ivr:user:nia", "role") == "manager"
    assert "The role must be one of" in change(action="role", role="bogus").get_data(as_text=True)
    assert redis_client.hget("ivr:user:nia", "role") == "manager"
    change(action="disable")
    assert nia.get("/").headers["Location"].startswith("/login")
    own = admin.post(
        "/admin/users/ada",
        data={"action": "disable", "csrf_token": token},
        follow_redirects=True,
    )
    assert "cannot disable your own account" in own.get_data(as_text=True)
    change(action="enable")
    change(action="password", password="a brand new password")
    assert login_post(nia, "nia", "a brand new password").status_code == 302


def test_a_paused_sign_in_is_an_alert_and_keeps_the_form_as_typed(client, app, redis_client):
    """Refused for too many failures: said as an alert (a screen reader reads it at once), with
    the username and the page to return to kept, so the worker only waits and retypes nothing."""
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    for n in range(4):
        login_post(client, "sam", f"guess {n}")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    form = {"username": "sam", "password": "guess", "csrf_token": token}
    paused = client.post("/login", data={**form, "next": "/intake/?status=closed"})
    assert paused.status_code == 429
    page = paused.get_data(as_text=True)
    assert re.search(r'class="flash flash-error" role="alert">Too many failed sign-ins', page)
    assert 'name="next" value="/intake/?status=closed"' in page
    assert re.search(r'name="username"[^>]* value="sam"', page)
    again = client.post("/login", data=form).get_data(as_text=True)
    assert 'name="next" value=""' in again


def next_of(response) -> str:
    """Where the sign-in page will return to, from a redirect to it."""
    from urllib.parse import parse_qs, urlsplit

    location = urlsplit(response.headers["Location"])
    assert location.path == "/login", response.headers["Location"]
    return parse_qs(location.query)["next"][0]


def test_signing_in_returns_to_the_page_asked_for_with_its_query(client):
    assert next_of(client.get("/intake/?status=closed&page=2")) == "/intake/?status=closed&page=2"
    assert next_of(client.head("/intake/?status=closed")) == "/intake/?status=closed"
    assert next_of(client.get("/intake/")) == "/intake/"
    # A browser that takes HTML first gets the sign-in page, not a script's 401.
    browser = client.get("/intake/", headers={"Accept": "text/html, application/json;q=0.5"})
    assert browser.status_code == 302


def test_a_form_sent_after_the_session_lapsed_returns_to_the_page_it_came_from(
    open_hours, redis_client, request_callback
):
    """A POST-only address would answer 405 to the sign-in page's redirect: the worker goes back
    to the request's page."""
    app = create_app(replace(open_hours, session_idle_minutes=1))
    client = app.test_client()
    create_user(app.extensions["ivr.store"].redis, "sam", "manager", STAFF_PASSWORD)
    assert login_post(client, "sam", STAFF_PASSWORD).status_code == 302
    ref = request_callback()
    token = csrf_from(client.get(f"/intake/callbacks/{ref}").get_data(as_text=True))
    with client.session_transaction() as session:
        session["seen"] -= 3600  # the worker went to lunch with the page open
    claim = client.post(f"/intake/callbacks/{ref}/claim", data={"csrf_token": token})
    assert next_of(claim) == f"/intake/callbacks/{ref}"
    app.extensions["ivr.deliverer"].stop()


def test_each_role_sees_the_pages_it_may_use_in_the_main_navigation(app, signed_in):
    """The main navigation lists what a role can open, and marks the page being shown."""
    import re

    seen = {}
    for role in ("intake", "manager"):
        client = app.test_client()
        signed_in(client, role)
        page = client.get("/", follow_redirects=True).get_data(as_text=True)
        nav = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
        seen[role] = re.findall(r">([^<]+)</a>", nav)
        assert 'href="/intake/" aria-current="page">Callback queue</a>' in nav
    assert seen["intake"] == ["Callback queue"]
    assert "Callback queue" in seen["manager"] and "Try the line" in seen["manager"]
    assert "Staff accounts" not in seen["manager"]


def test_an_account_removed_while_signed_in_ends_the_session(client, signed_in, app):
    """An account taken out of Redis by hand (or missing after a restore from an older backup):
    its holder's next page sends them to sign in, never to an error."""
    from ivr.store.keys import key

    name = signed_in(client, "intake")
    assert client.get("/intake/").status_code == 200
    app.extensions["ivr.store"].redis.delete(key("user", username=name))
    response = client.get("/intake/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_session_ends_just_past_its_idle_time_and_not_before(open_hours, redis_client):
    """With a one-minute idle limit: idle 55 seconds, the worker is still signed in; idle 60.5
    seconds, they are signed out and told so, as information; a session cookie from before
    sessions noted their last activity is signed out too, never an error."""
    app = create_app(replace(open_hours, session_idle_minutes=1))
    create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
    try:
        for idle, signed_in in ((55, True), (60.5, False), (None, False)):
            client = app.test_client()
            assert login_post(client, "sam", STAFF_PASSWORD).status_code == 302
            with client.session_transaction() as session:
                if idle is None:
                    del session["seen"]
                else:
                    session["seen"] = time.time() - idle
            response = client.get("/intake/")
            assert response.status_code == (200 if signed_in else 302), idle
            if not signed_in:
                page = client.get(response.headers["Location"]).get_data(as_text=True)
                assert (
                    '<div class="flash flash-info" role="status">You were signed out after a '
                    in page
                )
    finally:
        app.extensions["ivr.deliverer"].stop()


def test_a_worker_in_use_keeps_their_session_past_its_first_lifetime(client, signed_in, app):
    """The session's record in Redis lives the idle time and five minutes more; each request a
    person makes (checked every 30 seconds) gives it that long again, so a worker busy all
    morning is not signed out mid-shift."""
    from ivr.store.keys import key

    redis = app.extensions["ivr.store"].redis
    signed_in(client, "intake")
    with client.session_transaction() as session:
        record = key("staff_session", sid=session["sid"])
        session["seen"] = time.time() - 40  # the last activity noted 40 seconds ago
    redis.expire(record, 10)  # nearly spent
    assert client.get("/intake/").status_code == 200
    lifetime = app.config["SETTINGS"].session_idle_minutes * 60 + 300
    assert lifetime - 5 <= redis.ttl(record) <= lifetime


def test_in_production_the_staff_cookie_is_named_for_the_service_and_only_sent_over_https(
    settings, redis_client
):
    from test_security import production

    app = create_app(production(settings))
    try:
        client = app.test_client()
        client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "ipt.example.nhs.uk"})
        create_user(app.extensions["ivr.store"].redis, "sam", "intake", STAFF_PASSWORD)
        cookie = login_post(client, "sam", STAFF_PASSWORD).headers["Set-Cookie"]
        assert cookie.startswith("ivr_session=") and "Secure" in cookie and "HttpOnly" in cookie
        # A browser left signed in on a shared intake PC drops the cookie soon after the idle
        # limit, not weeks later (the server ends the session at the limit either way).
        expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
        idle = app.config["SETTINGS"].session_idle_minutes
        assert expires - datetime.now(UTC) <= timedelta(minutes=idle + 5, seconds=1)
    finally:
        app.extensions["ivr.deliverer"].stop()
