"""Log filters for the pages."""

from __future__ import annotations

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A page refused for a role (PermissionDenied → 403.html) is an answer, not a fault:
    Django logs it with the exception's full traceback; keep the one line
    ("Forbidden (Permission denied): /path") and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
