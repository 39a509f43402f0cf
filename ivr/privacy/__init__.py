"""Data-protection requests: subject export and erasure (subjects.py, walking the key table's
HOLDS declarations) and key rotation over every record that holds personal data (subjects.py;
lists.py for notes, event answers and audit details).

May import: every area below it (it must find a person's data wherever it is kept).
"""
