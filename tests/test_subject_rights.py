"""Erase and export by construction (issue 11, finding 2): every key template declares what it
holds about callers and how a person's entries are found; `ivr subject-export` and
`ivr subject-erase` walk that declaration, the journal on disk included."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from ivr.outage.recovery import Deliverer
from ivr.store.crypto import DataKeys
from ivr.store.keys import HOLDS, TEMPLATES
from tests.redis_scan import dump
from tests.test_redis_outage import dial, fast_delivery, make_app  # noqa: F401

NUMBER = "+447700900303"
OTHER = "+447700900404"
NOTE = "Lives with her mother; rang about the funeral"


@pytest.fixture
def cli(settings, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .local/env here
    for name, value in (
        ("REDIS_URL", settings.redis_url),
        ("SECRET_KEY", settings.secret_key),
        ("IVR_ENV", "test"),
        ("IVR_JOURNAL_DIR", settings.journal_dir),
    ):
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_every_key_template_declares_what_it_holds():
    undeclared = sorted(set(TEMPLATES) - set(HOLDS))
    assert not undeclared, f"declare these in ivr/store/keys.py HOLDS: {undeclared}"
    assert not set(HOLDS) - set(TEMPLATES)
    ways = {"callback", "call", "number", "index", "audit", "tombstone", "none"}
    for name, holds in HOLDS.items():
        assert holds.found_by in ways, name
        assert holds.personal == (holds.found_by != "none"), name
        if holds.found_by == "none":
            assert holds.why, f"{name}: say why it holds nothing about a caller"


def a_worked_request(app, phone, store, number):
    """A caller screened and asks for a callback; a worker opens it, tries once, leaves a note."""
    call = phone(from_number=number)
    for key in ("2", "4", "3", "2", "1", "1", "1", "9", "1", "1", "3"):
        call.press(key)
    call.hang_up()
    ref = next(c["id"] for c in store.list_callbacks(None, None, 50)[0] if c["phone"] == number)
    settings = app.config["SETTINGS"]
    intake = Intake(store, settings, Hours.from_settings(settings))
    intake.get(ref, "ian")
    intake.claim(ref, "ian")
    intake.record_outcome(ref, "ian", "no_answer", NOTE)  # scheduled for a later attempt
    return ref, call.call_sid


def test_export_has_the_notes_and_the_audit_trail(app, phone, store, cli):
    ref, sid = a_worked_request(app, phone, store, NUMBER)
    exported = json.loads(cli("subject-export", "07700 900303").output)
    assert [c["reference"] for c in exported["callbacks"]] == [ref]
    assert exported["calls"][0]["call_sid"] == sid
    attempts = exported["held"]["callback_attempts"][f"ivr:callback:{ref}:attempts"]
    assert attempts[0]["note"] == NOTE
    trail = exported["held"]["callback_audit"][f"ivr:callback:{ref}:audit"]
    assert {e["action"] for e in trail} >= {"viewed", "claimed", "outcome"}
    assert any(e["detail"].startswith("attempt 1") for e in trail)


def test_erase_then_a_scan_finds_nothing_of_the_subject(
    app, phone, store, settings, redis_client, cli
):
    ref, sid = a_worked_request(app, phone, store, NUMBER)
    other_ref, _ = a_worked_request(app, phone, store, OTHER)
    assert redis_client.zscore("ivr:callbacks:scheduled", ref) is not None

    result = cli("subject-erase", "07700900303", "--yes")
    assert "Erased 1 callback request(s) and 1 call log(s)." in result.output

    keys = DataKeys.from_settings(settings)
    hashes = keys.phone_hashes(NUMBER)
    everything = dump(redis_client)
    for name, text in everything.items():
        for needle in ("7700900303", NOTE, "her mother", sid, *hashes):
            if needle in hashes and name == "ivr:privacy:erased":
                continue  # the record of the erasure itself: a keyed hash, never the number
            assert needle not in text, (name, needle)
        if ref in text:  # the reference stays used, and the audit keeps who/when/what
            assert name in ("ivr:callbacks:refs", "ivr:audit", f"ivr:callback:{ref}:audit")
    trail = redis_client.xrange(f"ivr:callback:{ref}:audit")
    assert trail and all(set(f) <= {"t", "who", "action", "callback"} for _, f in trail)
    assert [f["action"] for _, f in trail][-1] == "erased"
    assert redis_client.ttl(f"ivr:callback:{ref}:audit") > 0  # retention still ends it
    ours = [f for _, f in redis_client.xrange("ivr:audit") if f.get("callback") == ref]
    assert ours and all("detail" not in f for f in ours)
    # The other caller is untouched.
    assert store.callback(other_ref)["phone"] == OTHER
    assert redis_client.zscore("ivr:callbacks:scheduled", other_ref) is not None
    assert json.loads(cli("subject-export", NUMBER).output)["held"].keys() <= {
        "callback_audit",
        "audit",
    }


def test_an_erased_subjects_journalled_request_is_never_queued(
    make_app,  # noqa: F811
    open_hours,
    redis_client,
    outage,  # noqa: F811
    cli,
):
    # Two requests confirmed while Redis is down: one in a file its process is still writing
    # (the line has not delivered it yet), one in a file nobody writes any more.
    live_app = make_app(replace(open_hours, journal_delivery_interval=3600))
    done_app = make_app(replace(open_hours, journal_delivery_interval=3600))
    calls = [dial(app, from_number=NUMBER) for app in (live_app, done_app)]
    for call in calls:
        call.press("3").press("1").press("1")
    outage.stop()
    for call in calls:
        call.press("3")
        assert "Your callback request is booked" in call.all_heard()
    outage.start()
    done_app.extensions["ivr.deliverer"].stop()  # seals its file, delivers nothing

    result = cli("subject-erase", NUMBER, "--yes")
    assert "Removed 1 request(s) waiting on disk; 1 more will be dropped" in result.output
    journal = live_app.extensions["ivr.journal"]
    Deliverer(live_app.extensions["ivr.store"], journal, 1).run_once()
    assert redis_client.zcard("ivr:callbacks:queue") == 0
    assert not any("7700900303" in text for text in dump(redis_client).values())
    assert journal.files() == []


def test_export_and_erase_reach_every_journal_file_and_only_the_subjects_records(
    make_app,  # noqa: F811
    open_hours,
    redis_client,
    outage,  # noqa: F811
    cli,
):
    """Five journal files: two still being written, one with only someone else's request, one
    with the subject's and someone else's, one with only the subject's. The export lists the
    subject's four; the erasure removes the two it may (from files nobody writes), counts the two
    it must leave to delivery, and keeps the other caller's requests where they were."""
    apps = [make_app(replace(open_hours, journal_delivery_interval=3600)) for _ in range(5)]
    live_1, other_only, live_2, mixed, own = apps
    made = [
        (live_1, NUMBER),
        (other_only, OTHER),
        (live_2, NUMBER),
        (mixed, NUMBER),
        (mixed, OTHER),
        (own, NUMBER),
    ]
    calls = [dial(app, from_number=number) for app, number in made]
    for call in calls:
        call.press("3").press("1").press("1")
    outage.stop()
    journal = live_1.extensions["ivr.journal"]  # one directory for all four
    file_of: dict[int, Path] = {}
    for (app, _), call in zip(made, calls, strict=True):
        before = set(journal.files())
        call.press("3")
        assert "Your callback request is booked" in call.all_heard()
        for path in set(journal.files()) - before:  # an app's first request starts its file
            file_of[apps.index(app)] = path
    outage.start()
    for app in (other_only, mixed, own):
        app.extensions["ivr.deliverer"].stop()  # seals its file, delivers nothing
    # The files in a known order (a lock stays with its open file through a rename), so a walk
    # that stopped at the first file without the subject, or at the first live one, would show.
    for n, path in file_of.items():
        path.rename(path.with_name(f"{n}-{path.name}"))

    exported = json.loads(cli("subject-export", NUMBER).output)["journal"]
    assert [r["callback"]["phone"] for r in exported] == [NUMBER] * 4
    result = cli("subject-erase", NUMBER, "--yes")
    assert "Removed 2 request(s) waiting on disk; 2 more will be dropped" in result.output
    left = json.loads(cli("subject-export", OTHER).output)["journal"]
    assert [r["callback"]["phone"] for r in left] == [OTHER] * 2
    assert len(journal.files()) == 4
