"""The store: every Redis key (keys.py, one template table), a call in progress
(redis_store.py), callback requests (callbacks.py), encryption at rest (crypto.py), screening
answers in call events kept only encrypted (special.py), and the record of erasures (erasures.py).

May import: config, phone. Nothing above it: the store knows no webhooks, pages or reports
(figures are counted through an object create_app hands it).
"""
