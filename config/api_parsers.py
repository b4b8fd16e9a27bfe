"""The API's JSON and form parsers, and reading a request body with every refusal as a 400 that
names where.

DRF's JSONParser hands on whatever ``json.loads`` makes of a body, and some of that cannot go
any further: a ``"\\ud800"`` escape becomes a lone surrogate, which psycopg cannot encode and the
JSON renderer cannot write back (a 500 while answering, even when only an error message quotes
it); ``"\\u0000"`` becomes a NUL, which PostgreSQL refuses in text; a body nested a few thousand
levels deep ends the decoder in a RecursionError. This parser refuses all three up front, with
the field they sit in, before any view or serializer sees them. Other characters a person does
not type (control characters, direction overrides) are the fields' business
(config.text_input), since what is wrong with them depends on the field (a roster CSV holds line
breaks, a title may not). The form parser refuses a value that is not UTF-8, which Django would
read as U+FFFD. (A multipart text field, on any endpoint, is still read Django's way: the
multipart parser decodes it before anything here could look, so its NUL and surrogate checks
are the fields' own (analytics.api.fields.TextField); the roster file is read as bytes and
checked by surveys.services.roster_apply.)

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE and a form with too many fields with
exceptions that DRF leaves unhandled (a 500): ``body_read`` turns those into the same 400.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request

from config.request_limits import limit_label

#: The API's bodies are flat objects of fields; a bound this far above that is a resource limit,
#: not a shape rule (the views say what shape they want).
MAX_DEPTH = 32
BODY = "body"


class BodyError(ParseError):
    """A 400 for a request body: ``field`` is the field at fault (``body`` for the body as a
    whole), ``message`` what is wrong and the fix. ``detail`` is both, as every API error is.
    ``code`` tells the kinds apart for a view that words one its own way (``too_big``)."""

    def __init__(self, field: str, message: str, *, code: str = "parse_error") -> None:
        super().__init__(detail=f"{field}: {message}", code=code)
        self.field, self.message, self.code = field, message, code


def body_read(request: Request) -> Any:
    """``request.data``, with Django's refusals of the body as the API's 400 instead of a 500."""
    try:
        return request.data
    except RequestDataTooBig:
        raise too_big() from None
    except TooManyFieldsSent:
        raise BodyError(
            BODY,
            f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields; send only the fields the endpoint "
            "documents (see /api/docs/).",
        ) from None
    except TooManyFilesSent:
        raise BodyError(BODY, "too many files; send at most the one file the endpoint documents.") from None


def too_big() -> BodyError:
    """Django's cap on a body it reads (DATA_UPLOAD_MAX_MEMORY_SIZE); config.request_limits
    refuses most oversized requests (413) by their declared length before this is reached."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    shown = limit_label(limit) if limit else "the server's limit"
    return BodyError(BODY, f"larger than {shown}, the most the API reads; send a smaller body.", code="too_big")


class StrictJSONParser(JSONParser):
    """JSON in UTF-8 (a leading byte-order mark is ignored), no NaN or Infinity, nested at most
    MAX_DEPTH levels, and no string (key or value) holding NUL or a lone surrogate."""

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        raw = _utf8_body(stream, media_type, send="the JSON encoded as UTF-8 (RFC 8259)")
        text = _utf8_decoded(raw.removeprefix(codecs.BOM_UTF8), BODY, send="the JSON encoded as UTF-8")
        try:
            data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise _too_deep() from None
        except ValueError as error:
            # DRF's own words for a syntax error, which clients and tests already know.
            raise BodyError(BODY, f"JSON parse error - {error}; send a JSON object of fields.") from None
        _check_strings(data)
        return data


class StrictFormParser(FormParser):
    """A URL-encoded form in UTF-8, refused (naming the field) where a byte is not UTF-8 or a
    name or value holds NUL. Django's QueryDict would read such a byte as U+FFFD and the API
    would store it so: a name misspelt for good, with no word to the client."""

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        raw = _utf8_body(stream, media_type, send="the form encoded as UTF-8")
        for pair in raw.split(b"&"):
            name_bytes, _, value_bytes = pair.partition(b"=")
            name = _form_text(name_bytes, BODY, what="a field name")
            _form_text(value_bytes, name or BODY, what="the text")
        return super().parse(io.BytesIO(raw), media_type, parser_context)  # checked: DRF's own reading


def _form_text(encoded: bytes, field: str, *, what: str) -> str:
    raw = unquote_to_bytes(encoded.replace(b"+", b" "))
    text = _utf8_decoded(raw, field, send="the form encoded as UTF-8", subject=f"{what} is ")
    _check_text(text, field, what=what)
    return text


def _utf8_body(stream: IO[bytes] | None, media_type: str | None, *, send: str) -> bytes:
    """The body's bytes, refused when its Content-Type declares a charset other than UTF-8."""
    charset = _charset(media_type)
    if charset not in ("utf-8", "utf8"):
        raise BodyError(BODY, f"sent as {charset}; send {send}.")
    return stream.read() if stream is not None else b""


def _utf8_decoded(raw: bytes, field: str, *, send: str, subject: str = "") -> str:
    """``raw`` as UTF-8 text, or a BodyError on ``field`` naming the first byte that is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(
            field,
            f"{subject}not valid UTF-8 (byte 0x{raw[error.start]:02X} at position {error.start}); send {send}.",
        ) from None


def _charset(media_type: str | None) -> str:
    for part in (media_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return "utf-8"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    """A JSON number too large for a float (1e999) would be read as infinity, which the JSON
    renderer refuses to write back."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def _too_deep() -> BodyError:
    return BodyError(BODY, f"nested more than {MAX_DEPTH} levels deep; send a flat JSON object of fields.")


def _check_strings(data: Any) -> None:
    """Walks the parsed body (without recursion: depth is what is being checked) and refuses the
    first NUL or lone surrogate, naming the top-level field it is in."""
    pending: list[tuple[Any, str, int]] = [(data, BODY, 0)]
    while pending:
        value, field, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, str):
            _check_text(value, field)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                name = str(key)
                _check_text(name, field if depth else BODY, what="a field name")
                pending.append((item, (name or BODY) if depth == 0 else field, depth + 1))
        elif isinstance(value, Sequence):
            pending.extend((item, field, depth + 1) for item in value)


def _check_text(value: str, field: str, *, what: str = "the text") -> None:
    if "\x00" not in value:
        try:
            value.encode("utf-8")  # fails exactly when a lone surrogate is in it; fast on a 2 MB roster
            return
        except UnicodeEncodeError:
            pass
    for position, char in enumerate(value, start=1):
        if char == "\x00":
            raise BodyError(field, f"{what} holds a NUL; remove the control character U+0000 at character {position}.")
        if unicodedata.category(char) == "Cs":
            raise BodyError(
                field,
                f"{what} holds a lone surrogate; remove the broken character U+{ord(char):04X} at character "
                f"{position} (not valid Unicode: \\uD800-\\uDFFF escapes only come in pairs).",
            )
