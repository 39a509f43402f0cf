"""Issue 10, problem 6 (long exports): the Procfile's web workers let a long streamed download
finish. Gunicorn's default sync workers kill any request still running after `--timeout`, even
one that is streaming (a year of call logs takes ~90 s, benchmarks/RESULTS.md); threaded
workers keep telling the master they are alive while a thread streams."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.test_outage_gunicorn import free_port
from tests.test_redis_outage import wait_for

ROOT = Path(__file__).resolve().parent.parent

# A download as slow as a long export, written the way ivr/reports/pages.py streams its CSV.
SLOW_APP = """
import time
from flask import Flask, Response, stream_with_context
app = Flask(__name__)
@app.get("/slow.csv")
def slow():
    def rows():
        for n in range(4):
            time.sleep(1)
            yield f"row {n}\\n"
    return Response(stream_with_context(rows()), mimetype="text/csv")
"""


def procfile_web_args() -> list[str]:
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    args = shlex.split(line[4:].replace("${WEB_CONCURRENCY:-2}", "1"))
    assert args[0] == "gunicorn"
    out, skip = [], False
    for arg in args[1:-1]:  # without the app; --bind and --timeout are set below
        if skip:
            skip = False
        elif arg in ("--bind", "--timeout"):
            skip = True
        else:
            out.append(arg)
    return out


def test_the_procfile_web_workers_finish_a_download_longer_than_their_timeout(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_APP)
    binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    port = free_port()
    process = subprocess.Popen(
        [binary, *procfile_web_args(), "--timeout", "1", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), "slow:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _up(port))
        url = f"http://127.0.0.1:{port}/slow.csv"
        with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310
            body = response.read().decode()
        assert body.splitlines() == [f"row {n}" for n in range(4)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def _up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)  # noqa: S310
    except urllib.error.HTTPError:
        return True  # 404: it answers
    except OSError:
        return False
    return True
