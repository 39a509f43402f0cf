"""A manager's view of the line: figures, call logs, one call's timeline, CSV and the API. Every
output is searched for the callers' full numbers, which must never appear."""

from __future__ import annotations

import csv
import io
import re

from conftest import STAFF_PASSWORD
from test_api_and_cli import make_token
from test_report_figures import NUMBERS, place_six_calls

from ivr.reports.demo import fill

KEYED = "07700900999"  # keyed in by a caller who withheld their number


def forms_of(number: str) -> list[str]:
    national = "0" + number[3:] if number.startswith("+44") else number
    return [number, number[1:], national, national[1:]]


def assert_no_full_numbers(text: str) -> None:
    for number in [*NUMBERS, "+44" + KEYED[1:]]:
        for form in forms_of(number):
            assert form not in text, f"a full number ({form[:4]}...) leaked"


def place_calls(phone) -> dict:
    calls = place_six_calls(phone)
    call = phone(from_number="anonymous")
    for keys in ("3", KEYED + "#", "1", "1", "3"):
        call.press(keys)
    calls["keyed"] = call.hang_up()
    return calls


def test_every_page_csv_and_api_answer_shows_only_masked_numbers(
    app, client, phone, signed_in, redis_server
):
    calls = place_calls(phone)
    token = make_token(redis_server)
    signed_in(client, role="manager")
    outputs = []
    figures = client.get("/reports/")
    assert figures.status_code == 200
    outputs.append(figures.get_data(as_text=True))
    for name in re.findall(r"figures\.csv\?table=(\w+)", outputs[0]):
        got = client.get(f"/reports/figures.csv?table={name}")
        assert got.status_code == 200 and got.mimetype == "text/csv"
        outputs.append(got.get_data(as_text=True))
    assert len(outputs) >= 10  # every table has its CSV link
    listing = client.get("/reports/calls").get_data(as_text=True)
    outputs.append(listing)
    assert "********111" in listing and "********999" not in listing
    assert "[number keyed]" in listing
    for call in calls.values():
        page = client.get(f"/reports/calls/{call.call_sid}")
        assert page.status_code == 200
        outputs.append(page.get_data(as_text=True))
    timeline = outputs[-1]  # the caller who keyed in a number
    assert "<td>+0:00</td>" in timeline and "+-" not in timeline
    assert "a number (not shown)" in timeline and "key 3" in timeline
    exported = client.get("/reports/calls.csv").get_data(as_text=True)
    outputs.append(exported)
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:5] == ["call_sid", "started", "duration_s", "from", "outcome"]
    assert {r[0] for r in rows[1:]} == {c.call_sid for c in calls.values()}
    api = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    outputs.append(api.get_data(as_text=True))
    assert len(api.json["calls"]) == 7
    for text in outputs:
        assert_no_full_numbers(text)


def test_call_logs_filter_by_outcome_and_page_without_repeats(
    client, phone, signed_in, redis_server
):
    calls = place_calls(phone)
    signed_in(client, role="manager")
    quiet = client.get("/reports/calls?outcome=silence_timeout").get_data(as_text=True)
    assert calls["quiet"].call_sid in quiet and calls["early"].call_sid not in quiet
    headers = {"Authorization": f"Bearer {make_token(redis_server)}"}
    seen, cursor = [], None
    while True:
        url = "/api/v1/calls?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [c["call_sid"] for c in page["calls"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(c.call_sid for c in calls.values())
    booked = client.get("/api/v1/calls?outcome=callback_requested", headers=headers).json
    assert len(booked["calls"]) == 4
    assert all(c["callback_id"] for c in booked["calls"])
    assert client.get("/api/v1/calls?start=2099-01-01", headers=headers).json["calls"] == []


def test_reports_refuse_other_roles_and_bad_input(app, client, signed_in, redis_server):
    assert client.get("/reports/").status_code == 302  # to the sign-in page
    signed_in(client, role="intake")
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/calls.csv").status_code == 403
    client = app.test_client()  # a manager, in another browser
    signed_in(client, role="manager")
    for url in (
        "/reports/?start=yesterday",
        "/reports/?start=2025-02-01&end=2025-01-01",
        "/reports/?start=2000-01-01&end=2025-01-01",
        "/reports/calls?outcome=nonsense",
        "/reports/calls?cursor=abc",
        "/reports/calls.csv?start=2025-12-31&end=2025-01-01",
    ):
        got = client.get(url)
        assert got.status_code == 400, url
        assert "Traceback" not in got.get_data(as_text=True)
    assert client.get("/reports/figures.csv?table=nope").status_code == 404
    assert client.get("/reports/calls/CAnothere").status_code == 404
    headers = {"Authorization": f"Bearer {make_token(redis_server)}"}
    bad = client.get("/api/v1/calls?outcome=nonsense", headers=headers)
    assert bad.status_code == 400 and "outcome" in bad.json["message"]
    assert client.get("/api/v1/calls?end=31/01/2025", headers=headers).status_code == 400


def test_figures_page_draws_charts_in_a_real_browser(
    app, live_server, page, signed_in, screenshot_dir
):
    from ivr.staff.users import create_user

    fill(app.extensions["ivr.engine"], app.extensions["ivr.store"], 400, weeks=4, seed=11)
    create_user(app.extensions["ivr.store"].redis, "manager1", "manager", STAFF_PASSWORD)
    page.set_viewport_size({"width": 1100, "height": 1400})
    page.goto(f"{live_server}/login?next=/reports/")
    page.fill("#username", "manager1")
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reports/")
    assert page.locator("h1").inner_text() == "Service figures"
    charts = page.locator("svg.chart")
    assert charts.count() >= 6
    for n in range(charts.count()):
        box = charts.nth(n).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
    drawn = page.locator("svg.chart rect.bar")
    assert drawn.count() > 30
    assert max(drawn.nth(n).bounding_box()["height"] for n in range(10)) > 5
    assert page.locator("svg.chart rect.cell").count() == 7 * 24
    assert page.locator("section.figure").count() == 11
    assert page.get_by_text("Definition:").count() == 11  # one beside every figure
    page.screenshot(path=str(screenshot_dir / "reports.png"), full_page=False)
    # Where callers hang up: per step, who reached it and who hung up there.
    dropped = page.locator("#dropoff svg.chart rect.dropoff")
    assert dropped.count() >= 10
    assert max(dropped.nth(n).bounding_box()["width"] for n in range(dropped.count())) > 5
    page.locator("#dropoff").screenshot(path=str(screenshot_dir / "reports-dropoff.png"))


def test_exports_walk_a_range_in_chunks_without_gaps_or_repeats(redis_client):
    from ivr.reports.call_logs import ranked_chunks

    redis_client.zadd("ivr:test:index", {f"CA{n}": 100 + n // 2 for n in range(11)})
    chunks = list(ranked_chunks(redis_client, "ivr:test:index", 101, 105, size=2))
    assert all(len(c) <= 2 for c in chunks)
    # Scores 101..104 inclusive: members 2..9; the high end is exclusive.
    assert sorted(m for c in chunks for m in c) == sorted(f"CA{n}" for n in range(2, 10))
