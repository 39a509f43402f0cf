"""Intake: the callback queue the intake team works. service.py is the one service
layer for pages and API; queue.py holds claims and status moves (Lua); outcomes.py plans the next
attempt; audit.py records who saw or changed what; summary.py writes the clinical-record summary;
call_connect.py rings a worker then the caller; pages.py is the queue and request pages;
finding.py pages and searches every view; board.py is the queue page's live strip and managers'
notices; supervision.py has managers reassigning claims and repeat requests merged; alerts.py
decides what the duty contacts are told about urgent requests and when, and outbox.py queues,
sends and retries those messages (the sweeper runs both, never a webhook).

May import: config, phone, clients, store, line (hours, signature), staff (sign-in and roles).
"""
