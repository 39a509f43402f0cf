"""The web process exactly as the Procfile starts it (gunicorn and its config file), on loopback.

The Procfile's `web:` line is read and run as a platform would, with its ${VAR:-default}
expanded; only the address differs: GUNICORN_CMD_ARGS binds it to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(process: str, env: dict) -> list[str]:
    """The Procfile's command for one process type, its ${VAR:-default} filled from env."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            expanded = re.sub(
                r"\$\{(\w+)(?::-([^}]*))?\}",
                lambda m: env.get(m.group(1)) or (m.group(2) or ""),
                command,
            )
            argv = shlex.split(expanded)
            # Run the program from this checkout's virtualenv, as PATH would on a platform.
            argv[0] = str(Path(sys.executable).parent / argv[0])
            return argv
    raise AssertionError(f"no {process}: line in the Procfile")


def line_env(redis_url: str, tmp_path: Path, **extra: str) -> dict:
    """The environment of a test deployment: open all hours, no per-caller limits."""
    return {
        **os.environ,
        "IVR_ENV": "test",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "y" * 40,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"),
        "IVR_OPENING_TIME": "00:00",
        "IVR_CLOSING_TIME": "23:59",
        "IVR_HOLIDAY_SUBDIVISION": "",
        "IVR_CALLS_PER_MINUTE": "0",
        "IVR_CALLBACKS_PER_DAY": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **extra,
    }


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def procfile_web(env: dict, log: Path) -> Iterator[str]:
    """Start the Procfile's web process on a free loopback port; yields its base URL."""
    port = free_port()
    env = {**env, "PORT": str(port), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    # Outside development the served line needs the address Twilio signs (wsgi.py): this one.
    env.setdefault("IVR_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    with open(log, "wb") as out:
        process = subprocess.Popen(  # noqa: S603 (the Procfile's own command)
            procfile_command("web", env), cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the web process did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class SlowClients:
    """Connections that send a request line, then one header line a second, and never finish."""

    def __init__(self, base: str, count: int):
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.count = count
        self.sockets: list[socket.socket] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble, daemon=True)

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(self.address, timeout=2)
            sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: line\r\n")
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _dribble(self):
        n = 0
        while not self._stop.wait(1.0):
            n += 1
            for sock in self.sockets:
                try:
                    sock.sendall(f"X-Slow-{n}: still here\r\n".encode())
                except OSError:
                    self.refused += 1

    def still_open(self) -> int:
        """How many of them the server has not closed."""
        open_now = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_now += sock.recv(1) != b""  # data would mean the server answered early
            except BlockingIOError:
                open_now += 1
            except OSError:
                pass
        return open_now

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()
