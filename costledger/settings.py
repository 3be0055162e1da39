"""Settings, all from the environment (12-factor). Every variable is documented in .env.example.

With DEBUG off (the default) SECRET_KEY and ALLOWED_HOSTS must be set, or start-up stops with a
message saying so: a production deployment must never run on a development key.
"""

import re
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from costledger.money import is_currency

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _required_in_production(name: str, value):
    if not DEBUG and not value:
        raise ImproperlyConfigured(
            f"{name} is not set. With DEBUG off (production) it must come from the environment; "
            f"set {name} (see .env.example), or set DEBUG=1 for local development."
        )
    return value


SECRET_KEY = _required_in_production("SECRET_KEY", env.str("SECRET_KEY", default=""))
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "insecure-development-key-never-used-with-debug-off"

ALLOWED_HOSTS = _required_in_production("ALLOWED_HOSTS", env.list("ALLOWED_HOSTS", default=[]))
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "costledger.apps.CostledgerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "django_celery_beat",
    "costledger",
    "usage",
    "collectors",
    "billing",
    "reports",
    "demo",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "costledger.middleware.UnstorableQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "costledger.urls"

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

WSGI_APPLICATION = "costledger.wsgi.application"

# SQLite for the quick start only; production and the tests use PostgreSQL (DATABASE_URL).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The next-day counts' unique constraints (nulls not distinct) are PostgreSQL's; the quick
    # start on SQLite neither keeps nor reads those tables, so its warning is noise there.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["costledger.formats"]  # ISO dates on every page
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# An invoice's history is for reading: restoring an old version would bypass the invoice
# services and permissions (django-simple-history lets viewers post its revert form).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Raw usage events are kept this many days, then pruned (`manage.py prune_usage_events`, daily
# by beat); their sums stay. Older events are refused at ingest. 0 keeps them forever.
USAGE_EVENTS_RETENTION_DAYS = env.int("USAGE_EVENTS_RETENTION_DAYS", default=400)
if USAGE_EVENTS_RETENTION_DAYS and not 31 <= USAGE_EVENTS_RETENTION_DAYS <= 36_500:
    raise ImproperlyConfigured(
        f"USAGE_EVENTS_RETENTION_DAYS={USAGE_EVENTS_RETENTION_DAYS} is not a retention: set it to "
        "a number of days from 31 (re-pricing a recent day needs its raw events) to 36500, or 0 "
        "to keep raw events forever."
    )

# Event tags whose values get a daily rollup (cost per conversation, per agent, per feature).
LLM_TAG_KEYS = env.list("LLM_TAG_KEYS", default=["agent", "feature", "conversation_id"])

# The ledger
REPORTING_CURRENCY = env.str("REPORTING_CURRENCY", default="USD").strip().upper()
if not is_currency(REPORTING_CURRENCY):
    raise ImproperlyConfigured(
        f"REPORTING_CURRENCY={REPORTING_CURRENCY!r} is not an ISO 4217 currency code; "
        "set it to the three letters of the currency your reports use, e.g. USD or EUR."
    )

# The LLM reconciliation highlights a provider's month whose computed cost differs from what it
# billed by more than this percentage of the bill (the page's ?tolerance= overrides it).
_tolerance = env.str("RECONCILIATION_TOLERANCE_PERCENT", default="5").strip()
if not re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,2})?", _tolerance) or Decimal(_tolerance) > 100:
    raise ImproperlyConfigured(
        f"RECONCILIATION_TOLERANCE_PERCENT={_tolerance!r} is not a percentage: set it to a "
        "number from 0 to 100 with at most two decimals, e.g. 5 or 2.5."
    )
RECONCILIATION_TOLERANCE_PERCENT = Decimal(_tolerance)

# Outside crons and scripts authenticate with `Authorization: Bearer $SYNC_API_TOKEN`.
# Unset: only staff sessions may call the API.
SYNC_API_TOKEN = env.str("SYNC_API_TOKEN", default="").strip()

# --- Alerts ------------------------------------------------------------------------------------
# Where alert emails go out: an EMAIL_URL as django-environ reads it (smtp://user:password@host:587
# with TLS via smtp+tls://, or consolemail:// to print them, the default). The links in alerts
# start with SITE_URL, the address people open the admin at.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25) or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="costledger@localhost")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").strip()

# --- Customer billing --------------------------------------------------------------------------
# Who issues the invoices (printed on them), where VAT rules start from (the seller's country,
# ISO 3166), and the prefix of invoice numbers: <prefix>-<year>-<6 digits>.
BILLING_SELLER_COUNTRY = env.str("BILLING_SELLER_COUNTRY", default="FR").strip().upper()
BILLING_INVOICE_PREFIX = env.str("BILLING_INVOICE_PREFIX", default="INV").strip()
BILLING_SELLER_NAME = env.str("BILLING_SELLER_NAME", default="Your company").strip()
BILLING_SELLER_ADDRESS = env.str("BILLING_SELLER_ADDRESS", default="").replace("\\n", "\n")
BILLING_SELLER_VAT_NUMBER = env.str("BILLING_SELLER_VAT_NUMBER", default="").strip()
if not re.fullmatch(r"[A-Z]{2}", BILLING_SELLER_COUNTRY):
    raise ImproperlyConfigured(
        f"BILLING_SELLER_COUNTRY={BILLING_SELLER_COUNTRY!r} is not a country code: set it to the "
        "two letters (ISO 3166) of the country your company invoices from, e.g. FR."
    )
if not re.fullmatch(r"[A-Z0-9]{1,10}", BILLING_INVOICE_PREFIX):
    raise ImproperlyConfigured(
        f"BILLING_INVOICE_PREFIX={BILLING_INVOICE_PREFIX!r} cannot start invoice numbers: use 1 "
        "to 10 capital letters or digits, e.g. INV."
    )
