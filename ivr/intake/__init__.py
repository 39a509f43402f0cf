"""Intake: the callback queue the intake team works. service.py is the one service
layer for pages and API; queue.py holds claims and status moves (Lua); outcomes.py plans the next
attempt; audit.py records who saw or changed what; summary.py writes the clinical-record summary;
call_connect.py rings a worker then the caller; pages.py is the queue and request pages.

May import: config, phone, clients, store, line (hours, signature), staff (sign-in and roles).
"""
