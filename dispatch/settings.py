"""Settings of Liandong, read once from the environment (see README "Configuration").

Two profiles, chosen by environment variables alone:

- embedded (default): SQLite, in-memory channel layer, Celery worker and beat run as threads of the
  serving process on kombu's in-memory transport. Nothing to install but Python.
- services: ``REDIS_URL`` set (and normally ``DATABASE_URL=postgres://...``): Redis is the Celery broker
  and the channel layer; ``celery -A dispatch worker`` and ``celery -A dispatch beat`` run separately.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # optional, never required

DEBUG = env.bool("DEBUG", default=False)
# HTTPS=true: served over TLS (directly or behind a proxy). Turns on the production security settings below;
# then SECRET_KEY must come from the environment.
HTTPS = env.bool("HTTPS", default=False)
if HTTPS and "SECRET_KEY" not in env.ENVIRON:
    raise ImproperlyConfigured("HTTPS=true needs SECRET_KEY in the environment")
SECRET_KEY = env.str("SECRET_KEY", default="insecure-liandong-demo-key-change-me-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = HTTPS
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Proxy headers are trusted only when the deployment says a proxy sets them.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
# How many reverse proxies in front of the server append to X-Forwarded-For. 0 (default): the header is ignored
# and the client is the peer address; N: the client is the N-th address from the right (what the outermost
# trusted proxy saw), so that a client cannot pick its own rate-limit bucket by sending the header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=1024 * 1024)  # larger bodies: 400

VAR_DIR = Path(env.str("LIANDONG_VAR_DIR", default=str(BASE_DIR / "var")))
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and (_xdist_worker := env.str("PYTEST_XDIST_WORKER", default="")):
    # The test suite runs in parallel (pytest-xdist, `make test`): worker gwN uses Redis database (n - N) of
    # REDIS_URL's database n, so that one worker's cache flush, channel groups and queues never reach another.
    _url = urlsplit(REDIS_URL)
    _db = (int(_url.path.strip("/") or 0) - int(_xdist_worker.removeprefix("gw"))) % 16
    REDIS_URL = _url._replace(path=f"/{_db}").geturl()
PII_KEYS = env.list("PII_KEYS", default=[])  # Fernet keys, newest first (dispatch/core/crypto.py)
# Reporters' personal data is erased this many days after the incident closed, unless a retention rule (admin,
# privacy.RetentionRule) says otherwise for a source or an event type; sooner for a confidential report.
PII_RETENTION_DAYS = env.int("PII_RETENTION_DAYS", default=180)
PII_RETENTION_CONFIDENTIAL_DAYS = env.int("PII_RETENTION_CONFIDENTIAL_DAYS", default=30)
PII_RETENTION_BATCH = env.int("PII_RETENTION_BATCH", default=500)  # candidates read per query
PROFILE = "services" if REDIS_URL else "embedded"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # people's API tokens, hashed and expiring (identity/: the model is identity.DeviceToken)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "dispatch",
    "workflows",
    "departments",
    "plans",
    "analytics",  # facts and figures from the timeline (issue 18): after the apps whose changes it subscribes to
    "public",  # tracking page, feedback (回访) and reopen requests (issue 19)
    "attachments",  # photos as evidence on incidents and work orders (issue 19)
    "identity",  # API tokens per device (issue 21)
    "privacy",  # retention policy and erasure of citizens' personal data (issue 21)
    "axes",  # locked accounts after repeated failed sign-ins (issue 21)
    "django_otp",  # a second factor at sign-in (issue 21): identity/services/mfa.py
    "django_otp.plugins.otp_totp",  # authenticator apps (TOTP, RFC 6238)
    "django_otp.plugins.otp_static",  # recovery codes, each good once
    "benchmarks",  # the surge benchmark (manage.py storm); its endpoint is routed only with BENCHMARK_ENDPOINTS
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files (admin, API docs)
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every page (below), not on static files
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "identity.middleware.SessionLifetimeMiddleware",  # idle and absolute session lifetimes (identity/services/sessions.py)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # a sign-in that locked the account is answered by AXES_LOCKOUT_CALLABLE
]

ROOT_URLCONF = "dispatch.urls"
ASGI_APPLICATION = "dispatch.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.i18n",
                "dispatch.web.context.nav",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'liandong.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions remove "database is locked" under concurrent writers; WAL cuts tail latency
    # (measured, see ../shared/DESIGN-NOTES.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str("TEST_SQLITE_NAME", default="") or None
elif env.bool("DB_POOL", default=False):
    # The ASGI server (dispatch/asgi.py turns this on) runs each request's sync code in a thread of its own, so
    # persistent connections would pile up one per thread until PostgreSQL refuses clients (measured: 1,000
    # concurrent requests -> "too many clients already"). A bounded psycopg pool per process instead: requests
    # wait up to DB_POOL_TIMEOUT seconds for one of DB_POOL_MAX_SIZE connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks a connection before lending it (an empty query); the first dead one renews them all
    # (dispatch/runtime/dbpool.py). After a PostgreSQL restart every pooled connection is dead: without the check
    # each answered one request with a 503 (six reports after the connections were cut: six 503s), with
    # psycopg-pool's own check a request waited 15 s.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=60.0),
    }
else:
    # Celery workers (one thread per process) and commands keep their connection between tasks.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# A PostgreSQL streaming replica of DATABASE_URL's database: analytics and exports read from it (dispatch/core/
# replica.py; README "Analytics"). Every session on it is read-only; writes and migrations never go there.
READ_REPLICA_URL = env.str("READ_REPLICA_URL", default="")
if READ_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(READ_REPLICA_URL)
    if not all(DATABASES[a]["ENGINE"] == "django.db.backends.postgresql" for a in ("default", "replica")):
        raise ImproperlyConfigured(
            "READ_REPLICA_URL is a PostgreSQL replica of a PostgreSQL DATABASE_URL (postgres://...); unset it otherwise"
        )
    _options = DATABASES["replica"].setdefault("OPTIONS", {})
    _options["options"] = f'{_options.get("options", "")} -c default_transaction_read_only=on'.strip()
    # No pool: the replica serves the few analytics and export requests. In the ASGI server (DB_POOL) each such
    # request opens its connection and closes it at its end, as persistent connections would pile up one per thread.
    _pooled = "pool" in DATABASES["default"].get("OPTIONS", {})
    DATABASES["replica"]["CONN_MAX_AGE"] = 0 if _pooled else DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # tests read the test database (see reading_db)
    DATABASE_ROUTERS = ["dispatch.core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "dispatch.User"
# Passwords (issue 21): Django's validators, checked wherever a password is set (admin, add_user, seed_demo, the
# changepassword command); at least PASSWORD_MIN_LENGTH characters, not a common one, not all digits, not like the
# user's name.
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=10)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Locked accounts (django-axes): LOGIN_FAILURE_LIMIT failed sign-ins (page, API token, admin) lock the account
# whatever the address, and the address whatever the account, for LOGIN_LOCKOUT_MINUTES after the last failure, or
# until an administrator clears it (admin "Access attempts", or manage.py axes_reset_username). A success clears
# the account's count. Answered 429, on the login page and on POST /api/auth/token/ (dispatch/web/auth_views.py).
AUTHENTICATION_BACKENDS = ["identity.backends.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "identity.backends.lockout_address"  # TRUSTED_PROXY_COUNT, as the rate limits
AXES_LOCKOUT_CALLABLE = "dispatch.web.auth_views.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are audit records already (logger liandong.audit)
AXES_VERBOSE = False
# Page sessions (identity/services/sessions.py): signed out SESSION_IDLE_MINUTES after the last activity, and
# SESSION_MAX_HOURS after signing in; the pages warn SESSION_WARN_SECONDS before and keep unsaved text.
SESSION_IDLE_MINUTES = env.float("SESSION_IDLE_MINUTES", default=30)
SESSION_MAX_HOURS = env.float("SESSION_MAX_HOURS", default=12)
SESSION_WARN_SECONDS = env.int("SESSION_WARN_SECONDS", default=120)
SESSION_COOKIE_AGE = int(SESSION_MAX_HOURS * 3600)  # the cookie and the stored session never outlive the maximum
# A second factor (identity/services/mfa.py, django-otp): with MFA_REQUIRED (the default) every user whose role is in
# MFA_ROLES signs in with a code from an authenticator app (TOTP) or a recovery code, on the pages and on
# POST /api/auth/token/, and enrols at their first sign-in. Roles left out of MFA_ROLES (department staff on shared
# phones, by default staff and lead) may turn it on for themselves; whoever has turned it on is always asked.
MFA_REQUIRED = env.bool("MFA_REQUIRED", default=True)
MFA_ROLES = env.list("MFA_ROLES", default=["dispatcher", "supervisor", "admin"])
MFA_PENDING_SECONDS = env.int("MFA_PENDING_SECONDS", default=300)  # between the password and the code
MFA_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = "Liandong"  # the name authenticator apps show beside the username
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret or recovery codes
# Wrong codes make the next try wait 1, 2, 4, 8 ... seconds (per device, django-otp's ThrottlingMixin); each also
# counts as a failed sign-in for the lock above.
OTP_TOTP_THROTTLE_FACTOR = OTP_STATIC_THROTTLE_FACTOR = 1
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- I18N -----------------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Photos (attachments/): the file system under VAR_DIR/attachments unless ATTACHMENTS_STORAGE_BACKEND names
    # another backend (storages.backends.s3.S3Storage with django-storages: see the README, "Attachments").
    "attachments": {
        "BACKEND": env.str("ATTACHMENTS_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("ATTACHMENTS_STORAGE_OPTIONS", default={"location": str(VAR_DIR / "attachments")}),
    },
}
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)  # one photo; more -> 400
ATTACHMENTS_PER_INCIDENT = env.int("ATTACHMENTS_PER_INCIDENT", default=20)  # more -> 409
ATTACHMENTS_PER_WORK_ORDER = env.int("ATTACHMENTS_PER_WORK_ORDER", default=10)
ATTACHMENT_SIGNED_URL_SECONDS = env.int("ATTACHMENT_SIGNED_URL_SECONDS", default=7 * 24 * 3600)  # Open311 media_url
WHITENOISE_USE_FINDERS = True  # the demo serves static files without a collectstatic step
WHITENOISE_AUTOREFRESH = DEBUG  # pick up edited static files while developing

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dispatch.rest.authentication.ApiClientAuthentication",  # department systems' keys (ldk_...)
        "dispatch.rest.authentication.DeviceTokenAuthentication",  # people's tokens (ldt_...)
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "dispatch.rest.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dispatch.rest.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["dispatch.runtime.throttling.UserRateLimit"],
    # The API speaks JSON only (the workflow endpoint adds YAML); form bodies get 415.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Liandong emergency dispatch API",
    "DESCRIPTION": "Cross-department emergency dispatch engine. See README.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets used by several fields get one name each (a unit's status and its history's "previous"; the
    # incident's source and a unit change's source).
    "ENUM_NAME_OVERRIDES": {
        "UnitStatusEnum": "departments.models.Unit.Status",
        "UnitChangeSourceEnum": "departments.models.UnitStatusChange.Source",
        "IncidentSourceEnum": "dispatch.models.incidents.Source",
        "ActivationSourceEnum": "plans.models.Activation.Source",
        "PlanLevelEnum": "plans.models.LEVEL_CHOICES",
        "ActivationTaskStateEnum": "plans.models.TASK_API_STATES",
        "MajorEventStateEnum": "dispatch.models.major_events.MajorEvent.State",
        "ReturnReasonEnum": "departments.models.WorkOrder.ReturnReason",
        "PauseReasonEnum": "departments.models.WorkOrder.PauseReason",
        "ReturnDecisionEnum": "departments.services.returns.DECISIONS",
        "ExtensionDecisionEnum": "departments.services.extensions.DECISIONS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dispatch.rest.schema.add_error_responses",  # the error shape of every operation
    ],
}

# --- Cache (rate limits) ----------------------------------------------------------------------------
# "local": this process's own memory; rate limits fall back to it while Redis is unreachable.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                    # one pool per process, not one per request (dispatch/cache.py)
                    "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1,
                                "pool_class": "dispatch.runtime.cache.SharedConnectionPool"}},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CACHES["local"] = CACHES["default"]
# Requests per window; counted atomically in the cache (Redis INCR on the services profile).
RATE_LIMITS = {
    "user": env.str("RATE_LIMIT_USER", default="1200/min"),  # per token / session user on the API
    "anon": env.str("RATE_LIMIT_ANON", default="120/min"),  # per client address
    "login": env.str("RATE_LIMIT_LOGIN", default="10/min"),  # per address and username, API and page
    "public_feedback": env.str("RATE_LIMIT_PUBLIC_FEEDBACK", default="10/hour"),  # citizens' feedback, per address
    "public_page": env.str("RATE_LIMIT_PUBLIC_PAGE", default="120/min"),  # /track/ and /public/ pages, per address
}
# Working days (Monday=0 ... Sunday=6): a reopen request (public/) is decided by the next working day, same time.
WORKING_DAYS = env.list("WORKING_DAYS", cast=int, default=[0, 1, 2, 3, 4])
# The public page /public/ (public/services/figures.py): the last PUBLIC_WINDOW_DAYS days by creation time, locations
# snapped to a grid of PUBLIC_GRID_METRES, cells (and medians) of fewer than PUBLIC_MIN_CELL reports left out, the
# figures computed at most once per PUBLIC_CACHE_SECONDS (also the pages' Cache-Control max-age).
PUBLIC_WINDOW_DAYS = env.int("PUBLIC_WINDOW_DAYS", default=30)
PUBLIC_GRID_METRES = env.int("PUBLIC_GRID_METRES", default=200)
PUBLIC_MIN_CELL = env.int("PUBLIC_MIN_CELL", default=5)
PUBLIC_CACHE_SECONDS = env.int("PUBLIC_CACHE_SECONDS", default=60)
# HTTP requests run at once per ASGI server process (dispatch/concurrency.py); 0: no limit.
HTTP_CONCURRENCY = env.int("HTTP_CONCURRENCY", default=16)
# GET /metrics: a Prometheus scrape job sends "Authorization: Bearer <METRICS_TOKEN>" (supervisors and admins
# may read it signed in).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Channels -------------------------------------------------------------------------------------
if REDIS_URL:
    # Redis PUBLISH/SUBSCRIBE (channels-redis's pub/sub layer): a group_send is one PUBLISH, and each process's hub
    # (dispatch/live/hub.py) holds one subscription per stream, pushed to it by Redis. The list-based layer cost a
    # Lua script per send and a blocking pop per message and process (profiled: a tenth of the ASGI server's CPU
    # per incident). Both deliver at most once; a message lost (across a Redis reconnect, say) is replayed by seq
    # from the database (dispatch/live/consumers.py).
    # Pub/sub channels belong to the Redis server, not to one of its databases: the prefix carries the database
    # number, so that installations (or test runs) on other databases of one server never hear each other.
    _redis_db = urlsplit(REDIS_URL).path.strip("/") or "0"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": f"liandong.db{_redis_db}."},
        }
    }
else:
    # The in-memory layer is not thread-safe; this subclass hands sends from worker threads to the
    # server's event loop (dispatch/embedded.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "dispatch.runtime.embedded.ThreadSafeInMemoryChannelLayer"}}

# --- Celery ---------------------------------------------------------------------------------------
# Settings that held up under SIGKILL of workers and restarts of Redis (../shared/DESIGN-NOTES.md).
# Correctness never depends on a message surviving in the broker: pending work is an outbox row in the
# database, re-driven by the periodic relay.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Queues by urgency. A worker started without -Q serves all three and, on Redis, always takes from the first
# non-empty one in this order (queue_order_strategy "priority" below): a flood of webhook deliveries never holds
# up routing. Production adds a worker of its own for ``critical`` (-Q critical), so that a slow bulk task in
# every pool child cannot either (deploy/).
CELERY_TASK_QUEUES = (Queue("critical"), Queue("default"), Queue("bulk"))
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # routing jobs, plan activations' follow-up, withdrawals (the outbox), and the deadlines' sweep
    "dispatch.tasks.run_outbox_job_task": {"queue": "critical"},
    "dispatch.tasks.relay_outbox_task": {"queue": "critical"},
    "dispatch.tasks.sweep_deadlines_task": {"queue": "critical"},
    "dispatch.tasks.fire_deadline_task": {"queue": "critical"},
    # to other systems and to the figures: they may wait
    "departments.tasks.deliver_webhooks_task": {"queue": "bulk"},
    "departments.tasks.relay_webhooks_task": {"queue": "bulk"},
    "analytics.tasks.refresh_fact_days_task": {"queue": "bulk"},
}
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 600,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "socket_keepalive": True,
        "retry_on_timeout": True,
        "health_check_interval": 25,
        "socket_connect_timeout": 2,
        "queue_order_strategy": "priority",  # BRPOP over the queues in CELERY_TASK_QUEUES' (or -Q's) order
    }
else:
    # kombu's default 1 s polling added ~0.6 s to every task (DESIGN-NOTES).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.05}

WS_TICKET_SECONDS = env.int("WS_TICKET_SECONDS", default=60)
# A live socket is closed (4401) at most this long after its session, token or key ended (dispatch/live/warden.py).
LIVE_CREDENTIALS_SECONDS = env.float("LIVE_CREDENTIALS_SECONDS", default=30.0)

# People's API tokens (identity/services/tokens.py, django-rest-knox): stored as SHA-512 digests; a token expires
# API_TOKEN_HOURS after its last use (renewed at most once a minute) and API_TOKEN_MAX_HOURS after it was issued.
API_TOKEN_HOURS = env.float("API_TOKEN_HOURS", default=12)
API_TOKEN_MAX_HOURS = env.float("API_TOKEN_MAX_HOURS", default=7 * 24)
KNOX_TOKEN_MODEL = "identity.DeviceToken"
# knox's own migrations make its own token table, which the swapped model never uses and which (referencing the users
# and known to no installed model) would stop PostgreSQL's TRUNCATE of the tables: identity's migrations are enough.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    "TOKEN_PREFIX": "ldt_",  # a person's token; a department system's key starts with ldk_
    "TOKEN_TTL": timedelta(hours=API_TOKEN_HOURS),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(hours=API_TOKEN_MAX_HOURS),
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
}

OUTBOX_RELAY_SECONDS = env.float("OUTBOX_RELAY_SECONDS", default=2.0)
DEADLINE_SWEEP_SECONDS = env.float("DEADLINE_SWEEP_SECONDS", default=2.0)
DEADLINE_SWEEP_STALE_SECONDS = env.float("DEADLINE_SWEEP_STALE_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "dispatch.tasks.relay_outbox_task", "schedule": timedelta(seconds=OUTBOX_RELAY_SECONDS)},
    "sweep-deadlines": {
        "task": "dispatch.tasks.sweep_deadlines_task", "schedule": timedelta(seconds=DEADLINE_SWEEP_SECONDS),
        # a sweep that could not start before the next one is due is pointless: drop it, never pile up
        "options": {"expires": DEADLINE_SWEEP_SECONDS * 5},
    },
}

# Outbox: a claimed job is not handed out again for this long (a worker that died with it frees it then).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=15)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# Routing rules and districts kept per process this long (departments.services.selectors): a change made in another
# process is used within this time; one made in this process at once.
REFERENCE_DATA_SECONDS = env.float("REFERENCE_DATA_SECONDS", default=5.0)

# Department webhooks (departments/services/webhooks.py): failures before a delivery is parked, backoff, timeout.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=2.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=600.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE["relay-webhooks"] = {
    "task": "departments.tasks.relay_webhooks_task", "schedule": timedelta(seconds=OUTBOX_RELAY_SECONDS),
    "options": {"expires": OUTBOX_RELAY_SECONDS * 5},
}
# Unit positions reported by crews' phones: used for distance in routing while younger than this; a report
# more than UNIT_POSITION_MAX_SKEW_SECONDS ahead of the server's clock is refused.
UNIT_POSITION_STALE_SECONDS = env.int("UNIT_POSITION_STALE_SECONDS", default=600)
UNIT_POSITION_MAX_SKEW_SECONDS = env.int("UNIT_POSITION_MAX_SKEW_SECONDS", default=120)
# CAP 1.2 (dispatch/interop/cap/): the <sender> of every alert, and the radius of the circle around an incident.
CAP_SENDER = env.str("CAP_SENDER", default="liandong@example.gov.cn")
CAP_RADIUS_KM = env.float("CAP_RADIUS_KM", default=1.0)

# The map of the console and the wall (dispatch/static/liandong/map.js). MAP_TILE_URL: an XYZ URL template of an
# on-premises tile server ("https://tiles.city.example/{z}/{x}/{y}.png"); empty (default): no tiles, the city's own
# GeoJSON layers on a plain background, so the map needs no network beyond this server.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="")
# The city's offline layers drawn over the districts, in this order: {"code", "path" (a static file) or "url",
# "kind"}; the kind says how it is drawn (roads, rivers, low_points; anything else: plain lines and dots). The
# environment variable MAP_LAYERS, if set, is the same list as JSON. Default: the demo city's.
MAP_LAYERS = env.json("MAP_LAYERS", default=[
    {"code": "roads", "path": "liandong/city/roads.geojson", "kind": "roads"},
    {"code": "rivers", "path": "liandong/city/rivers.geojson", "kind": "rivers"},
    {"code": "low_points", "path": "liandong/city/low_points.geojson", "kind": "low_points"},
])
if not isinstance(MAP_LAYERS, list) or not all(
    isinstance(layer, dict) and layer.get("code") and layer.get("kind") and (layer.get("path") or layer.get("url"))
    for layer in MAP_LAYERS
):
    raise ImproperlyConfigured('MAP_LAYERS must be a list of {"code", "kind", and "path" or "url"}')


def _origin(url: str) -> str | None:
    """The origin of an absolute URL (a tile template's ``{s}`` subdomain becomes ``*``), else None (same server)."""
    parts = urlsplit(url.replace("{s}", "*"))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


# --- Content-Security-Policy (django-csp, on every response that has none of its own) ---------------------------
# Pages show citizens' text and photos: no inline script or style, no eval, nothing from another origin but the
# tile server and the city's map layers when configured. The attachment files keep their stricter policy
# (attachments/api/views.py sets it first; the middleware never replaces a header a view set).
_TILE_ORIGINS = [origin for origin in [_origin(MAP_TILE_URL)] if origin]
_LAYER_ORIGINS = sorted({origin for layer in MAP_LAYERS if (origin := _origin(layer.get("url") or ""))})
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *_TILE_ORIGINS],
        "connect-src": [SELF, *_LAYER_ORIGINS],  # 'self' covers the page's own ws:/wss: (CSP3; tested in chromium)
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "worker-src": [SELF],
        "manifest-src": [SELF],
    },
}

