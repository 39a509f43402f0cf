"""Redis outages: callback requests confirmed while Redis is down are fsync'd to a
journal on disk (journal.py) and delivered exactly once when Redis is back (recovery.py, which also
keeps the offline reference pool).

May import: config, phone, store.
"""
