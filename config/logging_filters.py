import logging
import re

# Survey links look like /s/<token>/ (see surveys/urls.py). The token is the only secret an
# engineer holds; it must never reach a log line or an error report.
SURVEY_TOKEN_IN_TEXT = re.compile(r"/s/[A-Za-z0-9_\-]{8,}")


def redact_survey_tokens(text: str) -> str:
    return SURVEY_TOKEN_IN_TEXT.sub("/s/<redacted>", text)


class RedactSurveyTokens(logging.Filter):
    """Rewrites a record's message with survey tokens blanked; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_survey_tokens(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        # Django attaches the request to request-log records; handlers that render it (an error
        # mail, say) would print the path, so drop it when the path holds a survey link.
        request = getattr(record, "request", None)
        if request is not None and SURVEY_TOKEN_IN_TEXT.search(getattr(request, "path", "") or ""):
            record.request = None
        return True
