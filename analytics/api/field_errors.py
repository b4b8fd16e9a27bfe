"""The API's 400 for a request body: every field's message at once, and the fix.

``{"detail": "<field>: <fix>; ...", "errors": {field: message}}``, answered by the view itself
(DRF's exception handler would flatten ``errors`` into the message alone). Unknown fields are
refused, not ignored, so a client never believes it changed what it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_parsers import BodyError, body_read


class FieldErrors(Exception):
    """A 400 with every field's message. Answered by the view: the exception handler would
    flatten ``errors`` into the message alone."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = dict(errors)

    def response(self) -> Response:
        detail = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
        return Response({"detail": detail, "errors": self.errors}, status=status.HTTP_400_BAD_REQUEST)


def field_messages(errors: Mapping[str, Any]) -> dict[str, str]:
    """A serializer's or a ValidationError's errors as one message per field."""
    out: dict[str, str] = {}
    for field, messages in errors.items():
        listed = messages if isinstance(messages, list | tuple) else [messages]
        out[str(field)] = " ".join(str(message) for message in listed)
    return out


def request_fields(
    request: Request, allowed: tuple[str, ...], fixed: Mapping[str, str] | None = None
) -> Mapping[str, Any]:
    """The request's fields; a field not ``allowed`` is refused with the fix (``fixed``: fields
    that exist but cannot be set here)."""
    try:
        data = body_read(request)
    except BodyError as error:  # already names its field and the fix (config.api_parsers)
        raise FieldErrors({error.field: error.message}) from None
    except ParseError as error:
        raise FieldErrors({"body": f"{error.detail}; send a JSON object of fields."}) from None
    if not isinstance(data, Mapping):
        raise FieldErrors({"body": "send a JSON object of fields."})
    accepted = ", ".join(allowed) if allowed else "no fields"
    errors = {
        str(name): (fixed or {}).get(str(name), f"unknown field; this endpoint accepts {accepted}.")
        for name in data
        if name not in allowed
    }
    if errors:
        raise FieldErrors(errors)
    return data


def fields_in_order(errors: Mapping[str, str], order: tuple[str, ...]) -> dict[str, str]:
    """Field errors in the order the fields are documented (then any other, by name)."""
    rank = {name: index for index, name in enumerate(order)}
    return {name: errors[name] for name in sorted(errors, key=lambda name: (rank.get(name, len(order)), name))}
