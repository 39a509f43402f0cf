"""Manager reports: live counters updated as calls happen (figures.py, daily_totals.py),
tables with their definitions (tables.py), server-side SVG charts (charts.py), call logs
(call_logs.py), the pages (pages.py), `ivr reports rebuild` (recount.py), retention (`ivr purge`,
retention.py) and demo data made through the real engine (demo.py). Reports read what the line
writes; the line never imports them.

May import: config, phone, twilio_sim, store, line, staff, intake.
"""
