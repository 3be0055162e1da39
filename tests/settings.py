"""Settings for the test suite: the production settings, on this machine's real PostgreSQL and
Redis unless DATABASE_URL / REDIS_URL say otherwise."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/costledger")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# The ECB collector needs no key, so its default URL would set it up (and reach the network):
# off unless a test sets it (the Celery worker test points it at the fake providers).
os.environ.setdefault("ECB_RATES_URL", "")

from costledger.settings import *  # noqa: E402, F403
from costledger.settings import STORAGES  # noqa: E402

# The manifest storage needs collectstatic; the tests render templates without it.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per pytest process: runs side by side (a developer's and an editor's) must
# not create and drop the same database under each other.
DATABASES["default"]["TEST"] = {"NAME": f"test_costledger_{os.getpid()}"}  # noqa: F405

# The suite sends events dated from 2000 (the ledger's first day) to test the ingest's limits;
# the retention tests (tests/usage/test_retention.py) set a retention period themselves.
USAGE_EVENTS_RETENTION_DAYS = 0
