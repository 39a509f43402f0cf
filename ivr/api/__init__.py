"""The machine-facing JSON API under /api/v1: bearer tokens (tokens.py), the lists of
callback requests and calls (routes.py) and the intake actions (callbacks.py); timefmt.py
writes every timestamp they answer with (ISO 8601 with an offset).

May import: config, phone, store, line, intake, reports.
"""
