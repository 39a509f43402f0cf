"""A callback request confirmed while Redis is down is on disk before the caller hears its
reference: at the moment the reference is spoken, everything in the journal file has been through
fsync (the page cache alone would lose it in a power cut, and the caller would never know).

fsync itself cannot be observed from a test without pulling the plug, so the test watches the
calls the process makes to it (the real fsync still runs) and reads the file when the caller hears
the reference: the file must hold the request, and an fsync of that file must have covered all of
it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr import create_app
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport


@pytest.fixture
def fsyncs(monkeypatch):
    """Every fsync this process makes: (path of the file, its size when it was synced)."""
    seen: list[tuple[str, int]] = []
    real = os.fsync

    def watched(fd):
        seen.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))
        return real(fd)

    monkeypatch.setattr(os, "fsync", watched)
    return seen


def test_a_journalled_request_is_synced_to_disk_before_its_reference_is_spoken(
    open_hours, redis_client, outage, fsyncs
):
    app = create_app(open_hours)
    try:
        journal = app.extensions["ivr.journal"]
        at_reference: list[tuple[list[Path], dict[str, int], list]] = []

        def on_say(text: str) -> None:
            if text[:1].isdigit():  # the reference, read out digit by digit
                files = journal.files()
                sizes = {str(p.resolve()): p.stat().st_size for p in files}
                at_reference.append((files, sizes, list(fsyncs)))

        call = SimulatedCall(
            FlaskTransport(app.test_client()),
            BASE_URL,
            AUTH_TOKEN,
            from_number="+447700900123",
            on_say=on_say,
        ).dial()
        call.press("3").press("1").press("1")
        outage.stop()
        call.press("3")  # any time: confirmed while Redis is down
        assert "Your callback request is booked" in call.heard()

        [(files, sizes, synced)] = at_reference
        [path] = files
        [record] = journal.entries(path)
        assert journal.open_record(record)["callback"]["phone"] == "+447700900123"
        # An fsync of this very file, made once it held everything it holds now.
        assert (str(path.resolve()), sizes[str(path.resolve())]) in synced
    finally:
        app.extensions["ivr.deliverer"].stop()
