"""Serializer fields the API's inputs share (the actions API, the exports API)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from config.text_input import multiline_text, single_line_text


class TextField(serializers.CharField):
    """Text as a JSON string only (DRF's CharField would store ``5`` as "5"), holding none of the
    characters config.text_input refuses: single-line unless ``multiline``.

    The characters are checked as sent, before DRF trims the ends: ``strip()`` takes NEL (U+0085)
    and other controls for whitespace, so "csv\\x85" would otherwise arrive as "csv". The check
    covers NUL and lone surrogates, so DRF's own two validators of those are dropped (one message
    for a NUL sent in a form body, not three)."""

    default_error_messages = {"not_text": "give text, as a JSON string."}

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text_check = multiline_text if multiline else single_line_text
        overlapped = (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)
        self.validators = [v for v in self.validators if not isinstance(v, overlapped)]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        try:
            self.text_check(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code="bad_text") from None
        return str(super().to_internal_value(data))
