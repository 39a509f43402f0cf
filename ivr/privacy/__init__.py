"""Data-protection requests: subject export and erasure (subjects.py) and key rotation
over every record that holds personal data.

May import: every area below it (it must find a person's data wherever it is kept).
"""
