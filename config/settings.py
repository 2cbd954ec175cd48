"""One settings module; the environment picks the profile.

Nothing set: the embedded profile (SQLite under var/, an in-process Celery worker on an in-memory
broker, the in-memory channel layer, email to files). DATABASE_URL / REDIS_URL /
CELERY_BROKER_URL / EMAIL_URL switch each part to a real service. DJANGO_ENV=production
refuses to start without SECRET_KEY and ALLOWED_HOSTS.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from .api_schema import SPECTACULAR_SETTINGS as SPECTACULAR_SETTINGS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# pages (issue 23): bin/demo sets it, so a visitor of the demo never sees DEBUG's 404 page.
FRIENDLY_ERRORS = env.bool("FRIENDLY_ERRORS", default=False)

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)
# Files a training run started from a page or the API may read (`data`, `corpus`, `unlabelled`
# parameters): only those in this folder. The command line may name any file.
ML_TRAINING_FILES_DIR = Path(
    env.str("ML_TRAINING_FILES_DIR", default=str(DATA_DIR / "training-files"))
)
# A recommended item shown this many times to a shopper without a click (or a view, a cart add,
# a purchase) is left out of their lists; any engagement with it starts the count again. 0 = off.
RECOMMENDER_SUPPRESS_AFTER = env.int("RECOMMENDER_SUPPRESS_AFTER", default=3)

if PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS") if not env.str(name, default="")]
    if missing:
        raise ImproperlyConfigured(
            f"DJANGO_ENV=production needs {', '.join(missing)} in the environment."
        )
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789abcdef")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "django_celery_beat",
    "django_prometheus",
    "apps.accounts",
    "apps.mlops",
    "apps.support",
    "apps.sentiment",
    "apps.recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.nul_characters_refuse",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Languages (issue 21): the visitor's language (Accept-Language) for translated texts.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.ModelsBusyAnswer",  # overload: a 503 with Retry-After, not a 500
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # pages (issue 23): the suite's 404 page instead of DEBUG's URL list, in the demo profile
    "config.middleware.friendly_not_found",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.accounts.context_processors.roles",
                "apps.mlops.context_processors.training_notices",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the in-process worker write while pages read. IMMEDIATE
    # transactions take the write lock when they begin: a deferred one that read first and then
    # tried to write after another thread committed failed at once with "database is locked",
    # whatever the timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests on SQLite use a WAL file too: Django's default in-memory test database shares one
    # cache that locks whole tables across threads, which production's file never does.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
elif DATABASE_POOL_MAX := env.int("DATABASE_POOL_MAX", default=0):
    # Under ASGI each request runs on a thread of its own, so persistent per-thread connections
    # grow with concurrent requests until PostgreSQL refuses clients; a psycopg pool of at most
    # DATABASE_POOL_MAX connections per process bounds them (a request waits for a free one).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX,
        "timeout": env.float("DATABASE_POOL_TIMEOUT_S", default=30.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Languages (issue 21): the chat widget's fixed texts exist in English and Simplified Chinese
# (apps/support/locale); a visitor whose browser prefers Chinese gets them in Chinese.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Development serves static files straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=20 * 1024 * 1024)
# An uploaded file larger than this is spooled to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# User data files (sentiment documents and training sets, catalog imports): a larger file or one
# with more data rows is refused with nothing stored; a file over UPLOAD_INLINE_MAX_BYTES is
# stored under DATA_DIR/uploads and ingested by a background job the page and API follow.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
UPLOAD_MAX_ROWS = env.int("UPLOAD_MAX_ROWS", default=200_000)
UPLOAD_INLINE_MAX_BYTES = env.int("UPLOAD_INLINE_MAX_BYTES", default=1024 * 1024)

# --- Cache: Redis when configured, else per-process memory -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One pool per process, not one per request context (config/redis_pool.py).
            "OPTIONS": {"pool_class": "config.redis_pool.SharedConnectionPool"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sign-in failure counters (apps.accounts.login_throttle) in a cache of their own, so tests and
# operators can clear them without dropping anything else.
CACHES["throttle"] = {
    **CACHES["default"],
    "KEY_PREFIX": "throttle",
    **({} if REDIS_URL else {"LOCATION": "throttle"}),
}

# --- Channels -----------------------------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis waits for messages with BZPOPMIN for 5 s; redis-py 8 reads with
            # a 5 s timeout by default, which ended every quiet wait in TimeoutError and
            # dropped every websocket every few seconds. Read for longer than the wait.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
# No broker configured: a worker thread inside the web process consumes the in-memory broker.
CELERY_EMBEDDED_WORKER = env.bool(
    "CELERY_EMBEDDED_WORKER", default=CELERY_BROKER_URL.startswith("memory://")
)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# With the in-memory broker, a process that runs no embedded worker (a management command, a
# shell) must run its tasks inline, or they would vanish with the process. The web process turns
# this off when it starts its worker (config.celery.embedded_worker_start).
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://")
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TASK_DEFAULT_QUEUE = "inference"
CELERY_TASK_ROUTES = {
    "*.train*": {"queue": "training"},
    "*_train_task": {"queue": "training"},
    "*.retrain*": {"queue": "training"},
}
# Alert evaluation and email tasks share `inference` with scoring unless given a queue of their
# own (then run a worker with `-Q <that queue>` too), so a scoring backlog cannot delay alerts.
CELERY_ALERT_QUEUE = env.str("CELERY_ALERT_QUEUE", default="")

# Financial sentiment: long texts, trend charts, topic tagging (config/sentiment_settings.py).
from .sentiment_settings import (  # noqa: E402, F401 (after .env is read)
    SENTIMENT_CHART_MIN_COUNT,
    SENTIMENT_DISTIL_MIN_TEXTS,
    SENTIMENT_MAX_SENTENCES,
    SENTIMENT_POLL_DUE_S,
    SENTIMENT_TOPIC_MIN_EXAMPLES,
    SENTIMENT_TOPIC_TAGGER,
    SENTIMENT_TOPIC_THRESHOLD,
    SENTIMENT_TOPIC_THRESHOLD_MULTILINGUAL,
)

if CELERY_ALERT_QUEUE:
    CELERY_TASK_ROUTES["apps.sentiment.tasks.alert*"] = {"queue": CELERY_ALERT_QUEUE}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Long training runs: Redis must not redeliver an unacked task while it still runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}

# Worker recovery: sweepers on the beat give back what a dead worker process left behind.
# A scoring claim older than SENTIMENT_SCORE_STALE_AFTER_S goes back to pending (keep it past the
# scoring task's 360 s time limit: a live batch taken over is scored once, but its work is lost);
# a training run silent for ML_RUN_STALE_AFTER_S is marked failed (it heartbeats 4 times a span).
SENTIMENT_SCORE_SWEEP_S = env.int("SENTIMENT_SCORE_SWEEP_S", default=60)
SENTIMENT_SCORE_STALE_AFTER_S = env.int("SENTIMENT_SCORE_STALE_AFTER_S", default=900)
ML_RUN_SWEEP_S = env.int("ML_RUN_SWEEP_S", default=60)
ML_RUN_STALE_AFTER_S = env.int("ML_RUN_STALE_AFTER_S", default=300)
for _name in (
    "SENTIMENT_SCORE_SWEEP_S",
    "SENTIMENT_SCORE_STALE_AFTER_S",
    "ML_RUN_SWEEP_S",
    "ML_RUN_STALE_AFTER_S",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1 second, got {globals()[_name]}")

# --- Email --------------------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend"
    )
    EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Textsuite <alerts@localhost>")

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.ErrorDocumentingAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"anon": "120/min", "user": "6000/min"},
}

# --- Client addresses, sign-in throttling, operations endpoints ---------------------------------
# Reverse proxies in front of the app that append to X-Forwarded-For. 0: the header is ignored
# and the socket's address is the client's, so a forged header cannot dodge a rate limit.
# apps.accounts.client_ip reads it; DRF's own lookup follows it too.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
# Failed sign-ins (login page, admin, API token) allowed per account name and per client address
# within LOGIN_LOCKOUT_SECONDS of the first; past either, sign-in is refused before any hashing.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
AUTHENTICATION_BACKENDS = [
    "apps.accounts.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# /metrics, /api/schema/ and /api/docs/: open in development; in production only for ML admins
# (staff included) and for clients in these networks (e.g. the Prometheus scraper's).
OPS_ENDPOINTS_PUBLIC = env.bool("OPS_ENDPOINTS_PUBLIC", default=not PRODUCTION)
METRICS_ALLOW_NETWORKS = env.list("METRICS_ALLOW_NETWORKS", default=[])
for _network in METRICS_ALLOW_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"METRICS_ALLOW_NETWORKS: {exc}") from exc

# --- ML -----------------------------------------------------------------------------------------
ML_MODEL_DIR = Path(env.str("ML_MODEL_DIR", default=str(DATA_DIR / "models")))
ML_INDEX_DIR = Path(env.str("ML_INDEX_DIR", default=str(DATA_DIR / "indices")))
ML_DEVICE = env.str("ML_DEVICE", default="auto")
ML_EMBED_BATCH_SIZE = env.int("ML_EMBED_BATCH_SIZE", default=64)
# Threads each model call of a web process uses (torch, ONNX Runtime and numpy's OpenBLAS).
# Unset: 1, or every core where the web process also trains (the in-process worker); 0: the
# libraries' defaults, every core (config/model_threads.py).
ML_MODEL_THREADS = env.int("ML_MODEL_THREADS", default=None)
if ML_MODEL_THREADS is not None and ML_MODEL_THREADS < 0:
    raise ImproperlyConfigured("ML_MODEL_THREADS must be 0 or more.")
# Micro-batching (apps/mlops/batching.py): concurrent requests for one model in one process
# share a forward pass; the first waits at most ML_BATCH_MAX_WAIT_MS for company, a batch holds
# at most ML_BATCH_MAX_SIZE texts, and a caller gives up after ML_BATCH_TIMEOUT_S.
ML_BATCHING = env.bool("ML_BATCHING", default=True)
ML_BATCH_MAX_SIZE = env.int("ML_BATCH_MAX_SIZE", default=32)
ML_BATCH_MAX_WAIT_MS = env.float("ML_BATCH_MAX_WAIT_MS", default=5.0)
ML_BATCH_TIMEOUT_S = env.float("ML_BATCH_TIMEOUT_S", default=60.0)
# Overload (apps/mlops/waiting.py, docs/serving.md): past ML_MAX_WAITING_REQUESTS requests on
# model paths in one process, new ones get a 503 with Retry-After (0: never refused); a model
# wait hands its pooled database connection back (off only to measure the old behaviour).
ML_MAX_WAITING_REQUESTS = env.int("ML_MAX_WAITING_REQUESTS", default=100)
DATABASE_POOL_RELEASE_ON_WAIT = env.bool("DATABASE_POOL_RELEASE_ON_WAIT", default=True)
if ML_BATCH_MAX_SIZE < 1 or ML_BATCH_MAX_WAIT_MS < 0 or ML_BATCH_TIMEOUT_S <= 0:
    raise ImproperlyConfigured(
        "ML_BATCH_MAX_SIZE must be at least 1, ML_BATCH_MAX_WAIT_MS 0 or more and "
        "ML_BATCH_TIMEOUT_S above 0."
    )
if ML_MAX_WAITING_REQUESTS < 0:
    raise ImproperlyConfigured("ML_MAX_WAITING_REQUESTS must be 0 (no bound) or more.")
# Questions one client address may ask the ask API per minute (a load bench behind one address
# raises it; the default keeps an anonymous client from spending the models' time).
SUPPORT_ASK_RATE = env.str("SUPPORT_ASK_RATE", default="30/min")
# The knowledge base (its slug) the storefront's chat widget answers from; demo_setup makes it.
SHOP_SUPPORT_KB = env.str("SHOP_SUPPORT_KB", default="shop")
# How often pages imported from the web (by URL, crawl or sitemap) are fetched again, with a
# conditional GET; only pages whose content changed are re-chunked and re-embedded.
SUPPORT_WEB_RESYNC_S = env.int("SUPPORT_WEB_RESYNC_S", default=24 * 3600)
# The most pages one site crawl or sitemap import may fetch (a crawl asks for fewer).
SUPPORT_CRAWL_MAX_PAGES = env.int("SUPPORT_CRAWL_MAX_PAGES", default=500)
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_LOCAL_GGUF = env.bool("LLM_LOCAL_GGUF", default=True)

# --- Outbound fetches (feeds, knowledge-base URL imports, LLM endpoints: apps/core/outbound.py) --
# User-given addresses may only reach public IPs; on premise, name the internal hosts (".corp"
# for a domain) or CIDR ranges they may reach. A bad range stops the start, not a later fetch.
OUTBOUND_ALLOW_HOSTS = env.list("OUTBOUND_ALLOW_HOSTS", default=[])
OUTBOUND_ALLOW_NETWORKS = [
    str(ipaddress.ip_network(n, strict=False))
    for n in env.list("OUTBOUND_ALLOW_NETWORKS", default=[])
]
# How often each process writes its prediction statistics to the database (monitoring pages).
ML_MONITOR_FLUSH_SECONDS = env.float("ML_MONITOR_FLUSH_SECONDS", default=15)
# Extra modules imported at start-up that register model kinds of your own.
ML_KIND_MODULES = env.list("ML_KIND_MODULES", default=[])
# HMAC key that signs exported model archives and checks imported ones; servers that trade
# archives share it. Unset: a key derived from SECRET_KEY (archives move only between servers
# with the same SECRET_KEY), with a warning in the log (docs/mlops.md).
ML_ARCHIVE_KEY = env.str("ML_ARCHIVE_KEY", default="")

# --- Serving forms (issue 19, docs/mlops.md "Serving forms") ---
# Promoting a classifier version that has no serving forms yet queues their export and measure.
ML_FORMS_ON_PROMOTE = env.bool("ML_FORMS_ON_PROMOTE", default=True)

# --- Security (production) ----------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Personal data (e-mail, phone, card, IBAN, account numbers) is masked in every log line.
    "filters": {"pii": {"()": "apps.core.pii.PiiMaskingFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
