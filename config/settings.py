"""Quorum's one settings module, read from the environment.

With nothing set, Quorum runs embedded: a SQLite file (WAL mode, busy timeout) and files under
``QUORUM_DATA_DIR`` (default ``./var``), and a Celery broker that is a folder on the same disk, so
``make run`` needs no server. URLs in the environment switch to PostgreSQL (``DATABASE_URL``), a
broker server (``CELERY_BROKER_URL``, redis:// or amqp://) and S3. A URL that is set but
unreachable stops the process at start (see ``config/checks.py``); nothing falls back silently.

Every variable is listed in the README, section "Configuration".
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


DATA_DIR = Path(env_str("QUORUM_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
_secret = env_str("DJANGO_SECRET_KEY")
if not _secret:
    if not DEBUG and env_bool("QUORUM_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
    # Embedded default: a key generated once per data directory and kept there, so sessions
    # survive restarts without a secret ever being committed.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    _secret = key_file.read_text().strip()
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotators",
    "labeling",
    "frontend",
]

MIDDLEWARE = [
    # The two annotation endpoints' plain case, before the rest (labeling/api/lean.py).
    "labeling.api.lean.LeanMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
SQLITE_PATH = DATA_DIR / "quorum.sqlite3"
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    _db.setdefault("OPTIONS", {})
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["OPTIONS"].setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
        _db["CONN_HEALTH_CHECKS"] = True
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(SQLITE_PATH), "OPTIONS": {}}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the busy timeout makes a writer wait
    # for the other instead of failing with "database is locked". IMMEDIATE transactions take the
    # write lock at BEGIN, so two writers queue instead of deadlocking on lock upgrade.
    _db["OPTIONS"].update(
        {
            "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 30),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    _db.setdefault("TEST", {})
    # A file, not :memory:, so that a real worker process started by the integration tests sees
    # the rows the tests commit.
    _db["TEST"].setdefault("NAME", str(DATA_DIR / "test-quorum.sqlite3"))
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env_str("QUORUM_MEDIA_ROOT", str(DATA_DIR / "media"))).resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Uploads: files above this stay on disk while they are parsed (streamed, never read whole).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# A JSON body of 100,000 items fits; bigger imports go as a file upload.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("QUORUM_MAX_JSON_BODY_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Quorum ---------------------------------------------------------------------------------
QUORUM = {
    # Items one request may import synchronously; a larger file becomes an import job.
    "SYNC_IMPORT_MAX_ITEMS": env_int("QUORUM_SYNC_IMPORT_MAX_ITEMS", 100_000),
    # One item (a line, a CSV row, an array element) may not be larger than this.
    "MAX_ITEM_BYTES": env_int("QUORUM_MAX_ITEM_BYTES", 1024 * 1024),
    "IMPORT_BATCH_SIZE": env_int("QUORUM_IMPORT_BATCH_SIZE", 2000),
    "DEFAULT_LEASE_SECONDS": env_int("QUORUM_DEFAULT_LEASE_SECONDS", 600),
    # PostgreSQL: prepare the annotation endpoints' statements once per connection (labeling/
    # rawsql.py). Turn off behind a connection pooler in transaction mode that cannot keep them.
    "PREPARED_STATEMENTS": env_int("QUORUM_PREPARED_STATEMENTS", 1) == 1,
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotators.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "labeling.api.permissions.PipelineTokensReadOnly",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "labeling.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "labeling.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labeling.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": (
        "Quorum: quorum annotation, consensus and versioned dataset exports. "
        "Authenticate with `Authorization: Token <key>` (see `manage.py createtoken`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and Swagger UI describe the API; they hold no data, so they need no login.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI served from our own static files: no CDN needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "labeling.models.JobKind",
        "TokenKindEnum": "annotators.models.TokenKind",
        "ItemStatusEnum": "labeling.models.ItemStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
BROKER_DIR = DATA_DIR / "broker"
if not CELERY_BROKER_URL:
    # Embedded: kombu's filesystem transport, a folder that the web process writes and the
    # worker started by `make run` reads. Fine for one machine; use Redis or RabbitMQ beyond.
    CELERY_BROKER_URL = "filesystem://localhost//"
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # exchange tables (broadcast/pidbox); kombu's default is ./control in the working directory
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 5)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "quorum")
# Job state lives in the Job table, not in a Celery result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "reaggregate-due": {
        "task": "labeling.tasks.reaggregate_due",
        "schedule": float(env_int("QUORUM_REAGGREGATE_SECONDS", 600)),
    },
    "expire-leases": {
        "task": "labeling.tasks.expire_leases",
        "schedule": float(env_int("QUORUM_EXPIRE_LEASES_SECONDS", 60)),
    },
}
# Never run tasks inside the web request: eager mode is switched on by the unit tests only.
CELERY_TASK_ALWAYS_EAGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("QUORUM_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Dataset exports (labeling/exports; docs/exports.md) ------------------------------------------
# Storage is local disk (QUORUM_EXPORTS_DIR, default <media>/datasets) unless an S3 bucket is set;
# AWS keys come from boto3's usual sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles).
QUORUM_EXPORTS = {
    "DIR": env_str("QUORUM_EXPORTS_DIR"),
    "STORAGE": "s3" if env_str("QUORUM_S3_BUCKET") else "disk",
    "S3_BUCKET": env_str("QUORUM_S3_BUCKET"),
    "S3_PREFIX": env_str("QUORUM_S3_PREFIX", "quorum"),
    "S3_REGION": env_str("QUORUM_S3_REGION"),
    "S3_ENDPOINT_URL": env_str("QUORUM_S3_ENDPOINT_URL"),
    "S3_ADDRESSING_STYLE": env_str("QUORUM_S3_ADDRESSING_STYLE"),
    "S3_MULTIPART_THRESHOLD": env_int("QUORUM_S3_MULTIPART_THRESHOLD", 8 * 1024 * 1024),
    "S3_MULTIPART_CHUNKSIZE": env_int("QUORUM_S3_MULTIPART_CHUNKSIZE", 8 * 1024 * 1024),
    "PRESIGN_SECONDS": env_int("QUORUM_S3_PRESIGN_SECONDS", 3600),
    # Rows read from the database per query, and Parquet rows per row group.
    "CHUNK_SIZE": env_int("QUORUM_EXPORT_CHUNK_SIZE", 5000),
    "PARQUET_ROW_GROUP": env_int("QUORUM_EXPORT_PARQUET_ROW_GROUP", 50_000),
    # A running export reports every HEARTBEAT_SECONDS; the sweep fails one silent for STALE_AFTER_SECONDS.
    "HEARTBEAT_SECONDS": env_int("QUORUM_EXPORT_HEARTBEAT_SECONDS", 5),
    "STALE_AFTER_SECONDS": env_int("QUORUM_EXPORT_STALE_AFTER_SECONDS", 120),
    "WEBHOOK_MAX_ATTEMPTS": env_int("QUORUM_WEBHOOK_MAX_ATTEMPTS", 6),
    "WEBHOOK_TIMEOUT_SECONDS": env_int("QUORUM_WEBHOOK_TIMEOUT_SECONDS", 10),
    "WEBHOOK_BACKOFF_SECONDS": env_int("QUORUM_WEBHOOK_BACKOFF_SECONDS", 10),
    # Absolute base URL put in webhook bodies (e.g. https://quorum.example.org); paths only when empty.
    "PUBLIC_URL": env_str("QUORUM_PUBLIC_URL"),
}
CELERY_BEAT_SCHEDULE["quorum-exports-sweep"] = {"task": "labeling.exports.tasks.sweep_exports", "schedule": 300.0}
TEMPLATES[0]["DIRS"].append(BASE_DIR / "labeling" / "exports" / "templates")