# Analytics (analytics/): a group with fewer incidents than this is flagged small_sample and never ranked.
ANALYTICS_SMALL_SAMPLE = env.int("ANALYTICS_SMALL_SAMPLE", default=20)
# The reports page draws this on-time rate (percent) as the target line of the within-target charts.
ANALYTICS_ON_TIME_TARGET = env.float("ANALYTICS_ON_TIME_TARGET", default=90.0)
# The facts' days as stored columns (analytics/services/columns.py): beat stores again the days whose facts changed,
# every ANALYTICS_REFRESH_SECONDS, at most ANALYTICS_REFRESH_DAYS days a run (a day: 0.1-0.3 s on PostgreSQL).
ANALYTICS_REFRESH_SECONDS = env.int("ANALYTICS_REFRESH_SECONDS", default=60)
ANALYTICS_REFRESH_DAYS = env.int("ANALYTICS_REFRESH_DAYS", default=60)
CELERY_BEAT_SCHEDULE["refresh-fact-days"] = {
    "task": "analytics.tasks.refresh_fact_days_task", "schedule": timedelta(seconds=ANALYTICS_REFRESH_SECONDS),
    "options": {"expires": ANALYTICS_REFRESH_SECONDS},
}
CELERY_BEAT_SCHEDULE["purge-expired-tokens"] = {
    "task": "identity.tasks.purge_expired_tokens_task", "schedule": timedelta(hours=1), "options": {"expires": 3600},
}
CELERY_TASK_ROUTES["identity.tasks.purge_expired_tokens_task"] = {"queue": "bulk"}
# The retention policy (privacy/): nightly, in the city's quiet hours (TIME_ZONE); a missed night is caught up by
# the next, which erases everything due since.
CELERY_TIMEZONE = TIME_ZONE  # crontab schedules in the city's time
CELERY_BEAT_SCHEDULE["pii-retention"] = {
    "task": "privacy.tasks.retention_run_task", "schedule": crontab(hour=3, minute=17),
    "options": {"expires": 6 * 3600},
}
CELERY_TASK_ROUTES["privacy.tasks.retention_run_task"] = {"queue": "bulk"}

# The surge benchmark's bare endpoint (POST /bench/baseline/, benchmarks/): routed only when true. Never in production.
BENCHMARK_ENDPOINTS = env.bool("BENCHMARK_ENDPOINTS", default=False)

# The embedded profile runs Celery inside the serving process (manage.py serve). Tests turn it off.
EMBEDDED_WORKER = PROFILE == "embedded"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "dispatch.runtime.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "audit": {"class": "logging.StreamHandler", "formatter": "json"},
        "audit_table": {"class": "identity.audit.AuditTableHandler"},  # the same records as rows (identity.AuditRecord)
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
        "axes": {"level": "ERROR"},  # each failure and lock is an audit record already (identity/receivers.py)
        "liandong.audit": {"handlers": ["audit", "audit_table"], "level": "INFO", "propagate": False},
    },
}
