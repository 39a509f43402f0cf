"""Running the line in production: /metrics and /healthz, the go-live checklist (`ivr number
check`) and pointing the Twilio number at this deployment (`ivr number configure`). The counters
themselves are in `ivr/metrics.py`, at the bottom of the layers, so every area can count.

May import: every area below it in tests/test_layout.py (config, phone, metrics, clients, store,
outage, line, api's tokens, signoff for a checklist line about approval). Imported only by the
app factory and the CLI.
"""
