"""CPU per webhook inside the app, for comparing changes: the Procfile's app (`wsgi:app`, as
gunicorn loads it) called directly as a WSGI app, no HTTP, against a private redis-server.

Each call is a booking (incoming, then keys 3, 1, 1, 3) with lean signed requests, as in
benchmarks/load_line.py. Only the app's own CPU time is counted (time.process_time around each
WSGI call), so the figure does not move with the load generator; the best of --repeat runs is
printed, since other processes on the machine only ever add to it.

    .venv/bin/python benchmarks/webhook_cpu.py [--calls 300] [--repeat 5] [--profile]
    .venv/bin/python benchmarks/webhook_cpu.py --no-hiredis     (redis-py's own reply parser)

--profile prints a pyinstrument tree of one more run (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import html
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urljoin

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

KEYS = ("3", "1", "1", "3")  # a callback, on this number, voicemail OK, any time
BASE = "http://127.0.0.1:5000"


def book(app, calls: int, spent: list[float]) -> None:
    from werkzeug.test import EnvironBuilder

    from benchmarks.load_client import ACTION, REDIRECT, VALIDATOR

    for _ in range(calls):
        sid = "CA" + "".join(random.choices("0123456789abcdef", k=32))
        number = f"+4477009{random.randrange(10**5):05d}"
        url, extra = BASE + "/voice/incoming", {"CallStatus": "ringing"}
        for key in (None, *KEYS):
            if key is not None:
                extra = {"Digits": key, "msg": "Gather End"}
            params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "CallStatus": "in-progress",
                      "Direction": "inbound", "From": number, "To": "+442032281350",
                      **extra}  # fmt: skip
            path, _, query = url.removeprefix(BASE).partition("?")
            environ = EnvironBuilder(
                path=path,
                query_string=query or None,
                method="POST",
                data=urlencode(params),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": VALIDATOR.compute_signature(url, params)},
                base_url=BASE,
            ).get_environ()
            started = time.process_time()
            body = b"".join(app(environ, lambda status, headers, exc=None: None)).decode()
            spent.append(time.process_time() - started)
            found = ACTION.search(body) or REDIRECT.search(body)
            if not found:
                break
            url = urljoin(url, html.unescape(found.group(1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-hiredis", action="store_true")
    args = parser.parse_args()
    if args.no_hiredis:
        sys.modules["hiredis"] = None  # redis-py then falls back to its Python parser
    from benchmarks.load_client import TOKEN
    from benchmarks.private_redis import DURABLE, private_redis

    with private_redis(*DURABLE) as url, tempfile.TemporaryDirectory() as work:
        os.environ.update(REDIS_URL=url, TWILIO_AUTH_TOKEN=TOKEN, SECRET_KEY="l" * 40,
                          IVR_ENV="development", IVR_OPENING_TIME="00:00",
                          IVR_CLOSING_TIME="23:59", IVR_JOURNAL_DIR=work + "/journal",
                          PROMETHEUS_MULTIPROC_DIR=work)  # fmt: skip
        import logging

        logging.disable(logging.WARNING)  # the start-up notes
        import wsgi

        book(wsgi.app, 20, [])  # warm: imports, connections, scripts loaded
        best = []
        for _ in range(args.repeat):
            spent: list[float] = []
            book(wsgi.app, args.calls, spent)
            best.append(sum(spent) / len(spent) * 1000)
        median = sorted(best)[len(best) // 2]
        print(f"app CPU per webhook: best {min(best):.3f} ms, median {median:.3f} ms ({args.repeat}"
              f" runs of {args.calls} booking calls, {len(spent)} webhooks each)")  # fmt: skip
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            book(wsgi.app, args.calls, [])
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
