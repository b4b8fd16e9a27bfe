"""What an audit event (ANONYMITY R10) is about, in a few words: shared by the admin's audit list
and HR's audit log page and CSV, so both name an event's subject the same way."""

from __future__ import annotations

from typing import Any

# Where an event's detail names its subject, first match wins (services write email or cycle).
SUBJECT_KEYS = ("subject", "email", "cycle", "team", "field", "format")


def audit_subject(detail: Any) -> str:
    """The first non-empty of SUBJECT_KEYS in ``detail``, as text; "" when there is none (or the
    detail is not an object): a row that says only "role_set" tells nothing."""
    if not isinstance(detail, dict):
        return ""
    for key in SUBJECT_KEYS:
        if detail.get(key):
            return str(detail[key])
    return ""
