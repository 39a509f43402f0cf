"""Service figures: six callers with known paths, counted by hand, must show up in the figures
exactly; the recount from raw events must agree with the live counters; retention purges
personal data but keeps the figures."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner
from cryptography.fernet import Fernet

from ivr.cli import main
from ivr.reports import tables as report
from ivr.reports.recount import rebuild
from ivr.reports.retention import housekeeping, purge
from ivr.store.keys import key
from tests.conftest import BASE_URL, write_request

NUMBERS = ["+447700900111", "+447700900222", "+447700900333", "+447700900444", "+447700900555"]


def place_six_calls(phone) -> dict:
    calls = {}
    # 1. Listens to two parts of the IPT explanation (the second one twice), then hangs up.
    call = phone(from_number=NUMBERS[0])
    call.press("1").press("1").press("*").hang_up()
    calls["listener"] = call
    # 2. Screening all the way (PHQ-2 3+2 = 5, no risk), then a callback on caller ID.
    call = phone(from_number=NUMBERS[1])
    for keys in ("2", "4", "3", "2", "1", "1", "1", "1", "1", "1", "3"):
        call.press(keys)
    calls["screened"] = call.hang_up()
    # 3. PHQ-2 0, says yes to the risk question, goes on, asks for a callback from the options.
    call = phone(from_number=NUMBERS[2])
    for keys in ("2", "1", "1", "1", "1", "2", "1", "1", "3"):
        call.press(keys)
    calls["at_risk"] = call.hang_up()
    # 4. Straight to a callback.
    call = phone(from_number=NUMBERS[3])
    for keys in ("3", "1", "2", "1"):
        call.press(keys)
    calls["callback"] = call.hang_up()
    # 5. Hangs up at the main menu. 6. Says nothing until the line ends the call.
    calls["early"] = phone(from_number=NUMBERS[4]).hang_up()
    call = phone(from_number=NUMBERS[0])
    call.silence().silence()  # asked again, then offered a callback
    call.silence().silence()  # the offer asked again, then the polite goodbye
    assert call.ended
    calls["quiet"] = call
    return calls


def today() -> date:
    return datetime.now(UTC).date()


def figures_for(app, redis_client):
    start, end = today() - timedelta(days=1), today() + timedelta(days=1)
    totals = report.load(redis_client, start, end)
    return totals, {t.name: t for t in report.tables(totals, app.extensions["ivr.flow"])}


def headline(totals) -> dict[str, str]:
    """The report's headline figures as a manager reads them: label -> value."""
    return {label: value for label, value, _ in report.summary(totals)}


def test_six_known_calls_give_hand_counted_figures(app, phone, redis_client):
    place_six_calls(phone)
    totals, tables = figures_for(app, redis_client)
    c = totals.calls
    assert c["calls"] == 6
    assert c["topic:what_it_is"] == 1 and c["topic:four_difficulties"] == 1  # heard twice: once
    assert c["topic:who_it_is_for"] == 0
    assert c["screening_started"] == 2 and c["screening_completed"] == 1
    assert c["phq2:5"] == 1 and c["phq2:0"] == 1 and sum(c[f"phq2:{n}"] for n in range(7)) == 2
    assert c["risk:yes"] == 1 and c["risk:no"] == 1
    assert c["callbacks"] == 3 and c["callbacks_urgent"] == 1
    assert c["outcome:callback_requested"] == 3
    assert c["outcome:information_only"] == 1
    assert c["outcome:hung_up"] == 1
    assert c["outcome:silence_timeout"] == 1
    assert c["abandoned"] == 2  # the listener and the early hang-up
    assert c["dropoff:info_difficulties"] == 1 and c["dropoff:main_menu"] == 1
    assert c["reached:main_menu"] == 6
    assert totals.intake["requested"] == 3
    # What a manager reads in the tables.
    assert ["About IPT: what it is", 1, "16.7%"] in tables["ipt_explanation"].rows
    assert ["PHQ-2 total 3 or more", 1, "50.0%"] in tables["screening"].rows
    assert ["abandoned (of the above)", 2, "33.3%"] in tables["outcomes"].rows
    assert ["Main menu", 6, 1, "16.7%"] in tables["dropoff"].rows
    per_day = {row[0]: row[1:] for row in tables["calls_per_day"].rows}
    local_today = app.extensions["ivr.store"].figures.day(datetime.now(UTC).timestamp())
    assert per_day[local_today] == [6, 3, 2]
    assert sum(sum(row[1:]) for row in tables["calls_by_hour"].rows) == 6


