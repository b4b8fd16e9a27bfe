"""PilotPulse settings: everything comes from the environment.

With no variable set, a fresh clone runs on SQLite with eager Celery and console e-mail, so
`make demo` needs nothing but Python. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import datetime as dt
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
django_stubs_ext.monkeypatch()  # generic Django classes (ModelAdmin[Team]) at run time

env = environ.Env()


def env_int_list(name: str, default: str) -> list[int]:
    """A comma-separated list of whole numbers, e.g. REMINDER_DAYS=3,5."""
    raw = env.str(name, default=default)
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be whole numbers separated by commas, got {raw!r}") from error


def env_crontab(name: str, default: str) -> crontab:
    """A five-field cron expression (minute hour day-of-month month day-of-week)."""
    raw = env.str(name, default=default)
    fields = raw.split()
    if len(fields) != 5:
        raise ImproperlyConfigured(f"{name} must be a five-field cron expression like '0 7 1 * *', got {raw!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and env.bool("PULSE_PRODUCTION", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set in production (PULSE_PRODUCTION=1).")
    # Only for a local clone: the demo and tests run without configuration.
    SECRET_KEY = "insecure-local-development-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105  # nosec B105
# Rotation (docs/security.md): the new key in SECRET_KEY, the old ones here, comma-separated, for
# as long as what they signed should keep working (sessions: PULSE_SESSION_HOURS; password-reset
# links: PASSWORD_RESET_TIMEOUT). Django signs with SECRET_KEY and also accepts these.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Seeds the released comments' shuffle (analytics/job/comments.py), apart from SECRET_KEY so that
# rotating the secret does not reorder comments already released when a cycle is re-aggregated.
# Set it once (to the current SECRET_KEY before the first rotation) and never change it.
PULSE_SHUFFLE_KEY = env.str("PULSE_SHUFFLE_KEY", default="") or SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The address survey links in e-mails point at.
PULSE_BASE_URL = env.str("PULSE_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Content-Security-Policy header (django-csp); policy below.
    "csp",
    "surveys",
    # The anonymous side (responses, answers, comments) is an app of its own so that an
    # import-linter contract can name the only modules allowed to touch it (ANONYMITY R6).
    "surveys.anonymous",
    "analytics",
    # Export jobs (a model of their own: who asked, the file, its expiry) on top of the door.
    "analytics.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # A lost database connection is a 503 page that says nothing was stored, not a 500 (after the
    # CSP middleware, so the page carries the header).
    "config.db_unavailable.DatabaseUnavailableMiddleware",
    # Refuses a body over PULSE_MAX_REQUEST_BYTES by its declared length, before anything reads it.
    "config.request_limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# What one request may carry (config/request_limits.py): 3 MB holds a 2 MB roster upload with
# room for the multipart framing; a form or JSON body is capped the same; 1,000 fields is Django's
# default and thirty times what the longest form here sends.
PULSE_MAX_REQUEST_BYTES = env.int("PULSE_MAX_REQUEST_BYTES", default=3 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PULSE_MAX_REQUEST_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

ROOT_URLCONF = "config.urls"

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
                "analytics.reports.context.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections in every deployment: opening one per request was most of a survey
# submission's time (bench/load_submit.py). The health check replaces a connection the server
# dropped (a restart, an idle timeout) at the start of the next request instead of failing it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Django's ModelBackend behind the login throttle (config/login_throttle.py): every password
# sign-in, the admin's included, counts failures per account and per client.
AUTHENTICATION_BACKENDS = ["config.login_throttle.ThrottledModelBackend"]
PULSE_LOGIN_ACCOUNT_LIMIT = env.int("PULSE_LOGIN_ACCOUNT_LIMIT", default=5)
PULSE_LOGIN_CLIENT_LIMIT = env.int("PULSE_LOGIN_CLIENT_LIMIT", default=20)
PULSE_LOGIN_WINDOW_SECONDS = env.int("PULSE_LOGIN_WINDOW_SECONDS", default=900)
if min(PULSE_LOGIN_ACCOUNT_LIMIT, PULSE_LOGIN_CLIENT_LIMIT, PULSE_LOGIN_WINDOW_SECONDS) < 1:
    raise ImproperlyConfigured(
        "PULSE_LOGIN_ACCOUNT_LIMIT, PULSE_LOGIN_CLIENT_LIMIT and PULSE_LOGIN_WINDOW_SECONDS must be 1 or more."
    )
# Password-reset mails (config/password_reset.py), over the same window: per client, per address.
PULSE_PASSWORD_RESET_CLIENT_LIMIT = env.int("PULSE_PASSWORD_RESET_CLIENT_LIMIT", default=5)
PULSE_PASSWORD_RESET_ADDRESS_LIMIT = env.int("PULSE_PASSWORD_RESET_ADDRESS_LIMIT", default=3)
if min(PULSE_PASSWORD_RESET_CLIENT_LIMIT, PULSE_PASSWORD_RESET_ADDRESS_LIMIT) < 1:
    raise ImproperlyConfigured(
        "PULSE_PASSWORD_RESET_CLIENT_LIMIT and PULSE_PASSWORD_RESET_ADDRESS_LIMIT must be 1 or more."
    )

# A sign-in lasts at most PULSE_SESSION_HOURS (default 8, a working day) from the session's last
# change, and its cookie ends with the browser.
PULSE_SESSION_HOURS = env.int("PULSE_SESSION_HOURS", default=8)
if PULSE_SESSION_HOURS < 1:
    raise ImproperlyConfigured("PULSE_SESSION_HOURS must be a whole number of hours, 1 or more.")
SESSION_COOKIE_AGE = PULSE_SESSION_HOURS * 3600
# Database sessions that treat a malformed cookie (a NUL, say) as no session (config/sessions.py).
SESSION_ENGINE = "config.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files in every mode (the demo runs with DEBUG off). Production
# serves the collected, hashed files; a local clone serves straight from static/.
if env.bool("PULSE_PRODUCTION", default=False):
    STATIC_ROOT = BASE_DIR / "staticfiles"
else:
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
# Export files HR starts in the browser are written through Django's storage API here; web and
# worker must share it (the compose file mounts one volume for both). Never served directly:
# only the export's download view hands a file out, to the one who asked for it.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("PULSE_PRODUCTION", default=False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# E-mail: EMAIL_URL (smtp://user:pass@host:587/?tls=True) wins; else EMAIL_BACKEND; else console.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="PilotPulse <pulse@localhost>")

# Security headers; production values are switched on by PULSE_PRODUCTION so that
# `manage.py check --deploy` passes there without getting in the way of a local clone.
PULSE_PRODUCTION = env.bool("PULSE_PRODUCTION", default=False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Survey links carry a token in their path: send only the origin as Referer, never the path.
# ("no-referrer" would make browsers send Origin: null on form posts, which fails CSRF.)
SECURE_REFERRER_POLICY = "strict-origin"
# Content-Security-Policy (django-csp): everything from this origin, no inline script or style
# except an element carrying the response's nonce (Swagger UI's page at /api/docs/ is the only
# template that uses one: templates/drf_spectacular/swagger_ui.html). data: images for the blank
# favicon and Swagger UI's icons. No plugins, no <base>, no framing, forms post here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
if PULSE_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole parent domain to HTTPS in browsers for months: the
        # organisation's call, not ours. Opt in with SECURE_HSTS_PRELOAD=1.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Lets a load balancer probe /healthz/ over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/"]

# Number of reverse proxies in front of the app; the client address for rate limiting is read
# from X-Forwarded-For only when this is above zero (otherwise the header could be forged).
PULSE_TRUSTED_PROXIES = env.int("PULSE_TRUSTED_PROXIES", default=0)
# Invalid survey-link attempts allowed per client per window (ANONYMITY R2).
PULSE_INVALID_TOKEN_LIMIT = env.int("PULSE_INVALID_TOKEN_LIMIT", default=20)
PULSE_INVALID_TOKEN_WINDOW_SECONDS = env.int("PULSE_INVALID_TOKEN_WINDOW_SECONDS", default=900)
# Invalid API bearer tokens allowed per client per that window (config/api_auth.py).
PULSE_INVALID_API_TOKEN_LIMIT = env.int("PULSE_INVALID_API_TOKEN_LIMIT", default=20)

# Programme schedule: a cycle stays open this many days, reminders go out on these days after
# opening, to those who have not answered yet.
PULSE_CYCLE_OPEN_DAYS = env.int("PULSE_CYCLE_OPEN_DAYS", default=14)
# At most what HR may set by hand (surveys.services.cycle_actions.MAX_OPEN_DAYS): a monthly pulse
# open longer keeps the next month's from opening.
if not 1 <= PULSE_CYCLE_OPEN_DAYS <= 60:
    raise ImproperlyConfigured("PULSE_CYCLE_OPEN_DAYS must be between 1 and 60 (days a cycle stays open).")
PULSE_REMINDER_DAYS = env_int_list("PULSE_REMINDER_DAYS", default="3,5")

# Celery: Redis when REDIS_URL is set; otherwise tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task results live in Redis for an hour at most: the aggregation's fan-out passes per-team sums
# through them (its chord body also deletes them once merged).
CELERY_RESULT_EXPIRES = 3600
# With Redis down, queueing a task must fail in about a second (closing a cycle, or HR's page,
# then carries on and the nightly run catches up), not retry the result backend for 20 s.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
}

# The whole beat schedule in one place. Each job is idempotent, so running it twice (or on a
# late beat) acts once; `expires` drops a run that waited in the queue past the next one.
# Whole months a closed cycle's raw answers are kept after its month; then purged, aggregates kept
# (docs/operations.md, "Retention of raw answers"). 0 keeps them forever.
PULSE_RETENTION_MONTHS = env.int("PULSE_RETENTION_MONTHS", default=24)
if PULSE_RETENTION_MONTHS < 0:
    raise ImproperlyConfigured("PULSE_RETENTION_MONTHS must be 0 (keep forever) or a whole number of months.")
# Worker and beat heartbeats (config/heartbeat.py): how often beat sends heartbeat_task, and the age
# past which /healthz/worker/ and /healthz/beat/ answer 503.
PULSE_HEARTBEAT_SECONDS = env.int("PULSE_HEARTBEAT_SECONDS", default=60)
PULSE_HEARTBEAT_STALE_SECONDS = env.int("PULSE_HEARTBEAT_STALE_SECONDS", default=600)
if PULSE_HEARTBEAT_SECONDS < 10 or PULSE_HEARTBEAT_STALE_SECONDS <= PULSE_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "PULSE_HEARTBEAT_SECONDS must be 10 or more, and PULSE_HEARTBEAT_STALE_SECONDS above it."
    )

CELERY_BEAT_SCHEDULE = {
    "open-monthly-cycle": {
        "task": "surveys.tasks.open_cycle_task",
        "schedule": env_crontab("PULSE_OPEN_CRON", "0 7 1 * *"),
        "options": {"expires": 6 * 3600},
    },
    "send-reminders": {
        "task": "surveys.tasks.send_reminders_task",
        "schedule": env_crontab("PULSE_REMINDER_CRON", "0 8 * * *"),
        "options": {"expires": 6 * 3600},
    },
    "close-due-cycles": {
        "task": "surveys.tasks.close_due_cycles_task",
        "schedule": env_crontab("PULSE_CLOSE_CRON", "0 18 * * *"),
        "options": {"expires": 6 * 3600},
    },
    # Closing already queues its cycle's aggregation; the nightly run catches one that failed, was
    # interrupted, or was decided under a k that has since been raised.
    "aggregate-nightly": {
        "task": "analytics.job.tasks.aggregate_nightly_task",
        "schedule": env_crontab("PULSE_AGGREGATE_CRON", "30 2 * * *"),
        "options": {"expires": 12 * 3600},
    },
    # The open cycle's live participation for HR's cycles page and the home page (a no-op while
    # no cycle is open); opening a cycle also counts it at once.
    "count-live-participation": {
        "task": "analytics.job.tasks.participation_count_task",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 9 * 60},
    },
    # Purges the raw answers of closed cycles past PULSE_RETENTION_MONTHS (a no-op at 0).
    "purge-old-answers": {
        "task": "analytics.job.tasks.answers_purge_task",
        "schedule": env_crontab("PULSE_RETENTION_CRON", "45 3 * * *"),
        "options": {"expires": 12 * 3600},
    },
    # The worker's and beat's heartbeats for the health endpoints; a missed one is dropped, not queued up.
    "heartbeat": {
        "task": "config.heartbeat.heartbeat_task",
        "schedule": float(PULSE_HEARTBEAT_SECONDS),
        "options": {"expires": max(PULSE_HEARTBEAT_SECONDS - 5, 5)},
    },
    # Releases the comments of closed cycles whose review window ends today (ANONYMITY R7).
    "release-due-comments": {
        "task": "surveys.tasks.comments_release_due_task",
        "schedule": env_crontab("PULSE_COMMENTS_RELEASE_CRON", "0 6 * * *"),
        "options": {"expires": 6 * 3600},
    },
    # Deletes the files of exports past PULSE_EXPORT_TTL_HOURS (the download refuses them already).
    "expire-exports": {
        "task": "analytics.exports.tasks.export_jobs_expire_task",
        "schedule": crontab(minute="15"),
        "options": {"expires": 50 * 60},
    },
}

# An organisation with at least this many teams is aggregated as one Celery task per top-level
# unit (a chord), merged for the organisation level; a smaller one in a single task.
PULSE_AGGREGATION_FANOUT_TEAMS = env.int("PULSE_AGGREGATION_FANOUT_TEAMS", default=2000)
if PULSE_AGGREGATION_FANOUT_TEAMS < 0:
    raise ImproperlyConfigured("PULSE_AGGREGATION_FANOUT_TEAMS must be 0 (always fan out) or more.")

# Hours an export HR started in the browser stays downloadable once written; then its file is deleted.
PULSE_EXPORT_TTL_HOURS = env.int("PULSE_EXPORT_TTL_HOURS", default=24)
if PULSE_EXPORT_TTL_HOURS < 1:
    raise ImproperlyConfigured("PULSE_EXPORT_TTL_HOURS must be a whole number of hours, 1 or more.")

# The API at /api/v1/ (analytics.api). Knox first, so an unauthenticated call gets 401 with
# `WWW-Authenticate: Token` (DRF takes the header from the first authenticator); the session lets
# a signed-in browser read it and use /api/docs/. JSON only: no browsable API and no `?format=`,
# so every query parameter is one the views check (unknown ones are refused: ANONYMITY.md, threat 7,
# side doors). The exception handler makes every error a JSON `{"detail": "<param>: <the fix>"}`.
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's TokenAuthentication behind a per-client limit on invalid tokens.
        "config.api_auth.ThrottledTokenAuthentication",
        # Session auth enforces CSRF on unsafe methods; token requests carry no cookie. A malformed
        # session cookie is no session, for the API as for pages (config.sessions).
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's three, the JSON and form parsers strict (config/api_parsers.py): what is not UTF-8, or
    # cannot be stored or written back (NUL, lone surrogates, runaway nesting), is refused with the
    # field it is in rather than stored as U+FFFD or ended in a 500.
    "DEFAULT_PARSER_CLASSES": [
        "config.api_parsers.StrictJSONParser",
        "config.api_parsers.StrictFormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "analytics.api.errors.api_exception_handler",
    "URL_FORMAT_OVERRIDE": None,
}

# API tokens (django-rest-knox): stored as a plain SHA-512 digest only (no SECRET_KEY involved:
# rotation leaves tokens valid), shown once, expiring after PULSE_API_TOKEN_TTL_DAYS (default 90);
# a person may hold ten at a time (made and revoked on /api/tokens/).
PULSE_API_TOKEN_TTL_DAYS = env.int("PULSE_API_TOKEN_TTL_DAYS", default=90)
if PULSE_API_TOKEN_TTL_DAYS < 1:
    raise ImproperlyConfigured("PULSE_API_TOKEN_TTL_DAYS must be a whole number of days, 1 or more.")
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(days=PULSE_API_TOKEN_TTL_DAYS),
    "TOKEN_LIMIT_PER_USER": 10,  # nosec B105 - a count of tokens, not a password
    "AUTO_REFRESH": False,
}

# OpenAPI schema at /api/schema/, Swagger UI at /api/docs/, served from the sidecar's local static
# files (no CDN). Swagger UI's default validator badge would send the schema's address to
# validator.swagger.io: switched off.
SPECTACULAR_SETTINGS = {
    "TITLE": "PilotPulse API",
    "DESCRIPTION": (
        "Published, k-anonymous aggregates of the monthly pulse, read through the one disclosure door. "
        "Hidden cells come back hidden (no numbers); nothing can be filtered or ordered by a value."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # drf-spectacular's default hook, then ours: the statuses the framework answers on every
    # operation (406, 429; 415 and the CSRF 403 where a body is sent), so that the schema lists
    # every status the API can return (tests/hostile/api).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "analytics.api.docs.framework_statuses_document",
    ],
}

# Survey links carry a one-time token in their path: every log record passes through a filter
# that blanks it (ANONYMITY R2). Django's request and server loggers write paths.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_survey_tokens": {"()": "config.logging_filters.RedactSurveyTokens"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_survey_tokens"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Filtered on the logger too, so the record is redacted before any handler sees it.
        "django.server": {
            "handlers": ["console"],
            "filters": ["redact_survey_tokens"],
            "level": "INFO",
            "propagate": False,
        },
        "django.request": {
            "handlers": ["console"],
            "filters": ["redact_survey_tokens"],
            "level": "WARNING",
            "propagate": False,
        },
    },
}
