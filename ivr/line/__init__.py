"""The phone line: what a caller hears and how each Twilio webhook is answered.

flow.py loads and checks the flow file (call_flows/); engine.py decides where the call goes next;
words.py fills in the values prompts name; twiml.py builds the Gather/Dial verbs; voice.py is the
webhooks (retries, junk, out-of-order steps); degraded.py runs the line with its state sealed in
step URLs while Redis is down; signature.py checks Twilio's signature; hours.py knows opening hours
and bank holidays; limits.py applies per-caller limits; calls.py closes calls with their outcome.
flow_graph.py holds the flow's graph checks; answers.py takes a caller's keys, words or silence
(and offers a callback after two failed tries); requests.py makes and updates the call's callback
request; speech.py matches words to keys; timing.py works out spoken seconds and the time to a
person; texts.py sends the reference by text (through clients/twilio_rest.py, off the call's path).

May import: config, phone, clients, store, outage, twilio_sim (never intake, staff, reports or api).
"""
