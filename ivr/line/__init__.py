"""The phone line: what a caller hears and how each Twilio webhook is answered.

flow.py loads and checks the flow file (call_flows/); engine.py decides where the call goes next;
words.py fills in the values prompts name; twiml.py builds the Gather/Dial verbs; voice.py is the
webhooks (retries, junk, out-of-order steps); degraded.py runs the line with its state sealed in
step URLs while Redis is down; signature.py checks Twilio's signature; hours.py knows opening hours
and bank holidays; limits.py applies per-caller limits; calls.py closes calls with their outcome.

May import: config, phone, store, outage, twilio_sim (never intake, staff, reports or api).
"""
