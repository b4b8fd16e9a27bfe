"""Django's database sessions, refusing a session key that no session could have.

Django's keys are 32 characters of [a-z0-9]. A cookie is client input: a quoted cookie value may
spell NUL as \\000, which PostgreSQL refuses in the lookup, so every page would answer 500 to
that one cookie. A key that is not plain ASCII letters and digits is treated as no session (the
visitor is signed out, as with any unknown key), without a query.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        # Django's own rule (SessionBase._validate_session_key, absent from the type stubs): at
        # least 8 characters; and here, only ASCII letters and digits.
        return key is not None and len(key) >= 8 and key.isascii() and key.isalnum()
