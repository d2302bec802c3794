"""All settings, read from the environment (django-environ); see .env.example for every name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.FileAwareEnv()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.FileAwareEnv.read_env(str(BASE_DIR / ".env"))

# ---------------------------------------------------------------- core
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not DEBUG and not env.bool("DJANGO_TESTING", default=False):
    missing = [name for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY") if not globals()[name]]
    if missing:
        raise ImproperlyConfigured(
            f"Refusing to start in production without {', '.join(missing)}; see .env.example."
        )
SECRET_KEY = SECRET_KEY or "insecure-dev-only-secret-key-change-me"
# django-cryptography derives its Fernet key from CRYPTOGRAPHY_KEY.
CRYPTOGRAPHY_KEY = FIELD_ENCRYPTION_KEY or "insecure-dev-only-field-key"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "tenants",
    "providers",
    "instances",
    "messaging",
    "webhooks",
    "notifications",
]

MIDDLEWARE = [
    "whatsapp_saas.middleware.HealthProbeMiddleware",
    "whatsapp_saas.middleware.RequestIdMiddleware",
    "whatsapp_saas.middleware.AccessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whatsapp_saas.middleware.ApiErrorMiddleware",
    "tenants.throttling.RateLimitHeadersMiddleware",
    "whatsapp_saas.pages.BrandedNotFoundMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "whatsapp_saas.urls"
WSGI_APPLICATION = "whatsapp_saas.wsgi.application"
ASGI_APPLICATION = "whatsapp_saas.asgi.application"

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
                "tenants.context_processors.tenants",
            ],
        },
    },
]

# ---------------------------------------------------------------- data stores
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/whatsapp_saas")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="wa"),
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# Sessions read from Redis first (written through to the database): a live page's refresh
# then costs no session query (messaging/feed.py); without Redis they come from the database.
SESSION_ENGINE = "whatsapp_saas.sessions"

# ---------------------------------------------------------------- auth and pages
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in lockout (tenants/lockout.py): LOGIN_FAILURE_LIMIT wrong passwords for one account from
# one address lock it there for LOGIN_LOCKOUT_MINUTES, on the tenant login and the admin login.
AUTHENTICATION_BACKENDS = [
    "tenants.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.lockout.locked_out"
AXES_CLIENT_IP_CALLABLE = "tenants.lockout.client_ip"
# Proxies in front that append to X-Forwarded-For (1 behind one TLS proxy); 0 trusts no header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
CSRF_FAILURE_VIEW = "whatsapp_saas.pages.csrf_failure"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# In the local run and tests whitenoise serves straight from the app folders, no collectstatic.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG or env.bool("DJANGO_TESTING", default=False)
# Inbound media (DESIGN.md "Media"): the filesystem under var/media locally; MEDIA_STORAGE=s3
# stores through django-storages in any S3-compatible bucket (AWS_* settings below).
MEDIA_ROOT = env.str("MEDIA_ROOT", default="") or str(BASE_DIR / "var" / "media")
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default=""),
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
                "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
                # Files are served only through our authenticated API, never by bucket URL.
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": True,
            },
        }
        if MEDIA_STORAGE == "s3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# smtp+tls://user:password@host:587, or consolemail:// (the default): each email one INFO log line.
_email = env.email_url("EMAIL_URL", default="consolemail://")
if _email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    _email["EMAIL_BACKEND"] = "whatsapp_saas.mail.LogEmailBackend"
vars().update(_email)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@whatsapp-saas.local")

# HTTPS is terminated by a proxy in front, which must set X-Forwarded-Proto (and overwrite any the
# client sent); see docs/operations.md. Probes (/healthz, /readyz) answer before the redirect.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Prometheus scrapes from inside the network, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Joining browsers' preload list is a decision per domain, hard to undo: off unless asked for.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# ---------------------------------------------------------------- API
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["whatsapp_saas.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "whatsapp_saas.api.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_THROTTLE_CLASSES": ["tenants.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="600/min")},
    "EXCEPTION_HANDLER": "whatsapp_saas.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp Numbers API",
    "DESCRIPTION": "Manage WhatsApp numbers, send messages and follow their status.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: the docs work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "NumberStatusEnum": "instances.models.STATUS_CHOICES",
        "MessageStatusEnum": "messaging.models.Message.Status",
        "MessageTypeEnum": "messaging.models.Message.Type",
        "SendTypeEnum": "messaging.api.serializers.SEND_TYPES",
    },
}

# ---------------------------------------------------------------- Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=90)
CELERY_TIMEZONE = "UTC"
# Task modules outside <app>/tasks.py, which autodiscovery does not find.
CELERY_IMPORTS = ["messaging.campaign_tasks", "messaging.media_tasks"]

# One queue per kind of work, each served by its own workers (DESIGN.md section 4 "Work"), so a
# backlog of one never delays another. First match wins; exact names before patterns.
CELERY_TASK_QUEUES = [Queue(name) for name in ("send", "events", "notify", "maintenance")]
CELERY_TASK_ROUTES = {
    "messaging.tasks.sweep_outbox": "maintenance",
    "messaging.tasks.*": "send",
    "messaging.campaign_tasks.*": "maintenance",
    # Fetching inbound media is part of processing inbound events; its sweeps are chores.
    "messaging.media_tasks.fetch_media": "events",
    "messaging.media_tasks.*": "maintenance",
    "webhooks.tasks.process_*": "events",
    "webhooks.tasks.*": "maintenance",
    "notifications.tasks.sweep_deliveries": "maintenance",
    "notifications.tasks.purge_deliveries": "maintenance",
    "notifications.tasks.*": "notify",
    "instances.tasks.*": "maintenance",
}
# A task nobody routed still runs (on the chores' workers); test_queues.py fails until it is.
CELERY_TASK_DEFAULT_QUEUE = "maintenance"

# Surviving Redis restarts (docs/operations.md "When Redis or PostgreSQL restarts"): retry the
# broker forever, at start-up too, with bounded socket waits so a dead server is noticed.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 5
# A task running when the broker goes finishes: its outcome is in the database, fenced on its
# lease, so cancelling it (and guessing whether a provider call happened) would only add risk.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A reserved message comes back to the queue after this long; it must exceed the longest
    # countdown we schedule (webhook deliveries back off up to 1 h + 20 %), or every wait would be
    # redelivered each period. Work of a dead worker does not wait for it: the sweeps re-drive
    # the rows within a minute.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 3600),
    "socket_connect_timeout": 5,
    "socket_timeout": 30,
    "socket_keepalive": True,
    "health_check_interval": 25,
}

# ---------------------------------------------------------------- providers
EVOLUTION_API_URL = env.str("EVOLUTION_API_URL", default="http://127.0.0.1:8081").rstrip("/")
EVOLUTION_API_KEY = env.str("EVOLUTION_API_KEY", default="")
GREENAPI_API_URL = env.str("GREENAPI_API_URL", default="https://api.green-api.com").rstrip("/")
# Optional: GreenAPI's Partner API token, needed only to list instances for the daily sync.
GREENAPI_PARTNER_TOKEN = env.str("GREENAPI_PARTNER_TOKEN", default="")
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=30.0)
PROVIDER_BREAKER_FAIL_MAX = env.int("PROVIDER_BREAKER_FAIL_MAX", default=5)
PROVIDER_BREAKER_RESET_SECONDS = env.int("PROVIDER_BREAKER_RESET_SECONDS", default=60)

# ---------------------------------------------------------------- provider webhooks (inbound)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Accepted clock difference for signed deliveries (X-Webhook-Signature t=…); replays older fail.
WEBHOOK_SIGNATURE_WINDOW_SECONDS = env.int("WEBHOOK_SIGNATURE_WINDOW_SECONDS", default=300)
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
# Seconds a web process keeps a webhook token's number (ids and secret hashes) in memory; 0 = off.
WEBHOOK_ROUTE_CACHE_SECONDS = env.float("WEBHOOK_ROUTE_CACHE_SECONDS", default=10.0)
# CA bundle that tenants' HTTPS endpoints are verified against ("" = certifi's public roots).
OUTBOUND_WEBHOOKS_CA_BUNDLE = env.str("OUTBOUND_WEBHOOKS_CA_BUNDLE", default="")
# Internal hosts that outbound media URLs and webhook endpoints may name on purpose
# ("host" or "host:port"; whatsapp_saas/netguard.py). The local run lists the sandbox; production
# leaves it empty.
ALLOWED_INTERNAL_HOSTS = env.list("ALLOWED_INTERNAL_HOSTS", default=[])

# ------------------------------------------------------------ inbound media (messaging/media.py)
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=64 * 1024 * 1024)
# MIME types stored (a type or a `family/*`); anything else fails as `failed` with its reason.
MEDIA_ALLOWED_TYPES = env.list(
    "MEDIA_ALLOWED_TYPES",
    default=["image/*", "video/*", "audio/*", "application/*", "text/plain", "text/csv"],
)
MEDIA_MAX_ATTEMPTS = env.int("MEDIA_MAX_ATTEMPTS", default=6)
MEDIA_RETRY_BASE_SECONDS = env.float("MEDIA_RETRY_BASE_SECONDS", default=10.0)
# Stored files older than this are deleted (the message stays, its media shows `expired`).
MEDIA_RETENTION_DAYS = env.int("MEDIA_RETENTION_DAYS", default=90)

# ---------------------------------------------------------------- sending (messaging/sending.py)
# A message not handed to the provider within this many hours fails with `expired`.
MESSAGE_EXPIRY_HOURS = env.int("MESSAGE_EXPIRY_HOURS", default=24)
# Tries per message before a transient error (5xx, timeout) fails it; 429 waits do not count.
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=6)
# Exponential backoff between transient retries: base seconds, doubled per try, capped, jittered.
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=5.0)
SEND_RETRY_MAX_SECONDS = env.float("SEND_RETRY_MAX_SECONDS", default=300.0)
# A number's lane (messaging/lanes.py): the lease its worker renews while it sends (a lane whose
# worker died is taken over once it runs out), and how long one worker may keep a busy lane.
SEND_LANE_LEASE_SECONDS = env.float("SEND_LANE_LEASE_SECONDS", default=4.0)
SEND_LANE_BUDGET_SECONDS = env.float("SEND_LANE_BUDGET_SECONDS", default=10.0)
# A message whose send may have reached the provider (worker died mid-call, timeout) is sent
# again only if neither the send echo nor the provider's history shows it after this long.
SEND_IN_FLIGHT_GRACE_SECONDS = env.float("SEND_IN_FLIGHT_GRACE_SECONDS", default=30.0)
# Consecutive failed sends that pause a number (status paused, reason send_failures).
PAUSE_AFTER_FAILURES = env.int("PAUSE_AFTER_FAILURES", default=10)

# ---------------------------------------------------------------- metrics
# GET /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself) is the folder every process of one
# host writes its counters to; see docs/operations.md.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# ---------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "whatsapp_saas.logging.RequestIdFilter"},
        "mask_secrets": {"()": "whatsapp_saas.logging.MaskSecretsFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "null": {"class": "logging.NullHandler"},
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "mask_secrets"],
            "formatter": LOG_FORMAT if LOG_FORMAT in ("json", "text") else "json",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (console in DEBUG, runserver's request lines, mail to ADMINS)
        # would print paths and tracebacks unmasked: everything goes through the root handler.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "security": {"level": "INFO"},
        # whatsapp_saas.access writes the one line per request; these would repeat it.
        "django.server": {"handlers": ["null"], "propagate": False},
        "django.request": {"level": "ERROR"},
        # Celery's per-task lines ("received", "succeeded") for ticks every few seconds are noise;
        # failures stay (ERROR), and tasks log what they actually did.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
