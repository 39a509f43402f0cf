"""The servers benchmarks/load_line.py compares, each started with the Procfile's own `web:`
command: A serves the line (`wsgi:app`, from --line-dir), B the floor (benchmarks/floor_app.py),
and, with --before DIR, A0 the line from another checkout (to see what a change bought). All
share one private redis-server, and are stopped with it when the run ends."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import redis

from benchmarks.load_client import TOKEN, Caller, Recorder
from benchmarks.private_redis import DURABLE, private_redis

HERE = Path(__file__).resolve().parent.parent


def procfile_web(directory: Path) -> str:
    for line in (directory / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise SystemExit(f"no web: line in {directory / 'Procfile'}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class Servers:
    def __init__(self, line_dir: str, before: str | None = None):
        self.line_dir = Path(line_dir).resolve()
        self.command = procfile_web(self.line_dir)
        self.names = ["A", "B"] + (["A0"] if before else [])
        self.before = Path(before).resolve() if before else None
        self.ports: dict[str, int] = {}
        self._stack = ExitStack()
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> Servers:
        url = self._stack.enter_context(private_redis(*DURABLE))
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        work = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="ivr-load-")))
        env = {
            **os.environ,
            "PATH": f"{HERE / '.venv' / 'bin'}:{os.environ['PATH']}",
            "REDIS_URL": url,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "SECRET_KEY": "l" * 40,
            "IVR_ENV": "development",
            "IVR_OPENING_TIME": "00:00",
            "IVR_CLOSING_TIME": "23:59",
            "IVR_JOURNAL_DIR": str(work / "journal"),
        }
        floor = self.command.replace("wsgi:app", "benchmarks.floor_app:app")
        servers = [("A", self.command, self.line_dir), ("B", floor, HERE)]
        if self.before:
            servers.append(("A0", procfile_web(self.before), self.before))
        for name, command, cwd in servers:
            self.ports[name] = free_port()
            log = open(work / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
            self._stack.callback(log.close)
            process = subprocess.Popen(
                ["sh", "-c", f"exec {command}"],
                cwd=cwd,
                env={**env, "PORT": str(self.ports[name]), "PYTHONPATH": str(cwd)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self._processes.append(process)
        for name in self.names:
            self._wait_up(name)
            for _ in range(8):  # warm every worker: imports, connections, the save script
                Caller(self.base(name), Recorder()).book(("3", "1", "1", "3"))
        return self

    def _wait_up(self, name: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports[name]), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"server {name} did not start")

    def cpu_seconds(self, name: str) -> float:
        """CPU time used so far by a server's processes (gunicorn's master and its workers),
        or, for "redis", by the redis-server: what the machine's other load cannot inflate."""
        if name == "redis":
            roots = {p for p in children(os.getpid()) if comm(p) == "redis-server"}
        else:
            roots = {self._processes[self.names.index(name)].pid}
        total = 0.0
        for pid in roots | {c for root in roots for c in children(root)}:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def base(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def queued(self) -> int:
        return self.redis.zcard("ivr:callbacks:queue")

    def __exit__(self, *exc) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._stack.close()
