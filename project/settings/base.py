"""Settings shared by every environment; all values come from the environment (django-environ).

With no environment set, Reformflow runs embedded: SQLite, Celery on kombu's filesystem
transport (no broker server), and mail written to a local outbox folder.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's .env is read when present; real environments set variables directly.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # django.contrib.staticfiles, with what collectstatic leaves out (project/apps.py).
    "project.apps.StaticFilesConfig",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "viewflow",
    "viewflow.workflow",
    "workflows",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After a login, the language on the person's profile (workflows/organisations/languages.py).
    "workflows.organisations.languages.ProfileLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: read-your-writes needs the user (workflows/common/db_router.py).
    "workflows.common.db_router.ReadYourWritesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "workflows.web.middleware.AuditorsReadOnlyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    "project.middleware.OutOfRangeIdMiddleware",
    "project.middleware.NulInQueryMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Reconnect transparently after a PostgreSQL restart instead of failing on a dead socket.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Behind PgBouncer in transaction mode (DATABASE_POOLING=transaction) a server connection is
# lent for one transaction at a time, so nothing may outlive a transaction on it: no
# server-side cursors (iterator() keeps one open between fetches). Django's default
# client-side parameter binding prepares nothing on the server, so it needs no change.
DATABASE_POOLING = env.str("DATABASE_POOLING", default="")


def pooled(config: dict) -> dict:
    """A database's settings adjusted for the connection pooler in front of it, if any."""
    if DATABASE_POOLING == "transaction" and config["ENGINE"] == "django.db.backends.postgresql":
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


pooled(DATABASES["default"])


def replica_database(url: str, *, conn_max_age: int) -> dict:
    """The `replica` alias for a streaming replica: fails fast (a cut host costs a request at
    most a few seconds, then the router stops using it), and mirrors `default` in tests."""
    config = env.db_url_config(url)
    config.update(ATOMIC_REQUESTS=False, CONN_MAX_AGE=conn_max_age, CONN_HEALTH_CHECKS=True)
    config["TEST"] = {"MIRROR": "default"}
    if config["ENGINE"] == "django.db.backends.postgresql":
        seconds = env.int("REPLICA_CONNECT_TIMEOUT", default=2)
        config.setdefault("OPTIONS", {}).update(
            connect_timeout=seconds,
            # A dead link fails an open connection's next query within a second, and an idle
            # one within ten (then the router stops using the replica for a while).
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            tcp_user_timeout=1000,
        )
    return pooled(config)


# --- A streaming replica for the heavy reads (dashboards, exports, report data, appraisal,
# audit search), only where the code asks for it: workflows/common/db_router.py.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(
        DATABASE_REPLICA_URL, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"]
    )
DATABASE_ROUTERS = ["workflows.common.db_router.ReplicaRouter"]
# Off switch without removing the URL (e.g. while the replica is rebuilt).
REPLICA_READS = env.bool("REPLICA_READS", default=True)
# Past this replay lag the heavy reads go to the primary; the lag is checked at most this
# often per process; a user's reads stay on the primary this long after their own write.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=10.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5.0)
# A replica that did not answer is not tried again for this long (each try costs a request
# up to REPLICA_CONNECT_TIMEOUT).
REPLICA_DOWN_SECONDS = env.float("REPLICA_DOWN_SECONDS", default=30.0)
READ_YOUR_WRITES_SECONDS = env.int("READ_YOUR_WRITES_SECONDS", default=15)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username+IP before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: 5 failures for one username from one IP lock that pair out for 15 minutes
# (a 429 page); a success resets the count. The pair, not the IP alone, so one office behind
# a NAT cannot lock everyone out, and not the username alone, so an attacker cannot lock out a
# known user from everywhere. The IP is REMOTE_ADDR: behind a proxy, set the proxy up to pass
# the client address (gunicorn --forwarded-allow-ips) before trusting it.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_VERBOSE = False
# Keep a row per failed login (the admin lists them) besides the counters that expire.
AXES_ENABLE_ACCESS_FAILURE_LOG = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# One date style per language ("4 Dec 2026", "2026年12月4日"): project/formats/<lang>/formats.py.
FORMAT_MODULE_PATH = ["project.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed names (cached for a year by browsers) and gzip/brotli copies, served by whitenoise
# wherever static files are served: production and the demo (`make collectstatic` first).
# With DEBUG on, {% static %} gives plain names and runserver serves the source files.
# HASHED_STATIC_FILES=false: plain names, nothing to collect first (a test's own server).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("HASHED_STATIC_FILES", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Evidence is never served from MEDIA_URL: downloads go through an access-checked view.
MEDIA_URL = "/media-not-served/"

# Evidence uploads: policy lives here so operators can change it without code.
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
EVIDENCE_ALLOWED_TYPES = env.list(
    "EVIDENCE_ALLOWED_TYPES",
    default=[".pdf", ".docx", ".xlsx", ".pptx", ".png", ".jpg", ".jpeg", ".txt", ".csv", ".zip"],
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Content Security Policy (django-csp 4): scripts only from our origin or carrying the
# request's nonce; no inline event handlers, no eval. style-src keeps 'unsafe-inline' because
# viewflow's Material templates use style="" attributes and its web components add <style>
# elements; CSS cannot run script, and a nonce here would make browsers ignore 'unsafe-inline'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Cache: shared by web and worker processes (health heartbeats, throttles). Redis when
# REDIS_URL is set, else a database table, which a migration creates (plain `migrate`).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    # Sessions read from Redis, written through to the database: one query less per page.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "reformflow_cache",
        }
    }

