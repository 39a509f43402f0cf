"""The browser softphone at `/try`: a page with a keypad that places test calls through the real
voice webhooks, played on the server by the Twilio stand-in (ivr.twilio_sim.phone), so staff hear
exactly what a caller would. Test calls are marked in Redis and kept out of the figures and the
default intake queue.

May import from ivr.twilio_sim (the stand-in), ivr.store (keys), ivr.staff (roles, CSRF) and
ivr.config; the line itself only reads the test-call mark this package writes (keys.py).
"""
