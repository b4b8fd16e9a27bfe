import logging
import re
import traceback

# Survey links look like /s/<token>/ (see surveys/urls.py). The token is the only secret an
# engineer holds; it must never reach a log line or an error report (ANONYMITY R2).
SURVEY_TOKEN_IN_TEXT = re.compile(r"/s/[A-Za-z0-9_\-]{8,}")


def redact_survey_tokens(text: str) -> str:
    return SURVEY_TOKEN_IN_TEXT.sub("/s/<redacted>", text)


class RedactSurveyTokens(logging.Filter):
    """Rewrites a record so no survey token or answer survives in it; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_survey_tokens(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        request = getattr(record, "request", None)
        if request is not None and SURVEY_TOKEN_IN_TEXT.search(getattr(request, "path", "") or ""):
            self._strip_survey_request(record)
        return True

    @staticmethod
    def _strip_survey_request(record: logging.LogRecord) -> None:
        """An error while answering the survey: the request (path, POST) and the traceback's local
        variables and exception text could all hold the token or answers. Keep what ops need to
        find the bug (exception type, file and line of each frame) and drop the rest."""
        record.request = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb))
            record.msg = f"{record.getMessage()}\n{exc_type.__name__} (details withheld: survey request)\n{frames}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
