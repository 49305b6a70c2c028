"""Production: every secret and host comes from the environment, or the process refuses to start."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.base import *  # noqa: F403
from project.settings.base import DATABASE_REPLICA_URL, env, pooled, replica_database


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production")
    return value


SECRET_KEY = _required("SECRET_KEY")
if SECRET_KEY in {"change-me", "changeme"} or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be a long random value in production")
ALLOWED_HOSTS = [host.strip() for host in _required("ALLOWED_HOSTS").split(",") if host.strip()]
DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
pooled(DATABASES["default"])
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(
        DATABASE_REPLICA_URL, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"]
    )
DEBUG = False
ALLOW_DEMO_SEED = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes inside the cluster speak plain http to the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Forms carry the token in a hidden field and no script reads the cookie, so it can be HttpOnly.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Rotate SECRET_KEY without logging everyone out: put the old key here for a session's life.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
