"""The callback journal: requests confirmed while Redis was down, kept safely on disk.

One append-only JSON-lines file per process (`<host>-<pid>-<random>.jsonl`), each line fsync'd
before the caller hears their reference. The writing process holds an exclusive flock on its own
file for as long as it writes to it, so no other process delivers a file that is still growing.
A file whose lock can be taken belongs to nobody (its writer sealed it or died) and may be
delivered by whoever takes the lock first; the lock makes that one process at a time, and
delivery itself is idempotent (ivr/outage/recovery.py), so even a repeated delivery changes nothing.

Personal data in a line (the number, screening answers) is sealed with the data key; only the
reference, the time and the urgent flag are in clear, for `ivr journal status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from ivr.store.crypto import DataKeys


class Journal:
    def __init__(self, directory: str | Path, keys: DataKeys):
        self.directory = Path(directory)
        self.keys = keys
        self._lock = threading.Lock()
        self._file: int | None = None  # this process's live file descriptor (first append)
        self._pid = 0

    # --- writing (the webhook, while Redis is down) ------------------------------------------
    def append(self, kind: str, record: dict, clear: dict) -> None:
        """Append one record durably (fsync'd) before returning, or raise OSError and leave no
        trace of it: a caller told to ring back must never be queued later (a full disk, say).

        Written with os.write on the raw descriptor, not a buffered file: a buffered write that
        failed keeps its bytes in the buffer, and the next caller's flush would write them."""
        data = (
            json.dumps({"kind": kind, **clear, "sealed": self.keys.seal(record)}) + "\n"
        ).encode()
        with self._lock:
            fd = self._live_file()
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                self._undo(fd, start)
                raise

    def _undo(self, fd: int, start: int) -> None:
        """Cut a failed record off the file; if even that fails, stop using the file, so no
        later record can complete the torn line (a torn last line is skipped on reading)."""
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            self._file = None

    def _live_file(self) -> int:
        if self._file is not None and self._pid == os.getpid():
            return self._file
        # A forked worker must not share its parent's file (or its lock): start its own.
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):  # make the new name itself durable
            dir_fd = os.open(self.directory, os.O_RDONLY)
            os.fsync(dir_fd)
            os.close(dir_fd)
        self._file, self._pid = fd, os.getpid()
        return fd

    def seal_live_file(self) -> None:
        """Stop writing to the live file (releasing its lock) so it can be delivered."""
        with self._lock:
            if self._file is not None and self._pid == os.getpid():
                os.close(self._file)
            self._file = None

    def has_live_file(self) -> bool:
        return self._file is not None and self._pid == os.getpid()

    # --- reading (status and delivery) -------------------------------------------------------
    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.jsonl"))

    def entries(self, path: Path) -> list[dict]:
        """The readable records in one file; a torn last line (crash mid-write) is skipped."""
        out = []
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def open_record(self, entry: dict) -> dict | None:
        record = self.keys.unseal(str(entry.get("sealed", "")))
        return record if isinstance(record, dict) else None

    @contextlib.contextmanager
    def claimed(self, path: Path) -> Iterator[bool]:
        """Try to take a file for delivery; yields False if its writer or a deliverer has it."""
        try:
            handle = open(path, encoding="utf-8")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            # Someone may have delivered and removed it between our open and our lock.
            try:
                same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            yield same
        finally:
            handle.close()

    def records_where(self, match) -> list[dict]:
        """Every waiting record (opened) for which match(record) is true (subject access)."""
        found = []
        for path in self.files():
            for entry in self.entries(path):
                record = self.open_record(entry)
                if record is not None and match(record):
                    found.append(record)
        return found

    def remove_where(self, match) -> tuple[int, int]:
        """Take records for which match(record) is true out of every file no process is writing
        (subject erasure). Returns (removed, still in a live file: dropped at delivery)."""
        removed = live = 0
        for path in self.files():
            with self.claimed(path) as mine:
                entries = self.entries(path)
                hits = [e for e in entries if (r := self.open_record(e)) and match(r)]
                if not hits:
                    continue
                if not mine:
                    live += len(hits)
                    continue
                kept = [e for e in entries if e not in hits]
                spare = path.with_suffix(".tmp")
                with open(spare, "w", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(e) + "\n" for e in kept)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(spare, path)
                if not kept:
                    path.unlink()
                removed += len(hits)
        return removed, live

    def status(self) -> list[dict]:
        """What is waiting, without personal data: one row per request (a request a call made
        and then brought up to date is journalled once per step, and is still one request)."""
        rows: dict = {}
        for path in self.files():
            for entry in self.entries(path):
                row = {"file": path.name, **{k: v for k, v in entry.items() if k != "sealed"}}
                rows[(path.name, entry.get("ref") or len(rows))] = row
        return list(rows.values())
