import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

# The entitlement stream (R27) is a plain ASGI app in front of Django (no thread per
# subscriber: compliance/streams/asgi.py); every other path is Django's.
from compliance.streams.asgi import with_stream  # noqa: E402

application = with_stream(django_application)
