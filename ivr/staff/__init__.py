"""Staff sign-in and the staff site's frame: sessions and roles (auth.py), accounts
(users.py), CSRF (csrf.py), sign-in throttling (throttle.py), the admin pages (admin.py), error
pages (web.py) and security headers (security.py).

May import: config, phone, store.
"""
