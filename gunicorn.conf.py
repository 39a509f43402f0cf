"""gunicorn's settings for the line (read from the working directory: `gunicorn wsgi:app`).

Why these (docs/operations.md has the whole serving set-up):
- gthread workers: a connection costs a thread, not a whole process, so slow or idle clients
  cannot take every worker (the sync worker let two slow connections stop the line). gunicorn
  parks a new connection that sends nothing for 5 s back on the poller without a thread; one that
  dribbles its headers holds a thread, so each worker has many more threads than a burst of slow
  clients (tests/test_serving.py holds 50 open while webhooks are answered). In production a
  reverse proxy that buffers whole requests sits in front, and gunicorn only sees complete ones.
- Bounded timeouts: a worker that stops heartbeating for `timeout` s is replaced; kept-alive
  connections close after `keepalive` s; a stopping worker finishes within `graceful_timeout`.
- Metrics (ivr/metrics.py): every worker writes its counters to PROMETHEUS_MULTIPROC_DIR and
  /metrics adds them up; the folder is emptied when gunicorn starts and a dead worker's gauges
  are dropped.

Environment: PORT (5000), WEB_CONCURRENCY (workers, 2), WEB_THREADS (threads per worker, 64),
PROMETHEUS_MULTIPROC_DIR (default: a private temporary folder). GUNICORN_CMD_ARGS overrides any
of it (for example `--bind 127.0.0.1:5000`).
"""

import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "64"))
worker_connections = 1000
timeout = 15  # Twilio itself gives up on a webhook after 15 s
graceful_timeout = 10
keepalive = 5
limit_request_line = 8190  # step URLs carry the sealed call state (about 600 characters)
limit_request_fields = 50
forwarded_allow_ips = "127.0.0.1,::1"  # the proxy on the same machine (see IVR_TRUST_PROXY)
# gunicorn 25+ opens a control socket in $HOME (one path for every gunicorn of the user, so
# several would fight over it); nothing here uses gunicornc, so there is none.
control_socket_disable = True
accesslog = "-"
# Twilio's own request lines are kept out of the access log: their URLs carry sealed state.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="ivr-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir  # inherited by every worker
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir}"]


def on_starting(server):
    """Counters from an earlier run of gunicorn must not be added to this one's."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
