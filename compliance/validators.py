"""Input checks shared by the API (serializers) and the pages (forms), so both refuse the same
values with the same words and never hand PostgreSQL something it cannot store or compare."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

# Bounds on free text, the same on pages and API: a huge body is a 400, never a database row.
REASON_MAX = 2000
TEXT_MAX = 20000

# PostgreSQL refuses a time zone displacement of 16 hours or more ("time zone displacement
# out of range"); real offsets lie within -12:00 and +14:00.
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
OFFSET_MESSAGE = "Enter a time whose UTC offset is between -15:59 and +15:59."

# A code, slug or username with a NUL character cannot even be looked up in PostgreSQL.
prohibit_nul = ProhibitNullCharactersValidator()


def validate_utc_offset(value: datetime | None) -> None:
    """Refuse an aware time whose UTC offset PostgreSQL cannot take (|offset| ≥ 16:00)."""
    offset = value.utcoffset() if value is not None else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValidationError(OFFSET_MESSAGE, code="utc_offset")
