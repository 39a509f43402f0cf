"""Clients for the outside services the line calls (Twilio's REST API, SMTP for email), one small
module each, so every caller of a service goes through one place that tests can point at a fake.

May import: ivr.config only.
"""