def test_intake_times_are_counted_when_the_team_acts(app, phone, redis_client):
    store = app.extensions["ivr.store"]
    calls = place_six_calls(phone)
    refs = {cb["call_sid"]: cb for cb in store.list_callbacks(None, None, 10)[0]}
    urgent = refs[calls["at_risk"].call_sid]
    plain = refs[calls["screened"].call_sid]
    # The intake team: urgent one tried after 30 min and reached; the other tried after 3 h,
    # reached on the second attempt after 5 h, booked.
    for cb, changes in (
        (urgent, {"first_attempt_at": 30, "contacted_at": 30, "attempts": 1}),
        (plain, {"first_attempt_at": 180, "contacted_at": 300, "attempts": 2}),
    ):
        before = redis_client.hgetall(key("callback", id=cb["reference"]))
        after = dict(before)
        for name, value in changes.items():
            after[name] = value if name == "attempts" else cb["created_at"] + value * 60
        after["close_reason"] = "reached_booked"
        with redis_client.pipeline() as pipe:
            pipe.hset(key("callback", id=cb["reference"]), mapping=after)
            store.figures.count_intake(pipe, before, after)
            pipe.execute()
    _, tables = figures_for(app, redis_client)
    rows = dict(tables["callbacks"].rows)
    assert rows["First attempted"] == 2 and rows["Contacted"] == 2
    assert rows["Median time to first attempt"] == "30 min"
    assert rows["90th percentile to first attempt"] == "3.0 h"
    assert rows["Median time to contact"] == "30 min"
    assert rows["Contacted within target"] == "100.0%"
    assert rows["Attempts per contact (mean)"] == "1.50"
    assert ["Urgent: median time to first attempt", "30 min", ""] in tables["risk"].rows
    assert tables["intake_outcomes"].rows == [["reached booked", 2, "100.0%"]]
    assert rebuild(store, store.figures, apply=False)["differences"] == []


def test_intake_service_actions_count_each_stage_once(app, phone, redis_client):
    from ivr.intake.service import Intake

    store = app.extensions["ivr.store"]
    engine = app.extensions["ivr.engine"]
    calls = place_six_calls(phone)
    team = Intake(store, engine.settings, engine.hours)
    refs = {cb["call_sid"]: cb for cb in store.list_callbacks(None, None, 10)[0]}
    plain, urgent = refs[calls["callback"].call_sid], refs[calls["at_risk"].call_sid]
    # Plain: no answer at +2 h, then reached and booked at the scheduled attempt.
    team.claim(plain["reference"], "amy", now=plain["created_at"] + 7200)
    after = team.record_outcome(
        plain["reference"], "amy", "no_answer", "", now=plain["created_at"] + 7260
    )
    at = after["next_attempt_at"]
    team.claim(plain["reference"], "amy", now=at)
    team.record_outcome(plain["reference"], "amy", "reached_booked", "", now=at + 60)
    # Urgent: reached 10 minutes after the request, not suitable.
    team.claim(urgent["reference"], "bo", now=urgent["created_at"] + 600)
    team.record_outcome(
        urgent["reference"], "bo", "reached_not_suitable", "", now=urgent["created_at"] + 600
    )
    store.figures.record_intake(redis_client, plain["reference"])  # a repeat counts nothing
    _, tables = figures_for(app, redis_client)
    rows = dict(tables["callbacks"].rows)
    assert rows["Callback requests"] == 3
    assert rows["First attempted"] == 2 and rows["Contacted"] == 2
    assert rows["Median time to first attempt"] == "10 min"
    assert rows["90th percentile to first attempt"] == "2.0 h"  # 121 minutes
    assert rows["Attempts per contact (mean)"] == "1.50"
    assert ["Urgent: median time to first attempt", "10 min", ""] in tables["risk"].rows
    assert sorted(tables["intake_outcomes"].rows) == [
        ["reached booked", 1, "50.0%"],
        ["reached not suitable", 1, "50.0%"],
    ]
    assert rebuild(store, store.figures, apply=False)["differences"] == []


