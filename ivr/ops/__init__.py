"""Running the line in production: /metrics and /healthz, the go-live checklist (`ivr number
check`) and pointing the Twilio number at this deployment (`ivr number configure`). The counters
themselves are in `ivr/metrics.py`, at the bottom of the layers, so every area can count.

May import: ivr.config, ivr.clients, ivr.store, ivr.outage, ivr.line (the flow and its TwiML),
ivr.api.tokens, ivr.metrics. Imported only by the app factory and the CLI.
"""
