"""Settings come from the environment: embedded defaults, service URLs, production refusals."""

import importlib
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "EVIDENCE_MAX_BYTES",
    "SECRET_KEY_FALLBACKS",
)


def _load(module: str, monkeypatch, **environ):
    for name in SERVICE_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    # Import fresh copies so the real settings of this test run stay untouched.
    for name in [m for m in sys.modules if m.startswith("project.settings.")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module(module)


def test_embedded_default_needs_no_server(monkeypatch):
    local = _load("project.settings.local", monkeypatch)
    assert local.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert local.CELERY_BROKER_URL == "filesystem://"
    assert local.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"
    assert local.EMAIL_FILE_PATH.endswith("outbox")


def test_service_urls_switch_to_postgres_redis_and_smtp(monkeypatch):
    local = _load(
        "project.settings.local",
        monkeypatch,
        DATABASE_URL="postgres://rf:secret@db.example:5433/reformflow",
        REDIS_URL="redis://cache.example:6380/2",
        EMAIL_URL="smtp://mailer:pw@mail.example:2525",
        EVIDENCE_MAX_BYTES="1234",
    )
    db = local.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "db.example",
        5433,
        "reformflow",
        "rf",
    )
    assert local.CELERY_BROKER_URL == "redis://cache.example:6380/2"
    assert local.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (local.EMAIL_HOST, local.EMAIL_PORT) == ("mail.example", 2525)
    assert local.EVIDENCE_MAX_BYTES == 1234


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_required_settings(monkeypatch, missing):
    environ = {
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "reformflow.example",
        "DATABASE_URL": "postgres://rf@db/reformflow",
    }
    environ.pop(missing)
    with pytest.raises(ImproperlyConfigured, match=missing):
        _load("project.settings.production", monkeypatch, **environ)


def test_production_reads_hosts_and_hardens_cookies(monkeypatch):
    production = _load(
        "project.settings.production",
        monkeypatch,
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="a.example, b.example",
        DATABASE_URL="postgres://rf@db/reformflow",
    )
    assert production.ALLOWED_HOSTS == ["a.example", "b.example"]
    assert production.DEBUG is False and production.ALLOW_DEMO_SEED is False
    assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE


def test_production_refuses_the_example_secret_key(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="long random"):
        _load(
            "project.settings.production",
            monkeypatch,
            SECRET_KEY="change-me",
            ALLOWED_HOSTS="a.example",
            DATABASE_URL="postgres://rf@db/reformflow",
        )


def test_the_cache_is_shared_by_processes_redis_or_a_database_table(monkeypatch):
    embedded = _load("project.settings.local", monkeypatch)
    assert embedded.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"

    with_redis = _load("project.settings.local", monkeypatch, REDIS_URL="redis://cache:6379/1")
    assert with_redis.CACHES["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache:6379/1",
    }


def test_production_cookies_are_secure_httponly_and_samesite(monkeypatch):
    production = _load(
        "project.settings.production",
        monkeypatch,
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="a.example",
        DATABASE_URL="postgres://rf@db/reformflow",
        SECRET_KEY_FALLBACKS="old-key-one,old-key-two",
    )
    for cookie in ("SESSION", "CSRF"):
        assert getattr(production, f"{cookie}_COOKIE_SECURE") is True
        assert getattr(production, f"{cookie}_COOKIE_HTTPONLY") is True
        assert getattr(production, f"{cookie}_COOKIE_SAMESITE") == "Lax"
    assert production.SECRET_KEY_FALLBACKS == ["old-key-one", "old-key-two"]
    assert production.SECURE_HSTS_SECONDS >= 31536000
