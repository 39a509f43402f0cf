"""A private redis-server on a unix socket for a benchmark run, started and stopped with it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

# What the line runs in production (docs/operations.md): AOF, fsync every second.
DURABLE = ("--appendonly", "yes", "--appendfsync", "everysec")


@contextmanager
def private_redis(*options: str) -> Iterator[str]:
    """Yields the server's REDIS_URL; extra redis-server options (e.g. DURABLE) as given."""
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as directory:
        sock = Path(directory) / "redis.sock"
        server = subprocess.Popen(
            [shutil.which("redis-server"), "--port", "0", "--unixsocket", str(sock),
             "--save", "", "--dir", directory, *options],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    if redis.Redis(unix_socket_path=str(sock)).ping():
                        break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield f"unix://{sock}"
        finally:
            server.terminate()
            server.wait(10)
