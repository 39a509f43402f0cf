"""Running the line in production: metrics (/metrics), health (/healthz), the go-live checklist
(`ivr number check`) and pointing the Twilio number at this deployment (`ivr number configure`).

May import: ivr.config, ivr.clients, ivr.store, ivr.outage, ivr.line (the flow and its TwiML),
ivr.api.tokens. `ivr.ops.metrics` imports nothing of ivr, so any area may call its `record_*`
functions; the rest of this package is imported only by the app factory and the CLI.
"""
