"""Regal's settings, read from the environment.

With nothing set, Regal runs on SQLite, the django-q2 ORM broker and a channel
layer kept in a second SQLite file, so no server needs to run. DATABASE_URL
switches the database to PostgreSQL; REDIS_URL switches the channel layer and
the task broker to Redis. The README lists every variable.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REGAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item]


def load_secret_key() -> str:
    """Use SECRET_KEY, else a random key kept in var/ so sessions survive restarts."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = load_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "regal",
    "contacts",
    "events",
    "agents",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "regal.urls"
ASGI_APPLICATION = "regal.asgi.application"

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
            ],
        },
    },
]

# Database ------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
# Keeps the keys of two Regal installs (or two test runs) on one Redis, and
# their SQLite test databases, apart.
REGAL_INSTANCE = os.environ.get("REGAL_INSTANCE", "regal")

SQLITE_OPTIONS = {
    # WAL lets the web process read while the q cluster writes; IMMEDIATE
    # takes the write lock at BEGIN so two writers queue instead of failing
    # with "database is locked" half-way through a transaction.
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
    ),
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # One test database per instance, so two test runs on one server do not
    # drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{REGAL_INSTANCE}".replace("-", "_")}
    # Under ASGI each request runs in a thread of its own, so a persistent
    # connection is never used twice and stays open until garbage collection:
    # under load the web processes exhausted PostgreSQL's max_connections. A
    # web process (regal/asgi.py sets REGAL_DB_POOL) takes its connections
    # from a pool instead. Other processes keep persistent connections: the
    # q cluster forks its workers, which must not inherit a pool's sockets.
    if env_bool("REGAL_DB_POOL", False) and DATABASES["default"]["ENGINE"] == (
        "django.db.backends.postgresql"
    ):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ.get("REGAL_DB_POOL_SIZE", "4")),
            "timeout": 30,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "regal.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
            # A file, not memory, so that the processes the end-to-end tests
            # start can open the same test database.
            "TEST": {"NAME": VAR_DIR / f"test-{REGAL_INSTANCE}.sqlite3"},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels and the task queue ---------------------------------------------------


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REGAL_INSTANCE}:asgi"},
        }
    }
else:
    INSTALLED_APPS.append("channels_lite")
    DATABASES["channels"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "channels.sqlite3",
        "OPTIONS": SQLITE_OPTIONS,
        "TEST": {"NAME": VAR_DIR / f"test-{REGAL_INSTANCE}-channels.sqlite3"},
    }
    DATABASE_ROUTERS = ["channels_lite.router.ChannelsRouter"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels"},
        }
    }

# The cache holds the ingestion API's per-source rate counts: shared by every
# web process through Redis, per process without it.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REGAL_INSTANCE,
        }
    }

Q_CLUSTER = {
    "name": REGAL_INSTANCE,
    # One worker is nearly always running the due-step ticker.
    "workers": int(os.environ.get("Q_WORKERS", "3")),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 3,
    "catch_up": False,
    # Keep failed tasks only. With a positive limit, django-q2's monitor saves
    # every successful task and, to prune, loads all the kept rows FOR UPDATE
    # each time: at 1,000 kept, about 30 ms of CPU per task, three tasks per
    # campaign SMS (evaluate, send, evaluate sms.sent), on the cores the
    # workers need (docs/benchmarks.md, "Campaigns: event to SMS").
    "save_limit": -1,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "regal.brokers.SharedClientRedis"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.2

# Auth, i18n, static ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:conversation-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# REST framework ----------------------------------------------------------------

# Closed by default: a view answers only an API token (made in the admin or with
# `manage.py drf_create_token`) or a signed-in staff member. The ingestion views
# set their own classes, so a write key opens /v1/ and nothing else.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["regal.permissions.IsTokenHolderOrStaff"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "regal.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Regal API",
    "DESCRIPTION": (
        "Send events in through the Segment-shaped ingestion API (/v1/, "
        "authenticated by a source's write key) and read contacts and events "
        "back (/api/v1/, authenticated by an API token: `Authorization: Token …`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's scripts come from the installed sidecar package, so it
    # works on a machine with no internet and sends readers to no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Regal -------------------------------------------------------------------------

DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "US").upper()

TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
# Where the twilio client sends its requests. Empty means Twilio itself; tests
# point it at a local stand-in.
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "").rstrip("/")
TWILIO_TIMEOUT_SECONDS = 10

# Called with the ids of newly stored events once their batch has committed.
# This is the one place where ingestion hands off to the rest of Regal.
REGAL_EVENT_CONSUMERS = ["campaigns.services.schedule_event_evaluation"]

# Compliance defaults; a campaign may set its own. Quiet hours are local to
# each contact (time zone from its timezone trait, else address, else phone,
# else REGAL_DEFAULT_TIME_ZONE).
REGAL_QUIET_HOURS = (
    os.environ.get("REGAL_QUIET_HOURS_START", "09:00"),
    os.environ.get("REGAL_QUIET_HOURS_END", "20:00"),
)
REGAL_DEFAULT_TIME_ZONE = os.environ.get("REGAL_DEFAULT_TIME_ZONE", "America/New_York")
# At most this many SMS per contact in this many hours, from all campaigns.
REGAL_SMS_CAP = (
    int(os.environ.get("REGAL_SMS_CAP_COUNT", "3")),
    int(os.environ.get("REGAL_SMS_CAP_HOURS", "24")),
)

# Events a person sent before their phone was known, adopted by the contact
# when it arrives, are evaluated by campaigns if they are at most this old.
REGAL_ADOPTED_EVENT_MAX_AGE = timedelta(
    minutes=int(os.environ.get("REGAL_ADOPTED_EVENT_MAX_AGE_MINUTES", "60"))
)

# How often the q cluster's ticker looks for due campaign steps.
REGAL_TICK_SECONDS = float(os.environ.get("REGAL_TICK_SECONDS", "1"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": os.environ.get("LOG_LEVEL", "INFO").upper()}
        for name in ("regal", "contacts", "events", "campaigns", "agents")
    },
}