# Margin per customer: how the shared costs (infrastructure, communications, payments) of a
# month are shared out among customers: by share of LLM cost, of requests, or evenly.
COST_ALLOCATION_RULE = env.str("COST_ALLOCATION_RULE", default="llm_cost").strip().lower()
if COST_ALLOCATION_RULE not in ("llm_cost", "requests", "even"):
    raise ImproperlyConfigured(
        f"COST_ALLOCATION_RULE={COST_ALLOCATION_RULE!r} is not a rule: use llm_cost (share of LLM "
        "cost, the default), requests (share of requests) or even (evenly per active customer)."
    )

# Celery: Redis is the broker. Without REDIS_URL (the quick start) tasks run in-process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="costledger")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The Stripe SDK logs every request at INFO; its failures reach the sync run anyway.
    # urllib3 logs each request's path at DEBUG: a webhook's path is its secret. WeasyPrint
    # logs each step of every invoice PDF at INFO; fontTools each font it subsets.
    "loggers": {
        "stripe": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Collectors ---------------------------------------------------------------------------------
# Credentials use the names operators already have (stripped: a secret mounted from a file often
# ends with a newline); every base URL can be pointed elsewhere
# (a local fake server, a proxy, a regional endpoint). A collector whose credentials are unset
# is skipped, with the reason naming the variable.
DO_API_TOKEN = env.str("DO_API_TOKEN", default="").strip()
DO_API_URL = env.str("DO_API_URL", default="https://api.digitalocean.com")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="").strip()
STRIPE_API_URL = env.str("STRIPE_API_URL", default="https://api.stripe.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="").strip()
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="").strip()
TWILIO_API_URL = env.str("TWILIO_API_URL", default="https://api.twilio.com")
SUPABASE_URL = env.str("SUPABASE_URL", default="").strip()
SUPABASE_KEY = env.str("SUPABASE_KEY", default="").strip()
SUPABASE_ACCESS_TOKEN = env.str("SUPABASE_ACCESS_TOKEN", default="").strip()
SUPABASE_PROJECT_REF = env.str("SUPABASE_PROJECT_REF", default="").strip()
SUPABASE_API_URL = env.str("SUPABASE_API_URL", default="https://api.supabase.com")
WEAVIATE_URL = env.str("WEAVIATE_URL", default="").strip()
WEAVIATE_API_KEY = env.str("WEAVIATE_API_KEY", default="").strip()
PROMETHEUS_URL = env.str("PROMETHEUS_URL", default="").strip()
PROMETHEUS_BEARER_TOKEN = env.str("PROMETHEUS_BEARER_TOKEN", default="").strip()
# Estimates for providers without a billing API: JSON objects merged over the documented
# defaults in collectors/sources/supabase.py and weaviate.py (amounts as strings). Read as text
# here and parsed with Decimal there, so no price passes through float.
SUPABASE_PRICES = env.str("SUPABASE_PRICES", default="").strip()
WEAVIATE_PRICES = env.str("WEAVIATE_PRICES", default="").strip()
# LLM metrics in Prometheus: a preset of metric and label names ("litellm" or "otel") and a
# JSON object overriding single names (see collectors/sources/llm_prometheus.py).
LLM_PROMETHEUS_PRESET = env.str("LLM_PROMETHEUS_PRESET", default="litellm")
LLM_PROMETHEUS_METRICS = env.str("LLM_PROMETHEUS_METRICS", default="").strip()
OPENAI_ADMIN_KEY = env.str("OPENAI_ADMIN_KEY", default="").strip()
OPENAI_API_URL = env.str("OPENAI_API_URL", default="https://api.openai.com")
ANTHROPIC_ADMIN_KEY = env.str("ANTHROPIC_ADMIN_KEY", default="").strip()
ANTHROPIC_API_URL = env.str("ANTHROPIC_API_URL", default="https://api.anthropic.com")
OPENROUTER_API_KEY = env.str("OPENROUTER_API_KEY", default="").strip()
OPENROUTER_API_URL = env.str("OPENROUTER_API_URL", default="https://openrouter.ai/api")
PAYPAL_CLIENT_ID = env.str("PAYPAL_CLIENT_ID", default="").strip()
PAYPAL_CLIENT_SECRET = env.str("PAYPAL_CLIENT_SECRET", default="").strip()
PAYPAL_API_URL = env.str("PAYPAL_API_URL", default="https://api-m.paypal.com")
# The European Central Bank's reference rates: public, no key. Empty turns the collector off.
ECB_RATES_URL = env.str(
    "ECB_RATES_URL",
    default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml",
).strip()

# The one HTTP client of the collectors: per-request timeout, bounded retries of timeouts, 5xx
# and 429 (honouring Retry-After, capped) with exponential backoff.
COLLECTOR_HTTP_TIMEOUT = env.float("COLLECTOR_HTTP_TIMEOUT", default=30.0)
COLLECTOR_HTTP_RETRIES = env.int("COLLECTOR_HTTP_RETRIES", default=3)
COLLECTOR_HTTP_BACKOFF = env.float("COLLECTOR_HTTP_BACKOFF", default=1.0)
COLLECTOR_HTTP_MAX_WAIT = env.float("COLLECTOR_HTTP_MAX_WAIT", default=60.0)
# A collector that has not succeeded for this many hours is flagged on the health page.
COLLECTOR_STALE_HOURS = env.int("COLLECTOR_STALE_HOURS", default=26)
# How long one collector's lock is held at most: a crashed worker's lock expires after this.
COLLECTOR_LOCK_SECONDS = env.int("COLLECTOR_LOCK_SECONDS", default=1800)
