"""The journal tells the truth when the disk is full: a caller told to ring back is never queued
later, and a caller read a reference has it on disk first (issue 11, finding 6).

The line runs in a child process with Redis unreachable and a file-size limit
(RLIMIT_FSIZE, what a full filesystem looks like to a writer) that the second caller's record
does not fit under; the limit is lifted before the third caller confirms."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ivr.outage.journal import Journal
from ivr.outage.recovery import Deliverer
from ivr.store.crypto import DataKeys

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from dataclasses import replace
    from ivr import create_app
    from ivr.config import load_settings
    from ivr.twilio_sim.phone import SimulatedCall
    from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport

    journal_dir = sys.argv[1]
    settings = load_settings(
        environ={}, env="test", redis_url="unix:///nonexistent/redis.sock",
        twilio_auth_token=AUTH_TOKEN, secret_key="x" * 40, journal_dir=journal_dir,
        calls_per_minute=0, callbacks_per_day=0, opening_time="00:00", closing_time="23:59",
        holiday_subdivision="",
    )
    app = create_app(settings)
    app.extensions["ivr.deliverer"].stop = lambda: None
    app.extensions["ivr.deliverer"].ensure_running = lambda: None  # no Redis to deliver to

    def caller(number):
        call = SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN,
                             from_number=number).dial()
        call.press("3")  # a callback, please: "is this the number to call?"
        return call

    def finish(call):  # the request is written when the number is confirmed; then the extras
        for key in "13":
            if not call.ended:
                call.press(key)

    first, second, third = (caller(f"+4477009006{n}1") for n in range(3))
    first.press("1")
    written = sum(p.stat().st_size for p in app.extensions["ivr.journal"].files())
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (written + 120, hard))  # the disk fills up
    second.press("1")
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    third.press("1")
    for call in (first, second, third):
        finish(call)
    print(json.dumps([c.all_heard() for c in (first, second, third)]))
    """
)


def test_a_caller_told_to_ring_back_is_never_queued(settings, redis_client, tmp_path, store):
    journal_dir = tmp_path / "journal"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(journal_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    first, second, third = json.loads(child.stdout.strip().splitlines()[-1])
    assert "Your callback request is booked" in first
    assert "Please call us again later" in second and "booked" not in second
    assert "Your callback request is booked" in third

    keys = DataKeys.from_settings(settings)
    Deliverer(store, Journal(journal_dir, keys), 1).run_once()
    queued = [store.callback(ref) for ref in redis_client.zrange("ivr:callbacks:queue", 0, -1)]
    assert sorted(cb["phone"] for cb in queued) == ["+447700900601", "+447700900621"]


def test_redis_down_and_the_journal_unwritable_still_gives_the_crisis_numbers(
    settings, tmp_path, caplog
):
    """Both stores gone at once (Redis unreachable, the journal's disk refusing): a caller who
    confirms a callback cannot be promised one, and hears the safe message (crisis numbers,
    then goodbye), as valid TwiML, never an error."""
    from dataclasses import replace

    from ivr import create_app
    from ivr.twilio_sim.phone import SimulatedCall
    from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the journal's folder should be")
    app = create_app(
        replace(
            settings, redis_url="unix:///nonexistent/redis.sock", journal_dir=str(blocker / "j")
        )
    )
    try:
        app.extensions["ivr.deliverer"].ensure_running = lambda: None
        call = SimulatedCall(
            FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, from_number="+447700900661"
        ).dial()
        call.press("3").press("1")  # a callback on this number: confirmed, so journalled
        fallback = app.extensions["ivr.flow"].phrases["fallback"]
        assert fallback[0] in call.all_heard()
        assert call.ended
        # The operator's log says why, once per step that failed (with the traceback).
        failed = [r for r in caplog.records if r.name == "ivr.line.voice" and r.exc_info]
        assert failed and {r.getMessage() for r in failed} == {
            "error during a call step without redis"
        }
    finally:
        app.extensions["ivr.deliverer"].stop()