def test_live_counters_equal_the_recount_from_raw_events(app, phone, redis_client, redis_server):
    from ivr.reports.demo import fill

    place_six_calls(phone)
    fill(app.extensions["ivr.engine"], app.extensions["ivr.store"], 150, weeks=3, seed=7)
    store = app.extensions["ivr.store"]
    live = {k: redis_client.hgetall(k) for k in redis_client.scan_iter(key("fig_day", day="*"))}
    assert sum(int(h.get("calls", 0)) for h in live.values()) == 156
    result = rebuild(store, store.figures, apply=False)
    assert result["calls"] == 156 and result["differences"] == []
    intake = Counter()
    for day in redis_client.scan_iter(key("fig_intake", day="*")):
        intake.update({k: int(v) for k, v in redis_client.hgetall(day).items()})
    assert intake["first_attempted"] > 10 and intake["contacted"] > 5  # the demo's intake team
    assert any(k.startswith("outcome:reached_") for k in intake)
    # A lost write shows up, and the rebuild command puts it right.
    some_day = next(iter(live))
    redis_client.hincrby(some_day, "calls", 5)
    # The same data key as the line (screening answers in the events are encrypted).
    env = {"REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": "x", "SECRET_KEY": "x" * 40}
    checked = CliRunner().invoke(main, ["reports", "rebuild", "--check"], env=env)
    assert checked.exit_code == 1 and "live" in checked.output
    fixed = CliRunner().invoke(main, ["reports", "rebuild"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert {k: redis_client.hgetall(k) for k in live} == live


def test_purge_removes_personal_data_and_keeps_the_figures(app, phone, redis_client):
    store = app.extensions["ivr.store"]
    calls = place_six_calls(phone)
    sid = calls["screened"].call_sid
    # The intake team closes the callback request; 91 days on it is old enough to go.
    from ivr.intake.service import Intake

    engine = app.extensions["ivr.engine"]
    team = Intake(store, engine.settings, engine.hours)
    ref = redis_client.get(key("callback_for_call", sid=sid))
    team.claim(ref, "amy")
    team.record_outcome(ref, "amy", "reached_booked", "booked for Tuesday")
    before, _ = figures_for(app, redis_client)
    assert redis_client.exists(key("callback_attempts", id=ref), key("fig_counted", id=ref)) == 2
    later = datetime.now(UTC) + timedelta(days=91)
    done = purge(store, 90, later)
    assert done["calls"] == 6 and done["callbacks"] == 1
    assert store.call_events(sid) == []
    log = store.call_log(sid)
    assert "from_masked" not in log and log["outcome"] == "callback_requested"
    assert store.callback(ref) is None
    assert not redis_client.exists(key("callback_attempts", id=ref), key("callback_audit", id=ref))
    assert not redis_client.exists(key("fig_counted", id=ref))
    after, _ = figures_for(app, redis_client)
    assert after.calls == before.calls and after.intake == before.intake
    # A rebuild after the purge leaves the purged days' counters alone.
    assert rebuild(store, store.figures, apply=True)["differences"] == []
    assert figures_for(app, redis_client)[0].calls == before.calls


def test_sweep_closes_calls_that_never_got_a_status(app, phone, redis_client):
    store = app.extensions["ivr.store"]
    call = phone(from_number=NUMBERS[0])
    call.press("1")  # then the status callback never arrives
    assert "outcome" not in store.call_log(call.call_sid)
    done = housekeeping(store, 90, 3600, datetime.now(UTC) + timedelta(hours=2))
    assert done["swept"] == 1
    log = store.call_log(call.call_sid)
    assert log["outcome"] == "information_only" and log["call_status"] == "no_status"
    totals, _ = figures_for(app, redis_client)
    assert totals.calls["dropoff:info_what"] == 1
    assert housekeeping(store, 90, 3600, datetime.now(UTC) + timedelta(hours=3))["swept"] == 0


def test_demo_and_purge_commands(redis_server, redis_client):
    env = {"REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": "x"}
    made = CliRunner().invoke(
        main, ["demo", "--calls", "40", "--weeks", "2", "--seed", "3"], env=env
    )
    assert made.exit_code == 0, made.output
    assert redis_client.zcard(key("calls_by_start")) == 40
    assert redis_client.zcard(key("calls_open")) == 0  # every demo call was closed
    days = list(redis_client.scan_iter(key("fig_day", day="*")))
    assert sum(int(redis_client.hget(d, "calls") or 0) for d in days) == 40
    purged = CliRunner().invoke(main, ["purge"], env=env)
    assert purged.exit_code == 0, purged.output
    assert "purged 0 call(s)" in purged.output  # nothing is older than 90 days yet
    checked = CliRunner().invoke(main, ["reports", "rebuild", "--check"], env=env)
    assert checked.exit_code == 0 and "0 counter(s) differ" in checked.output
    production = {
        **env,
        "IVR_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "IVR_PUBLIC_BASE_URL": "https://line.example.nhs.uk",
        "IVR_DATA_KEYS": Fernet.generate_key().decode(),
    }
    refused = CliRunner().invoke(main, ["demo"], env=production)
    assert refused.exit_code != 0 and "refuses to run in production" in refused.output


def test_a_test_calls_request_worked_by_intake_is_never_counted(app, store, redis_client):
    """A request from the /try softphone, claimed and closed like any other: the day's intake
    figures count the real one beside it and not the test one."""
    import time

    from ivr.intake.service import Intake
    from ivr.line.hours import Hours

    settings = app.config["SETTINGS"]
    service = Intake(store, settings, Hours.from_settings(settings))
    created = time.time() - 60
    for ref, test in (("400001", True), ("400002", False)):
        write_request(store, ref, created, int(ref), phone="+447700900401", test=test)
        service.claim(ref, "nia")
        service.record_outcome(ref, "nia", "reached_booked", "")
        counted = redis_client.hgetall(key("fig_intake", day=store.figures.day(created)))
        assert bool(counted) is not test, counted  # nothing for the test one; the real one is


def test_an_urgent_request_tried_within_its_first_minute_counts_once_at_minute_0(
    app, store, redis_client
):
    """The day's "time to first attempt" figures: one request, one count, in the minute it was
    tried (0 here), for all requests, for urgent ones and for the worker who tried."""
    import time

    from ivr.intake.service import Intake
    from ivr.line.hours import Hours

    settings = app.config["SETTINGS"]
    service = Intake(store, settings, Hours.from_settings(settings))
    created = time.time() - 120
    write_request(
        store, "400003", created, call_sid="CA" + "4" * 32, phone="+447700900403", urgent=True
    )
    service.claim("400003", "nia", now=created + 20)
    service.record_outcome("400003", "nia", "no_answer", "", now=created + 50)
    counted = redis_client.hgetall(key("fig_intake", day=store.figures.day(created)))
    assert counted["first_attempted"] == "1"
    assert counted["to_first_attempt:0"] == "1"
    assert counted["urgent_to_first_attempt:0"] == "1"
    assert counted["worker_first:nia:0"] == "1"


def test_an_attempt_recorded_without_a_name_is_counted_for_unknown(app, store, redis_client):
    """An attempt with no worker's name (an old or damaged record): the day's figures still count
    the request's first attempt and the attempt, under "unknown", never under "None"."""
    import json
    import time

    created = time.time() - 120
    write_request(store, "400004", created, call_sid="CA" + "5" * 32, phone="+447700900404")
    redis_client.hset(key("callback", id="400004"), "first_attempt_at", created + 30)
    attempt = {"n": 1, "outcome": "reached_booked", "at": created + 30}
    redis_client.rpush(key("callback_attempts", id="400004"), json.dumps(attempt))
    store.figures.record_intake(redis_client, "400004")
    counted = redis_client.hgetall(key("fig_intake", day=store.figures.day(created)))
    assert counted["worker_first:unknown:0"] == "1"
    assert counted["worker_attempts:unknown"] == "1"
    assert counted["worker_reached:unknown"] == "1"
    assert not [name for name in counted if "None" in name]
    # Remembered under the stage names a release must keep (a renamed stage counts again).
    assert set(redis_client.hkeys(key("fig_counted", id="400004"))) == {
        "first_attempt",
        "attempt:1",
    }


def test_contact_figures_count_the_first_minute_and_the_target_moment_once_each(
    app, store, redis_client
):
    """A request reached within its first minute counts at minute 0; one reached at the very
    moment its target runs out counts as in target. The stages counted are remembered per
    request under names that must last across releases (a renamed stage counts again)."""
    import time

    figures = store.figures
    created = time.time() - 600
    target = figures.hours.add_working_days(figures.local(created), figures.target_working_days)
    day = key("fig_intake", day=figures.day(created))

    def reached(ref: str, contacted_at: float) -> Counter:
        write_request(store, ref, created, call_sid="CA" + ref * 5 + "00", phone="+447700900405")
        fields = {"contacted_at": contacted_at, "attempts": 1, "close_reason": "reached_booked"}
        redis_client.hset(key("callback", id=ref), mapping=fields)
        before = Counter({k: int(v) for k, v in redis_client.hgetall(day).items()})
        figures.record_intake(redis_client, ref)
        figures.record_intake(redis_client, ref)  # a retry counts nothing twice
        assert set(redis_client.hkeys(key("fig_counted", id=ref))) == {"contact", "close"}
        return Counter({k: int(v) for k, v in redis_client.hgetall(day).items()}) - before

    assert reached("400006", created + 59) == Counter(
        {
            "contacted": 1,
            "to_contact:0": 1,
            "attempts_to_contact:1": 1,
            "contacted_in_target": 1,
            "outcome:reached_booked": 1,
        }
    )
    at_target = reached("400007", target.timestamp())
    assert at_target["contacted_in_target"] == 1
    late = reached("400008", target.timestamp() + 1)
    assert late["contacted"] == 1 and late["contacted_in_target"] == 0


def test_calls_out_of_hours_and_with_caller_id_withheld_are_counted_once_and_shown(
    settings, redis_client
):
    """Managers see how many calls came while the team was closed, and how many had no caller ID
    to call back on: three calls, one of them in hours, one withheld; each counted once, on the
    day and hour it was in London (a summer night's call too)."""
    from zoneinfo import ZoneInfo

    from ivr import create_app
    from tests.conftest import phone_for

    app = create_app(settings)  # Monday to Friday, 9 to 5, English bank holidays
    london = ZoneInfo("Europe/London")
    try:
        for when, caller in (
            (datetime(2026, 12, 25, 10, 0, tzinfo=london), "+447700900111"),  # Christmas Day
            (datetime(2026, 12, 25, 10, 5, tzinfo=london), "anonymous"),
            (datetime(2026, 12, 24, 10, 0, tzinfo=london), "+447700900222"),  # a Thursday
            # Summer time: half past midnight in London is still the day before in UTC.
            (datetime(2026, 7, 1, 0, 30, tzinfo=london), "+447700900333"),
        ):
            app.extensions["ivr.clock"] = lambda when=when: when
            phone_for(app)(from_number=caller).press("1").press("*").hang_up()
    finally:
        app.extensions["ivr.deliverer"].stop()
    summer = redis_client.hgetall(key("fig_day", day="2026-07-01"))
    assert (summer["calls"], summer["hour:0"], summer["out_of_hours"]) == ("1", "1", "1")
    totals = report.load(redis_client, date(2026, 12, 24), date(2026, 12, 25))
    assert totals.calls["calls"] == 3
    assert totals.calls["out_of_hours"] == 2
    assert totals.calls["withheld"] == 1
    shown = headline(totals)
    assert shown["Out of hours"] == "66.7%"
    assert shown["Caller ID withheld"] == "33.3%"


def test_a_call_whose_state_was_lost_is_counted_alike_live_and_by_the_rebuild(
    app, phone, store, redis_client
):
    """Mid-call the call's state is lost (expired, or a failover): the line carries on from where
    the caller is, with the call's marks lost too. The rebuild from raw events must count that
    call as the live counters did. The marks live in the call's state under names a release
    must keep (a call in progress across a release would be counted twice)."""
    call = phone(from_number="+447700900111")
    for keys in ("2", "1", "1"):  # screening: two PHQ-2 answers
        call.press(keys)
    marks = store.read_step(call.call_sid, []).data["figures"]
    assert {"calls", "reached:main_menu", "screening_started"} <= set(marks["seen"])
    assert marks["ans"] == {"phq2_interest": 0, "phq2_down": 0}
    redis_client.delete(key("call_state", sid=call.call_sid))
    call.press("2").press("0").press("1").hang_up()  # the risk question, the main menu, about IPT
    assert "state_lost" in [e["type"] for e in store.call_events(call.call_sid)]
    day = key("fig_day", day=store.figures.day(time.time()))
    assert redis_client.hget(day, "reached:main_menu") == "2"  # live: once before, once after
    result = rebuild(store, store.figures, apply=False)
    assert result["calls"] == 1 and result["differences"] == []


def test_a_call_made_under_an_older_flow_is_still_recounted(app, store):
    """The rebuild reads calls from before a flow change: a node since taken out of the flow
    counts as reached, and a key pressed there counts nothing, rather than stopping the rebuild."""
    started = time.time()
    events = [
        {"t": started, "step": 1, "type": "call_started", "caller_id": "usable"},
        {"t": started, "step": 1, "type": "prompt", "node": "retired_menu", "section": ""},
        {"t": started + 5, "step": 2, "type": "key", "node": "retired_menu", "key": "1"},
    ]
    counted = store.figures.tally(events, {}, started)
    assert counted == Counter(
        {"calls": 1, f"hour:{store.figures.local(started).hour}": 1, "reached:retired_menu": 1}
    )


def test_crisis_support_put_through_and_refused_numbers_are_counted_once_and_shown(
    app, phone, store, redis_client
):
    """Managers answer to clinical governance for the risk path: how many calls heard the
    crisis support and how many were put through, each call once whatever it did after; the
    risk answer counts the first one a call gave; refused phone numbers are counted each time."""
    call = phone(from_number="+447700900222")
    for keys in ("2", "4", "4", "1"):  # screening; PHQ-2 3 and 3; yes to the risk question
        call.press(keys)
    assert "You do not have to manage this alone" in call.heard()
    call.press("1").press("1")  # go on; put me through
    assert call.dialled == ["+44116123"]
    for keys in ("1", "1", "1", "3"):  # then an urgent callback
        call.press(keys)
    assert "marked as urgent" in call.heard()
    for keys in (
        "0",
        "2",
        "1",
        "1",
        "2",
    ):  # screening again: PHQ-2 0 and 0, no to the risk question
        call.press(keys)
    marks = store.read_step(call.call_sid, []).data["figures"]
    for mark in ("risk", "phq2", "crisis_heard", "crisis_dialled", "callback", "callback_urgent"):
        assert mark in marks["seen"]  # kept in the call's state: a release must keep the names
    call.hang_up()
    withheld = phone(from_number="anonymous")
    withheld.press("3").press("0123#")
    assert "That number is too short" in withheld.heard()
    withheld.press("0123#").hang_up()

    totals, tables = figures_for(app, redis_client)
    c = totals.calls
    assert (c["risk:yes"], c["risk:no"]) == (1, 0)
    assert (c["phq2:6"], c["phq2:0"]) == (1, 0)
    assert (c["callbacks"], c["callbacks_urgent"]) == (1, 1)
    assert (c["crisis_heard"], c["crisis_dialled"]) == (1, 1)
    assert c["numbers_rejected"] == 2
    assert ["Heard the crisis support", 1, "50.0%"] in tables["risk"].rows
    assert ["Put through to the crisis line", 1, "50.0%"] in tables["risk"].rows
    shown = headline(totals)
    assert shown["Phone numbers refused"] == "2"
    assert rebuild(store, store.figures, apply=False)["differences"] == []  # the recount agrees


def test_call_lengths_and_calls_lost_before_the_first_prompt_are_counted_and_shown(
    app, phone, store, redis_client
):
    """The average length of the calls Twilio reported an end for, and the calls that ended
    before the line's first answer reached them (a status for a call the line never answered)."""
    calls = place_six_calls(phone)
    lengths = [int(store.call_log(call.call_sid)["duration"]) for call in calls.values()]
    lost = calls["early"].params({"CallSid": "CA" + "b" * 32, "CallStatus": "no-answer"})
    status, _ = calls["early"].signed_post(BASE_URL + "/voice/status", lost)
    assert status == 200
    totals, tables = figures_for(app, redis_client)
    c = totals.calls
    assert (c["duration_total"], c["duration_calls"]) == (sum(lengths), 6)
    assert c["abandoned"] == 3 and c["dropoff:before_first_prompt"] == 1
    assert tables["dropoff"].rows[0] == ["Before the first prompt", 1, 1, "100.0%"]
    average = round(sum(lengths) / 6)
    shown = headline(totals)
    assert shown["Average call length"] == f"{average // 60} min {average % 60:02d} s"
