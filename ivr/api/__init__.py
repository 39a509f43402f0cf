"""The machine-facing JSON API under /api/v1: bearer tokens (tokens.py), the lists of
callback requests and calls (routes.py) and the intake actions (callbacks.py).

May import: config, phone, store, line, intake, reports.
"""
