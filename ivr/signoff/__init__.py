"""Signing off the phone flow before it goes live: the flow drawn as a picture (`graph`), the
spoken script with its timings (`script`), the clinical approval of the flow file's exact content
(`approval`), and the manager page `/flows` that shows all three with where callers drop off.

May import from ivr.line (the flow and its words), ivr.store (keys), ivr.reports (the figures'
counters and date ranges) and ivr.staff (roles); nothing imports it but the app factory and the CLI.
"""
