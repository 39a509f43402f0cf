"""Entry point for gunicorn: `gunicorn wsgi:app`."""

import gc

from ivr import create_app
from ivr.config import check_serving, load_settings

settings = load_settings()
check_serving(settings)  # outside development, only with IVR_PUBLIC_BASE_URL
app = create_app(settings)
# Everything loaded so far (the libraries, the flow, the app) lives as long as the process: out
# of the garbage collector's sight, a full collection no longer walks it. Full collections had
# paused a worker for up to 30 ms, in the slowest 1% of webhooks (benchmarks/RESULTS.md, issue 14).
gc.freeze()
