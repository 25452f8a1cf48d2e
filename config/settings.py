"""Clearance settings: every knob comes from the environment, each with a default that
runs on one machine with no services (SQLite, an embedded Celery broker, console e-mail)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def parse_role_map(text: str) -> dict[str, str]:
    """OIDC_ROLE_MAP, ``idp-group=role,…`` → ``{group: role}``. The roles of people only
    (compliance.models.roles.PERSON_ROLES; a gateway is never a person signing in). A wrong
    entry stops the start: a typo must not quietly leave a group without its role."""
    roles = ("admin", "staff", "auditor")
    mapping: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        group, sep, role = (part.strip() for part in entry.rpartition("="))
        if not sep or not group or role not in roles:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP entry {entry!r}: write idp-group=role, role one of "
                + ", ".join(roles)
            )
        if mapping.get(group, role) != role:
            raise ImproperlyConfigured(f"OIDC_ROLE_MAP maps {group!r} to two roles")
        mapping[group] = role
    return mapping


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_countries",
    "simple_history",
    "pgtrigger",
    "axes",
    "csp",
    # Single sign-on (R40): allauth's OpenID Connect provider does the protocol; Clearance
    # maps the claims to its users and roles (compliance/web/oidc.py). Installed always, so
    # the schema does not depend on the environment; without OIDC_ISSUER nothing of it is
    # reachable.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before sessions and authentication do any work: a JSON body nested too deep is a 400.
    "compliance.api.middleware.JsonDepthMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The signed-in user's display time zone for pages (compliance.web.timezones).
    "compliance.web.timezones.TimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "compliance.web.context_processors.clearance",
            ],
        },
    }
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: opening a PostgreSQL connection per request (Django's default, 0)
# costs more than the whole access check (docs/benchmarks.md). No CONN_HEALTH_CHECKS: that
# is one more round trip per request; a connection left broken is closed at request end.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# DB_POOL=N: on PostgreSQL, a pool of at most N connections per server process (Django's
# psycopg pool) instead of persistent connections. For the ASGI server: Django's ASGI handler
# runs each request's sync code in a thread of its own, and a persistent connection belongs
# to a thread, so under uvicorn nearly every request connects anew (docs/benchmarks.md,
# issue 15). A request waits up to DB_POOL_TIMEOUT seconds for a free connection, then
# fails (500). 0 (the default): no pool, right for gunicorn's sync workers and Celery.
DB_POOL = env.int("DB_POOL", default=0)
if DB_POOL > 0 and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(DB_POOL, env.int("DB_POOL_MIN", default=2)),
        "max_size": DB_POOL,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pooled connection goes back at request end
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for each other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing passwords (and ending password sessions) when OIDC_ONLY.
    "compliance.signin.PasswordBackend",
    # Sessions opened by the single sign-on callback; it checks no credentials itself.
    "compliance.signin.IdentityProviderBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    # Validates nothing: revokes the user's API tokens whenever a password changes.
    {"NAME": "compliance.services.users.RevokeTokensOnPasswordChange"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "web:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = (
    [BASE_DIR / "compliance" / "static"] if (BASE_DIR / "compliance" / "static").exists() else []
)

# --- E-mail -----------------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="clearance@localhost")
# Without an SMTP host, mail goes to the console (visible in `make run`'s output).
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # Embedded broker: kombu's filesystem transport in the project folder; no server needed.
    _broker_dir = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing (e.g. a notification after commit) gives up fast when the broker is down: the
# user's action has committed, and the outbox row waits for the next sweep (R20).
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {
            "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
            "socket_timeout": 10,
            # Unacked (acks_late) tasks are redelivered after this; must exceed the longest
            # task time limit (the sweep's 300 s).
            "visibility_timeout": 3600,
        }
    )
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Reminders (R17–R19) ----------------------------------------------------------------
REMINDER_LEAD_TIME = timedelta(hours=env.float("REMINDER_LEAD_HOURS", default=72))
REMINDER_INTERVAL = timedelta(hours=env.float("REMINDER_INTERVAL_HOURS", default=24))
REMINDER_ESCALATION = timedelta(hours=env.float("REMINDER_ESCALATION_HOURS", default=48))
REMINDER_SWEEP_MINUTES = env.float("REMINDER_SWEEP_MINUTES", default=15)
# A claim whose send never finished is retried after this long (see README "Reminders").
REMINDER_CLAIM_TIMEOUT = timedelta(minutes=env.float("REMINDER_CLAIM_TIMEOUT_MINUTES", default=30))
# A worker sweeps once when it starts (beat's first run is a full period later).
REMINDER_SWEEP_ON_START = env.bool("REMINDER_SWEEP_ON_START", default=True)

# --- Cache (throttle counters) ----------------------------------------------------------
# Shared by every worker process, so a rate limit is one limit and not one per process:
# Redis when REDIS_URL is set, else a database table (`manage.py createcachetable`, which
# `make run` and the test database creation run).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clearance_cache",
        }
    )
}

# A duplicate submit may queue the same message as the first: show each once (web/once.py).
MESSAGE_STORAGE = "compliance.web.once.DistinctMessages"

# --- Client address (throttles, sign-in lock-out) --------------------------------------
# How many reverse proxies in front of the app append to X-Forwarded-For. 0 (the default):
# the header is ignored and the client is the connection's address, so a client cannot
# pick its own address by sending the header. N: the N-th address from the right is the
# client (each proxy appends the address it saw). compliance.signin.client_address.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "compliance.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "compliance.api.permissions.ReadAnyRoleWriteStaff",
    ],
    "EXCEPTION_HANDLER": "compliance.api.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "compliance.api.schema.ClearanceAutoSchema",
    "DEFAULT_THROTTLE_RATES": {"token": env.str("TOKEN_THROTTLE_RATE", default="20/min")},
    "NUM_PROXIES": NUM_PROXIES,
    "UNAUTHENTICATED_USER": None,
    # The API takes JSON only: DRF's test client (APIClient) sends JSON unless told otherwise.
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": timedelta(hours=env.float("API_TOKEN_TTL_HOURS", default=24 * 30)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clearance API",
    "DESCRIPTION": "Releases, agency sign-offs, government requests, allowlists and audit.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One named enum per choice set (the same "status" name means different things).
    "ENUM_NAME_OVERRIDES": {
        "ReleaseStatusEnum": "compliance.models.releases.ReleaseStatus.choices",
        "RequestStatusEnum": "compliance.models.requests.RequestStatus.choices",
        "RequestKindEnum": "compliance.models.requests.RequestKind.choices",
        "BlockerKindEnum": "compliance.errors.BLOCKER_KINDS",
        "DeployBlockerKindEnum": "compliance.errors.DEPLOY_BLOCKER_KINDS",
        "StageEnum": "compliance.models.signoffs.Stage.choices",
        "AccessReasonEnum": "compliance.api.serializers.ACCESS_REASONS",
        "AlertKindEnum": "compliance.api.serializers.ALERT_KINDS",
        "EvidenceKindEnum": "compliance.models.evidence.EvidenceKind.choices",
    },
}

# --- Security ---------------------------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Password spraying (one address, many usernames): the address alone is locked after this
# many failures within AXES_COOLOFF_TIME (compliance.signin.AddressLockoutHandler).
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_HANDLER = "compliance.signin.AddressLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "compliance.signin.client_address"
# The token endpoint's lock-out answer is JSON, the login page's is the template.
AXES_LOCKOUT_CALLABLE = "compliance.signin.lockout_response"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Behind a TLS-terminating proxy the app sees plain HTTP: without this, HSTS is never sent
# and SECURE_SSL_REDIRECT redirects forever. Set it only when the proxy sets the header and
# strips it from what clients send, e.g. SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_ssl_header.upper().replace("-", "_"),
        env.str("SECURE_PROXY_SSL_VALUE", default="https"),
    )
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# make bench mounts its bare baseline views under /api/v1/_bench/ (benchmarks/views.py).
CLEARANCE_BENCH = env.bool("CLEARANCE_BENCH", default=False)

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False
# Reasons are free text (R7): a varchar(100) would make PostgreSQL refuse long ones.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_ENABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden": {"()": "compliance.web.logging.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["forbidden"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Single sign-on (R40) ---------------------------------------------------------------
# OpenID Connect, authorization code with PKCE; the provider is found by discovery from
# OIDC_ISSUER. Without OIDC_ISSUER there is no single sign-on and passwords work as before.
# Register <SITE_URL>/auth/oidc/callback/ as the redirect URI at the provider, and
# <SITE_URL>/login/ as the post-logout redirect URI (README "Single sign-on").
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
# The claim that carries the user's groups at the provider, and which group gives which
# role: "idp-group=role,…" (roles: admin, staff, auditor).
OIDC_ROLE_CLAIM = env.str("OIDC_ROLE_CLAIM", default="groups")
OIDC_ROLE_MAP = parse_role_map(env.str("OIDC_ROLE_MAP", default=""))
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
# true: the login page, the Django admin and POST /api/v1/auth/token/ refuse passwords.
OIDC_ONLY = env.bool("OIDC_ONLY", default=False)
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_ID must be set too.")
if OIDC_ONLY and not OIDC_ISSUER:
    raise ImproperlyConfigured("OIDC_ONLY=true needs OIDC_ISSUER: nobody could sign in.")
# The provider app itself is built from the OIDC_* settings at each request
# (compliance.web.oidc.SocialAccountAdapter.list_apps): none is kept in the database.
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "provider_class": "compliance.web.oidc.ClearanceOIDCProvider",
        "OAUTH_PKCE_ENABLED": True,
    }
}
SOCIALACCOUNT_ADAPTER = "compliance.web.oidc.SocialAccountAdapter"
# Access and refresh tokens are not needed after the login: none is stored.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
ACCOUNT_EMAIL_VERIFICATION = "none"

# --- Webhooks (R31) ---------------------------------------------------------------------
# Seconds to wait before each retry of a failed delivery; after the last one fails the
# endpoint is disabled and admins are alerted.
WEBHOOK_RETRY_SECONDS = [
    float(s)
    for s in env.list(
        "WEBHOOK_RETRY_SECONDS", default=["5", "300", "1800", "7200", "18000", "36000"]
    )
]
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Destinations in loopback, link-local or private ranges are refused unless admitted here.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# How often beat delivers what is due (retries, and events the broker never got).
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=30)
# Under a burst, a process hands webhook events to the broker at most once per this many
# seconds, in one message (an event alone goes at once).
OUTBOX_COALESCE_SECONDS = env.float("OUTBOX_COALESCE_SECONDS", default=0.2)

# --- Gateways (R27, R30) ----------------------------------------------------------------
# An active gateway that has not reported an access change older than this is lagging.
GATEWAY_LAG_SECONDS = env.float("GATEWAY_LAG_SECONDS", default=60)
# A gateway not seen (no receipt) for this long is silent.
GATEWAY_SILENT_SECONDS = env.float("GATEWAY_SILENT_SECONDS", default=300)
# The entitlement stream sends a comment line at least this often (SSE keep-alive). R27 asks
# for one at least every 15 s: 10, so that a timer's few milliseconds never make a gap of 15.
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=10)
# Without PostgreSQL LISTEN/NOTIFY (SQLite), each server process polls the revision this often.
STREAM_POLL_SECONDS = env.float("STREAM_POLL_SECONDS", default=0.5)

# --- Evidence (R37-R39) -----------------------------------------------------------------
# Uploaded agency letters live in Django's default storage: a folder (MEDIA_ROOT) unless
# EVIDENCE_S3_BUCKET names an S3-compatible bucket (django-storages; the usual AWS_*
# variables, AWS_S3_ENDPOINT_URL for a non-AWS server such as MinIO or Ceph).
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: downloads go through the API (R37)
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=25 * 1024 * 1024)
# Uploads above this spill from memory to a temporary file (Django's own knob).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
EVIDENCE_S3_BUCKET = env.str("EVIDENCE_S3_BUCKET", default="")
if EVIDENCE_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": EVIDENCE_S3_BUCKET,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("EVIDENCE_S3_PREFIX", default="evidence"),
            # Never overwrite an object: a name taken gets a new one (R37 immutability).
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Transparency log (R33–R36) ---------------------------------------------------------
# The checkpoint origin line, and the note private key that signs checkpoints
# (PRIVATE+KEY+<name>+<hash>+<base64>, from `manage.py audit_keygen NAME`). Without
# AUDIT_SIGNING_KEY the key is read from AUDIT_SIGNING_KEY_FILE (`make run` writes one
# there); with neither, no checkpoint can be made and `audit_checkpoint` says so.
AUDIT_LOG_ORIGIN = env.str("AUDIT_LOG_ORIGIN", default="clearance.local/audit")
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
AUDIT_SIGNING_KEY_FILE = env.str(
    "AUDIT_SIGNING_KEY_FILE", default=str(VAR_DIR / "audit-signing.key")
)
# Beat makes a checkpoint this often when the tree grew.
AUDIT_CHECKPOINT_MINUTES = env.float("AUDIT_CHECKPOINT_MINUTES", default=10)
# An RFC 3161 time-stamping authority that timestamps every checkpoint (empty: none).
AUDIT_TSA_URL = env.str("AUDIT_TSA_URL", default="")
AUDIT_TSA_TIMEOUT_SECONDS = env.float("AUDIT_TSA_TIMEOUT_SECONDS", default=10.0)