# --- Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport.
# The filesystem broker's folders (one machine only); tests point it at a folder of their own.
CELERY_QUEUE_DIR = Path(env.str("CELERY_QUEUE_DIR", default=str(VAR_DIR / "celery")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message whose worker died unacknowledged is redelivered after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# A report still "rendering" after this long belongs to a dead worker (the task's hard time
# limit is 360 s): the sweep queues it again.
REPORT_RENDER_STALE_SECONDS = env.int("REPORT_RENDER_STALE_SECONDS", default=400)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Exactly one beat sends: each beat process asks for a lease in the database (every mode has
# one) and only its holder sends; a second beat stands by and takes over within this many
# seconds of the holder going quiet (workflows/common/beat_lock.py).
CELERY_BEAT_SCHEDULER = "workflows.common.beat_lock:SingleBeatScheduler"
BEAT_LEASE_SECONDS = env.float("BEAT_LEASE_SECONDS", default=30.0)
# Seconds of reminder and escalation work one sweep takes on before it leaves the rest to the
# next one (a minute later). Normal minutes need a fraction of this; a catch-up after
# downtime or an import (tens of thousands of rungs) drains oldest first over several sweeps
# instead of one sweep holding its locks for a minute or more. None: no limit.
SWEEP_ALERT_BUDGET_SECONDS = env.float("SWEEP_ALERT_BUDGET_SECONDS", default=5.0) or None
# /healthz answers 503 (not just "degraded") while the last sweep is older than this, or
# while mail delivery itself failed in it: mail stops going out then, which matters.
SWEEP_STALE_SECONDS = env.int("SWEEP_STALE_SECONDS", default=900)

# Bounded input: every date a person gives (deadlines, reply dates, filters, periods) lies
# between this many years before today and this many after (workflows/common/bounds.py).
DATE_HORIZON_YEARS_BACK = env.int("DATE_HORIZON_YEARS_BACK", default=10)
DATE_HORIZON_YEARS_AHEAD = env.int("DATE_HORIZON_YEARS_AHEAD", default=5)

# --- Email: EMAIL_URL (smtp://user:pass@host:port) or, embedded, a local outbox folder.
# Notification manners: no mail in quiet hours (Asia/Shanghai, "HH:MM-HH:MM", empty: none),
# and at most this many reminders per person per day before the rest fold into the digest.
NOTIFICATION_QUIET_HOURS = env.str("NOTIFICATION_QUIET_HOURS", default="22:00-07:00")
NOTIFICATION_DAILY_CAP = env.int("NOTIFICATION_DAILY_CAP", default=10)
# A notice at every hand-off (workflows/notifications/handoffs.py); off only in tests that count
# one other kind of mail exactly (marked `without_handoffs`).
NOTIFICATION_HANDOFFS = env.bool("NOTIFICATION_HANDOFFS", default=True)
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "outbox")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Reformflow <reformflow@localhost>")

# --- Notification channels (README, "Channels"): where notices go unless a person's or a
# department's choice (admin: Notification channels) says otherwise, and how to reach WeCom and
# DingTalk. The API bases are settings so tests point them at a receiver on loopback.
NOTIFICATION_CHANNELS = env.list("NOTIFICATION_CHANNELS", default=["email"])
WECOM_API_BASE = env.str("WECOM_API_BASE", default="https://qyapi.weixin.qq.com")
# The WeCom app that sends messages to a person's WeCom user ID (all three, or none).
WECOM_CORP_ID = env.str("WECOM_CORP_ID", default="")
WECOM_CORP_SECRET = env.str("WECOM_CORP_SECRET", default="")
WECOM_AGENT_ID = env.str("WECOM_AGENT_ID", default="")
DINGTALK_API_BASE = env.str("DINGTALK_API_BASE", default="https://oapi.dingtalk.com")
# Seconds per HTTP request to a platform; an explicit proxy (the environment's is not used).
CHANNEL_HTTP_TIMEOUT = env.float("CHANNEL_HTTP_TIMEOUT", default=5.0)
CHANNEL_HTTP_PROXY = env.str("CHANNEL_HTTP_PROXY", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # Every write endpoint, including ones added later, refuses auditors.
        "workflows.api.permissions.AuditorsReadOnly",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "workflows.api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "workflows.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Reformflow API",
    "DESCRIPTION": "Reform-plan measures, cases and tasks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "status" field; each choice set gets its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "WorkItemStatusEnum": "workflows.models.cases.WorkItemStatus",
        "NotificationStatusEnum": "workflows.models.notifications.NotificationStatus",
        "NotificationKindEnum": "workflows.models.notifications.NotificationKind",
        "ReportKindEnum": "workflows.models.reports.ReportKind",
        "StepKindEnum": "workflows.models.catalogue.StepKind",
        "CycleStatusEnum": "workflows.models.supervision.CycleStatus",
        "ExtensionStatusEnum": "workflows.models.supervision.ExtensionStatus",
        "OrderStatusEnum": "workflows.models.supervision.OrderStatus",
        "LightEnum": "workflows.models.supervision.Light",
        "ScoreKindEnum": "workflows.models.supervision.ScoreKind",
    },
}

# The catalogue shipped with the product and loaded when no file is named.
DEFAULT_PLAN_FILE = BASE_DIR / "workflows" / "catalogue" / "data" / "reform-plan-2018.yaml"
DEFAULT_ORGANISATION_FILE = BASE_DIR / "workflows" / "catalogue" / "data" / "organisation.yaml"

# Seeding demo accounts is a development convenience; production settings turn it off.
ALLOW_DEMO_SEED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every login at INFO; failures and lockouts are WARNING and still show.
    # httpx logs each request's URL at INFO, and robot URLs carry their keys: never log them.
    "loggers": {
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# The embedded default keeps its state under var/; create it so a fresh clone just runs.
VAR_DIR.mkdir(exist_ok=True)
