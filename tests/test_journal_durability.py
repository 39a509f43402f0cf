"""A callback request confirmed while Redis is down is on disk before the caller hears its
reference: at the moment the reference is spoken, everything in the journal file has been through
fsync (the page cache alone would lose it in a power cut, and the caller would never know).

fsync itself cannot be observed from a test without pulling the plug, so the test watches the
calls the process makes to it (the real fsync still runs) and reads the file when the caller hears
the reference: the file must hold the request, and an fsync of that file must have covered all of
it."""

from __future__ import annotations

import errno
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


def test_a_record_the_disk_cannot_take_leaves_no_trace_and_the_next_one_is_whole(
    settings, tmp_path, monkeypatch
):
    """The disk fills half way through a record: the caller is told to ring back (OSError), the
    half-written bytes are cut off, and the next caller's record follows the first one cleanly.
    (tests/test_journal_disk_full.py does this with a real file-size limit, in a child process.)"""
    from ivr.outage.journal import Journal
    from ivr.store.crypto import DataKeys

    # A journal directory whose parents do not exist yet (a fresh volume) is made whole.
    journal = Journal(tmp_path / "var" / "ivr" / "journal", DataKeys.from_settings(settings))
    journal.append("callback", {"n": 1}, {"ref": "100001"})
    real_write = os.write

    def disk_full_after_ten_bytes(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(journal.directory)):
            return real_write(fd, data)  # only the journal's disk is full
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full_after_ten_bytes)
    with pytest.raises(OSError, match="No space left"):
        journal.append("callback", {"n": 2}, {"ref": "100002"})
    monkeypatch.setattr(os, "write", real_write)
    journal.append("callback", {"n": 3}, {"ref": "100003"})

    [path] = journal.files()
    assert [journal.open_record(e)["n"] for e in journal.entries(path)] == [1, 3]
    text = path.read_bytes()
    assert text.count(b"\n") == 2 and b"\0" not in text and b"100002" not in text
    assert path.stat().st_mode & 0o777 == 0o600  # the service's own, like the data key


def test_a_torn_record_that_cannot_be_cut_off_is_left_behind_and_the_next_one_is_whole(
    settings, tmp_path, monkeypatch
):
    """The disk fills half way through a record and cutting the torn bytes off fails too: the
    journal stops writing to that file, so the next caller's record does not land on the end of
    the torn line (where it would be unreadable, and the caller's request lost), and closes it,
    so the request already in it can be delivered."""
    from ivr.outage.journal import Journal
    from ivr.store.crypto import DataKeys

    journal = Journal(tmp_path / "journal", DataKeys.from_settings(settings))
    journal.append("callback", {"n": 1}, {"ref": "100001"})
    real_write, real_ftruncate = os.write, os.ftruncate

    def disk_full_after_ten_bytes(fd, data):
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def cannot_truncate(fd, length):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", disk_full_after_ten_bytes)
    monkeypatch.setattr(os, "ftruncate", cannot_truncate)
    with pytest.raises(OSError, match="No space left"):
        journal.append("callback", {"n": 2}, {"ref": "100002"})
    monkeypatch.setattr(os, "write", real_write)
    monkeypatch.setattr(os, "ftruncate", real_ftruncate)
    journal.append("callback", {"n": 3}, {"ref": "100003"})

    records = [journal.open_record(e) for p in journal.files() for e in journal.entries(p)]
    assert sorted(r["n"] for r in records if r) == [1, 3]
    assert len(journal.files()) == 2  # the torn file kept as it is; a new one for the next
    # ...and let go of (closed, its lock released), so delivery can take the first request.
    [torn] = [p for p in journal.files() if journal.open_record(journal.entries(p)[0])["n"] == 1]
    with journal.claimed(torn) as mine:
        assert mine
