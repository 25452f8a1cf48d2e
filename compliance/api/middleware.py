"""Request-body guards that run before anything else does work on a request (sessions,
authentication, a token lookup, the view): a JSON body nested deeper than any Clearance body
is a 400 here, so no parser can recurse until the interpreter gives up (a RecursionError, a
500)."""

from __future__ import annotations

import re

from django.http import JsonResponse

from compliance.api.exceptions import NON_FIELD

# Clearance's deepest body is a handful of levels; a generous bound still stops a parser long
# before Python's recursion limit.
JSON_MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error - nested deeper than {JSON_MAX_DEPTH} levels."
# A string (escapes included, possibly unterminated) or a bracket: brackets inside strings
# do not count.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def is_json(media_type: str) -> bool:
    media_type = media_type.lower()
    return media_type == "application/json" or media_type.endswith("+json")


def json_depth_exceeds(text: str, limit: int = JSON_MAX_DEPTH) -> bool:
    """True when ``text`` opens more than ``limit`` arrays/objects inside each other."""
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot be that deep: the usual case, decided at C speed
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


class JsonDepthMiddleware:
    """400 (``{"non_field_errors": [...]}``, like any malformed JSON) for a JSON body nested
    deeper than ``JSON_MAX_DEPTH``, on every path. Reading the body here applies Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` too (an oversize body: the JSON 400 of handler400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_json(request.content_type or ""):
            text = request.body.decode(request.encoding or "utf-8", errors="replace")
            if json_depth_exceeds(text):
                return JsonResponse({NON_FIELD: [TOO_DEEP]}, status=400)
        return self.get_response(request)
