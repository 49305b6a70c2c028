"""Test settings: eager Celery, in-memory mail and fast hashing unless a test asks otherwise."""

from pathlib import Path

from project.settings.base import *  # noqa: F403
from project.settings.base import DATABASES, SECRET_KEY, VAR_DIR

SECRET_KEY = SECRET_KEY or "reformflow-test-key"  # noqa: S105
DEBUG = False
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = str(VAR_DIR / "test-media")
# The suite renders pages without collecting static files first: plain names, no manifest.
# The browser tests collect once into var/test-static and serve hashed, compressed files
# through whitenoise, as production does (tests/browser/conftest.py), to weigh the pages.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test starts from an empty cache, whatever REDIS_URL CI sets; django-axes stays on
# (it keeps its counts in the database, which each test rolls back).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# whitenoise warns on every request when STATIC_ROOT is missing; tests serve no static files.
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# The router's tests read through a `replica` alias that mirrors the test database; every
# other test reads from the primary alone, as without DATABASE_REPLICA_URL.
DATABASES.setdefault("replica", {**DATABASES["default"]})
DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
REPLICA_READS = False
